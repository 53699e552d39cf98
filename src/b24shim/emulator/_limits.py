"""The portal's two limits (spec 5): the leaky bucket and the operating-time limit.

Both read time from the portal clock, so tests drive them with `ManualClock.advance`.
"""

from __future__ import annotations

import threading
from collections.abc import Hashable

import attrs

__all__ = ["MIN_RECORDED", "WINDOW", "LeakyBucket", "OperatingLimiter", "OperatingStatus"]

WINDOW = 600.0  # ten one-minute buckets
_BUCKET = 60.0
MIN_RECORDED = 0.1  # calls faster than this are not recorded (spec 5.2)


class LeakyBucket:
    """Request intensity limit, per portal (spec 5.1).

    Each request adds 1 to a counter that drains `rate` per second; a request that would take the
    counter above `burst` is refused (and does not add to it). `rate == 0` disables the bucket.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._level = 0.0
        self._last: float | None = None

    def try_acquire(self, now: float, rate: float, burst: int) -> bool:
        """Count one request at `now`; return False when it must be refused."""
        if rate <= 0:
            return True
        with self._lock:
            if self._last is not None and now > self._last:
                self._level = max(0.0, self._level - (now - self._last) * rate)
            if self._last is None or now > self._last:
                self._last = now
            if self._level + 1 > burst + 1e-9:
                return False
            self._level += 1
            return True

    def refill(self) -> None:
        """Empty the counter: the full burst is available again."""
        with self._lock:
            self._level = 0.0
            self._last = None


@attrs.frozen
class OperatingStatus:
    """Time used by one (auth entity, method) over the last ten minutes.

    Attributes:
        operating: Summed method seconds in the window.
        reset_at: Unix time the oldest recorded bucket expires, or None when nothing is recorded.
    """

    operating: float
    reset_at: int | None


@attrs.define
class _Bucket:
    minute: int
    first_hit: float
    seconds: float


class OperatingLimiter:
    """Operating-time limit per (auth entity, method) (spec 5.2).

    Method time is summed in one-minute buckets; a bucket expires 600 s after its first hit.
    A method whose sum exceeds the limit is blocked until enough buckets expire.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._usage: dict[Hashable, list[_Bucket]] = {}

    def _live(self, key: Hashable, now: float) -> list[_Bucket]:
        buckets = [b for b in self._usage.get(key, []) if b.first_hit + WINDOW > now]
        if buckets:
            self._usage[key] = buckets
        else:
            self._usage.pop(key, None)
        return buckets

    def status(self, key: Hashable, now: float) -> OperatingStatus:
        """Return the time used by `key` in the window ending at `now`."""
        with self._lock:
            buckets = self._live(key, now)
            if not buckets:
                return OperatingStatus(0.0, None)
            total = sum(b.seconds for b in buckets)
            return OperatingStatus(total, int(min(b.first_hit for b in buckets) + WINDOW))

    def is_blocked(self, key: Hashable, now: float, limit: float) -> bool:
        """Whether `key` has used more than `limit` seconds in the window."""
        return self.status(key, now).operating > limit

    def record(self, key: Hashable, now: float, seconds: float) -> None:
        """Add `seconds` of method time at `now` (ignored under 0.1 s)."""
        if seconds < MIN_RECORDED:
            return
        minute = int(now // _BUCKET)
        with self._lock:
            buckets = self._live(key, now)
            for bucket in buckets:
                if bucket.minute == minute:
                    bucket.seconds += seconds
                    return
            buckets.append(_Bucket(minute, now, seconds))
            self._usage[key] = buckets

    def clear(self) -> None:
        """Forget all recorded time."""
        with self._lock:
            self._usage.clear()
