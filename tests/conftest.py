"""Shared fixtures: a fake portal address, and a clean process-wide state per test."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
import responses
from hypothesis import settings

from b24shim import shim as shim_module
from b24shim.limits import SystemClock

# Hypothesis: "ci" (the default here) runs a few hundred examples per property test, thousands
# in all; "long" is for a run before a release: --hypothesis-profile=long.
settings.register_profile("ci", max_examples=300, deadline=None)
settings.register_profile("long", max_examples=5_000, deadline=None)
settings.load_profile("ci")

WEBHOOK_CODE = "s3cr3tWebh00kC0de"
WEBHOOK = f"https://portal.example.com/rest/7/{WEBHOOK_CODE}/"
BASE = WEBHOOK


class FakeTime:
    """Stands in for the real clock in unit tests: sleeping moves time, and takes no time."""

    def __init__(self) -> None:
        self.offset = 0.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return time.time() + self.offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.offset += max(0.0, seconds)


@pytest.fixture(autouse=True)
def fake_time(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """Unit tests never really sleep: the shim's default clock is made a fake one.

    Integration tests (which talk to a real emulator on real time) keep the real clock.
    """
    fake = FakeTime()
    if "integration" not in request.node.path.parts and "emulator" not in request.node.path.parts:
        monkeypatch.setattr(SystemClock, "time", lambda _self: fake.time())
        monkeypatch.setattr(SystemClock, "sleep", lambda _self, seconds: fake.sleep(seconds))
    return fake


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
