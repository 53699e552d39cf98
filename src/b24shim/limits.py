"""Client-side limits: the portal's leaky bucket and its per-method operating time (spec 5).

The portal counts requests in a leaky bucket (2/s with a burst of 50; 5/s with 250 on
Enterprise) and refuses with 503 ``QUERY_LIMIT_EXCEEDED`` above it; it also sums each method's
processing time over 10 minutes and blocks the method with 429 ``OPERATION_TIME_LIMIT`` above
480 s. :class:`LeakyBucket` keeps a client under the first, and :class:`OperatingPacer` makes a
method near the second wait for ``operating_reset_at`` instead of being blocked.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import ClassVar, Protocol

import attrs

from b24shim._validate import number_above, whole_number_from
from b24shim.errors import ConfigError
from b24shim.result import CallTime

__all__ = [
    "PACE_MARGIN",
    "Clock",
    "LeakyBucket",
    "OperatingPacer",
    "RateLimit",
    "RedisLimits",
    "SharedLimits",
    "SystemClock",
    "accounting_of",
    "limits_for",
]


class Clock(Protocol):
    """Where the shim reads the time and waits: wall-clock seconds, as the portal's are."""

    def time(self) -> float:
        """Now, in Unix seconds."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clock."""

    #: Now, in Unix seconds: ``time.time`` itself, not a method calling it (the engine reads
    #: the clock twice per delete, and a Python call costs more than the read).
    time = staticmethod(time.time)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        if seconds > 0:
            time.sleep(seconds)


@attrs.frozen
class RateLimit:
    """A leaky bucket: drains ``rate`` requests a second, holds ``burst``.

    Use :attr:`STANDARD` (2/s, burst 50), :attr:`ENTERPRISE` (5/s, burst 250), or your own.
    """

    rate: float = attrs.field(validator=number_above(0))
    burst: int = attrs.field(validator=whole_number_from(1))

    STANDARD: ClassVar[RateLimit]
    ENTERPRISE: ClassVar[RateLimit]

    @classmethod
    def parse(cls, text: str, *, setting: str = "rate limit") -> RateLimit | None:
        """``standard``, ``enterprise``, ``off`` or ``RATE/BURST`` (e.g. ``2/50``)."""
        value = text.strip().lower()
        if value in ("", "standard"):
            return cls.STANDARD
        if value == "enterprise":
            return cls.ENTERPRISE
        if value in ("off", "none", "0"):
            return None
        rate, _, burst = value.partition("/")
        try:
            return cls(float(rate), int(burst))
        except (ValueError, ConfigError):
            raise ConfigError(
                setting,
                f"{setting} must be standard, enterprise, off or RATE/BURST such as 2/50, "
                f"got {text[:20]!r}",
            ) from None


RateLimit.STANDARD = RateLimit(2.0, 50)
RateLimit.ENTERPRISE = RateLimit(5.0, 250)


_SLACK = 1e-6


class LeakyBucket:
    """The portal's bucket, mirrored on the client and shared by every thread of a shim.

    A request is let through while the bucket, drained at ``rate``, has room for it; otherwise
    the caller waits exactly until it has. The portal drains from when a request *arrives*, the
    client can only see when it is *sent*, and the first request after a pause (a new
    connection, a TLS handshake) travels longer than the next ones: crediting the drain from
    its sending would let the portal's bucket run fuller than this one. So after an idle
    bucket takes a request, the drain counts only from that request's answer
    (:meth:`answered`), by which time the portal has surely counted it; from then on every
    later request arrives no earlier than it was sent, and the portal never holds more than
    this bucket does.
    """

    def __init__(self, limit: RateLimit, clock: Clock) -> None:
        self.limit = limit
        self._clock = clock
        self._level = 0.0
        self._stamp = clock.time()
        self._first_in_flight = False  # an idle bucket took a request not yet answered
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> float:
        """Take room for one request, waiting as needed; returns the seconds waited."""
        waited = 0.0
        while (wait := self.reserve()) > 0:
            self._clock.sleep(wait)
            waited += wait
        with self._lock:
            self.waited += waited
        return waited

    def reserve(self) -> float:
        """Take room for one request if there is; else the seconds until there is.

        Never waits: an event loop waits the seconds its own way (``asyncio.sleep``) and asks
        again. 0.0 means the request may go now.
        """
        with self._lock:
            now = self._clock.time()
            if not self._first_in_flight:
                drained = max(0.0, now - self._stamp) * self.limit.rate
                self._level = max(0.0, self._level - drained)
                self._stamp = max(self._stamp, now)
            # A millionth of a request of slack: Unix times near 1.7e9 cannot represent
            # the tiny waits float rounding would otherwise ask for.
            if self._level + 1 <= self.limit.burst + _SLACK:
                if self._level <= _SLACK:  # idle: this request starts a new cycle
                    self._first_in_flight = True
                self._level += 1
                return 0.0
            return max((self._level + 1 - self.limit.burst) / self.limit.rate, 1e-9)

    def answered(self) -> None:
        """A request taken by :meth:`acquire` got its answer (or failed): drain from now."""
        with self._lock:
            if self._first_in_flight:
                self._first_in_flight = False
                self._stamp = self._clock.time()


#: Seconds waited past ``operating_reset_at``, so the portal's own accounting has moved on.
PACE_MARGIN = 0.05

#: Seconds the portal's operating-time accounting looks back (10 buckets of 60 s).
OPERATING_WINDOW = 600.0


@attrs.define
class _MethodLoad:
    operating: float = 0.0
    reset_at: float | None = None
    largest: float = 0.0  # the longest processing seen: how much one more call may add


def accounting_of(timings: Iterable[CallTime | None]) -> CallTime | None:
    """One method's accounting from the time blocks of a batch's commands, in order.

    Observing it once leaves an :class:`OperatingPacer` as observing each block in turn would:
    the last block that has ``operating`` (its ``operating_reset_at``, or the last one sent),
    with the longest ``processing`` among them. None when no block has ``operating``. A bulk
    job's batch runs 50 commands of one method: one observation instead of 50.
    """
    last: CallTime | None = None
    reset_at: int | None = None
    largest = 0.0
    for timing in timings:
        if timing is None or timing.operating is None:
            continue
        last = timing
        if timing.operating_reset_at:
            reset_at = timing.operating_reset_at
        if timing.processing is not None and timing.processing > largest:
            largest = timing.processing
    if last is None:
        return None
    if (last.processing or 0.0) < largest or (reset_at and last.operating_reset_at != reset_at):
        return attrs.evolve(last, processing=largest, operating_reset_at=reset_at)
    return last


class OperatingPacer:
    """Makes a method near its operating-time limit wait for ``operating_reset_at``.

    Fed with each answer's ``time`` block (per command for a batch), it waits before calling a
    method whose ``operating`` plus a margin (three times its longest call, at least 5 s) would
    pass ``limit``, until the portal's ``operating_reset_at`` frees part of the budget.
    """

    def __init__(self, clock: Clock, limit: float = 480.0) -> None:
        self._clock = clock
        self.limit = limit
        self._load: dict[str, _MethodLoad] = {}
        # The methods whose next call may pass the limit: while there are none (nearly always)
        # :meth:`due` answers without the lock or the clock.
        self._near: set[str] = set()
        self._lock = threading.Lock()
        self.waited = 0.0

    def _mark(self, name: str, load: _MethodLoad) -> None:
        """Keep :attr:`_near` up to date for ``name`` (under the lock).

        Near: a reset time is known and the operating time plus a margin (three times the
        method's longest call, at least 5 s) reaches the limit.
        """
        margin = max(5.0, 3 * load.largest)
        if load.reset_at is not None and load.operating + margin >= self.limit:
            self._near.add(name)
        else:
            self._near.discard(name)

    def observe(self, method: str, timing: CallTime | None) -> None:
        """Record the portal's accounting for ``method`` from an answer's time block."""
        if timing is None or timing.operating is None:
            return
        name = method.lower()
        with self._lock:
            # Called for every command of a batch: no new _MethodLoad unless one is missing.
            load = self._load.get(name)
            if load is None:
                load = self._load[name] = _MethodLoad()
            load.operating = timing.operating
            if timing.operating_reset_at:
                # The portal counts the last 10 minutes, so some budget frees within 600 s
                # whatever operating_reset_at says: a reset far in the future (a bad clock,
                # a bad answer) must not park the job for years.
                load.reset_at = min(
                    float(timing.operating_reset_at), self._clock.time() + OPERATING_WINDOW
                )
            processing = timing.processing
            if processing is not None and processing > load.largest:
                load.largest = processing
            self._mark(name, load)

    def blocked(self, method: str) -> float | None:
        """The method was refused with OPERATION_TIME_LIMIT; returns when it may free up."""
        name = method.lower()
        with self._lock:
            load = self._load.setdefault(name, _MethodLoad())
            load.operating = max(load.operating, self.limit)
            self._mark(name, load)
            return load.reset_at

    def due(self, methods: Iterable[str]) -> float:
        """Seconds until every one of ``methods`` has budget left (0.0: now); never waits.

        An event loop waits that long plus :data:`PACE_MARGIN` its own way, then calls
        :meth:`waited_out`.
        """
        if not self._near:
            return 0.0
        until = self._until(methods)
        delay = until - self._clock.time()
        return delay if delay > 0 else 0.0

    def _until(self, methods: Iterable[str]) -> float:
        until = 0.0
        with self._lock:
            for method in {m.lower() for m in methods}:
                if method in self._near:
                    reset_at = self._load[method].reset_at
                    if reset_at is not None:  # always, for a method near its limit
                        until = max(until, reset_at)
        return until

    def waited_out(self, methods: Iterable[str], delay: float) -> None:
        """``methods`` waited ``delay`` seconds (as :meth:`due` said): their reset came."""
        now = self._clock.time()
        with self._lock:
            for method in {m.lower() for m in methods}:
                load = self._load.get(method)
                if load is not None and load.reset_at is not None and load.reset_at <= now:
                    # The oldest minute of accounting expired; the next answer says the rest.
                    load.operating, load.reset_at = 0.0, None
                    self._mark(method, load)
            self.waited += delay

    def wait(self, methods: Iterable[str]) -> float:
        """Wait until every one of ``methods`` has budget left; returns the seconds waited."""
        names = list(methods)
        delay = self.due(names)
        if delay <= 0:
            return 0.0
        self._clock.sleep(delay + PACE_MARGIN)
        self.waited_out(names, delay)
        return delay


class SharedLimits(Protocol):
    """Limits shared beyond one process: what ``LeadShim(shared=...)`` takes.

    :class:`RedisLimits` is the one the package ships. Each method hands the transport a piece
    with the local one's shape, so local and shared limits are interchangeable.
    """

    def bucket(self, portal: str, limit: RateLimit, clock: Clock) -> LeakyBucket:
        """The request bucket of ``portal``, shared with every process that uses it."""

    def pacer(self, portal: str, clock: Clock, limit: float) -> OperatingPacer:
        """The operating-time pacer of ``portal``, shared per method."""

    def item_api_missing(self, portal: str) -> bool:
        """Whether some process found that ``portal`` lacks ``crm.item.*`` (not yet expired)."""

    def remember_item_api_missing(self, portal: str, ttl: float) -> None:
        """Tell every process that ``portal`` lacks ``crm.item.*``, for ``ttl`` seconds."""


def limits_for(
    portal: str,
    rate_limit: RateLimit | None,
    operating_limit: float,
    clock: Clock,
    shared: SharedLimits | None,
) -> tuple[LeakyBucket | None, OperatingPacer]:
    """A transport's bucket (None: no client-side limit) and pacer, local or shared."""
    if shared is not None:  # the same shapes, kept where every worker sees them
        bucket = shared.bucket(portal, rate_limit, clock) if rate_limit is not None else None
        return bucket, shared.pacer(portal, clock, operating_limit)
    bucket = LeakyBucket(rate_limit, clock) if rate_limit is not None else None
    return bucket, OperatingPacer(clock, operating_limit)


# At the end: the shared limits build on the local ones above (the redis import is optional
# and happens only when a RedisLimits is made).
from b24shim._redis_limits import RedisLimits  # noqa: E402

RedisLimits.__module__ = __name__
