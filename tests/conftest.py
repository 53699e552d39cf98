"""Shared fixtures: a fake portal address, and a clean process-wide state per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
import responses

from b24shim import shim as shim_module

WEBHOOK_CODE = "s3cr3tWebh00kC0de"
WEBHOOK = f"https://portal.example.com/rest/7/{WEBHOOK_CODE}/"
BASE = WEBHOOK


@pytest.fixture(autouse=True)
def _fresh_process_state() -> Iterator[None]:
    shim_module._reset_default_for_tests()
    yield
    shim_module._reset_default_for_tests()


@pytest.fixture
def portal() -> Iterator[responses.RequestsMock]:
    """A `responses` mock that fails the test on any unexpected or unused request."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as s:
        yield s
