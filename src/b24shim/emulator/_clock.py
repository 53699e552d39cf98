"""Clocks: where the portal reads the time.

The portal never calls `time.time()` directly: every timestamp (the `time` block, token expiry,
the leaky bucket, the operating-time buckets) comes from a clock object with a `time()` method, so
tests can move time by hand with `ManualClock`.
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "ManualClock", "SystemClock", "iso_date"]


@runtime_checkable
class Clock(Protocol):
    """Anything with a `time()` method returning unix seconds."""

    def time(self) -> float:
        """Return the current time in unix seconds."""
        ...


class SystemClock:
    """The real wall clock (`time.time`)."""

    def time(self) -> float:
        """Return the current wall-clock time in unix seconds."""
        return time.time()

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that only moves when told to; thread-safe.

    A client under test can share it with the portal: its `sleep()` advances portal time
    instead of waiting, so back-off and token expiry are tested without real sleeps.

    Args:
        start: The initial time in unix seconds.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def time(self) -> float:
        """Return the current (manual) time in unix seconds."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward.

        Args:
            seconds: How far to move; must not be negative.

        Raises:
            ValueError: If `seconds` is negative.
        """
        if seconds < 0:
            raise ValueError(f"ManualClock can only move forward, got advance({seconds!r})")
        with self._lock:
            self._now += float(seconds)

    def sleep(self, seconds: float) -> None:
        """Same as `advance`, so the clock can stand in for `time.sleep`."""
        self.advance(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"ManualClock({self.time()!r})"


def iso_date(timestamp: float) -> str:
    """Format a unix time like PHP `date('c')` (the portal's time zone is UTC here)."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="seconds")
