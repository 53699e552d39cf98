"""Fixtures for the emulator's own tests: a portal on a manual clock and an HTTP session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from b24shim.emulator import Emulator, ManualClock


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def make_portal(clock: ManualClock) -> Iterator[Callable[..., Emulator]]:
    """Start emulators on the shared manual clock (no leaky bucket unless asked)."""
    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        kwargs.setdefault("rate", 0)
        kwargs.setdefault("clock", clock)
        portal = Emulator(**kwargs).start()
        started.append(portal)
        return portal

    yield make
    for portal in started:
        portal.stop()


@pytest.fixture
def portal(make_portal: Callable[..., Emulator]) -> Emulator:
    return make_portal()


@pytest.fixture
def session() -> Iterator[requests.Session]:
    with requests.Session() as http:
        yield http


@pytest.fixture
def call(session: requests.Session) -> Callable[..., requests.Response]:
    """`call(base, method, **requests_kwargs)`: POST to a webhook or REST base URL."""

    def do(base: str, method: str, **kwargs: Any) -> requests.Response:
        http_method = kwargs.pop("http_method", "POST")
        return session.request(http_method, base + method, timeout=10, **kwargs)

    return do
