"""pytest fixtures that start a local Bitrix24 portal emulator (registered as `pytest11`).

- `b24_emulator`: a running `Emulator` with default settings except `rate=0` (no leaky
  bucket), fresh for each test and stopped after it.
- `b24_emulator_tls`: the same over HTTPS (`Emulator(rate=0, tls=True)`, extra `tls`); give
  clients its `ca_bundle` (a PEM file path) as their CA file.
- `b24_ca_bundle`: the path of `b24_emulator_tls`'s CA file (for `REQUESTS_CA_BUNDLE`,
  `SSL_CERT_FILE`, `verify=`).
- `b24_emulator_factory`: a callable taking `Emulator` keyword arguments and returning a started
  emulator; every emulator it made is stopped at teardown (`tls=True` works too).

The emulator is imported inside the fixtures, so loading the plugin costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from b24shim.emulator import Emulator

__all__ = ["b24_ca_bundle", "b24_emulator", "b24_emulator_factory", "b24_emulator_tls"]


@pytest.fixture
def b24_emulator() -> Iterator[Emulator]:
    """A running portal emulator (no leaky bucket), fresh per test."""
    from b24shim.emulator import Emulator  # noqa: PLC0415 (keep the plugin import-light)

    with Emulator(rate=0) as portal:
        yield portal


@pytest.fixture
def b24_emulator_tls() -> Iterator[Emulator]:
    """A running portal emulator over HTTPS (no leaky bucket), fresh per test."""
    from b24shim.emulator import Emulator  # noqa: PLC0415 (keep the plugin import-light)

    with Emulator(rate=0, tls=True) as portal:
        yield portal


@pytest.fixture
def b24_ca_bundle(b24_emulator_tls: Emulator) -> str:
    """Path of the PEM file with the CA of `b24_emulator_tls`."""
    return b24_emulator_tls.ca_bundle


@pytest.fixture
def b24_emulator_factory() -> Iterator[Callable[..., Emulator]]:
    """A factory of started emulators: `b24_emulator_factory(item_api=False, rate=0)`."""
    from b24shim.emulator import Emulator  # noqa: PLC0415 (keep the plugin import-light)

    started: list[Emulator] = []

    def make(**kwargs: Any) -> Emulator:
        portal = Emulator(**kwargs)
        portal.start()
        started.append(portal)
        return portal

    yield make
    for portal in reversed(started):
        portal.stop()
