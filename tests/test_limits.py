"""The client-side leaky bucket and the operating-time pacer, on a clock the test moves."""

from __future__ import annotations

import threading

import pytest

from b24shim import ConfigError
from b24shim.limits import LeakyBucket, OperatingPacer, RateLimit
from b24shim.result import CallTime


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now
        self.lock = threading.Lock()

    def time(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += max(0.0, seconds)


def test_presets() -> None:
    assert RateLimit(2.0, 50) == RateLimit.STANDARD
    assert RateLimit(5.0, 250) == RateLimit.ENTERPRISE
    assert RateLimit.parse("standard") == RateLimit.STANDARD
    assert RateLimit.parse("Enterprise") == RateLimit.ENTERPRISE
    assert RateLimit.parse("off") is None
    assert RateLimit.parse("20/50") == RateLimit(20.0, 50)


@pytest.mark.parametrize("text", ["fast", "2/", "/50", "0/50", "2/0", "-1/5"])
def test_bad_rate_limits_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError, match="RATE/BURST"):
        RateLimit.parse(text, setting="B24SHIM_RATE_LIMIT")


def send(bucket: LeakyBucket) -> float:
    """What the transport does around each request."""
    waited = bucket.acquire()
    bucket.answered()
    return waited


def test_the_burst_passes_at_once_then_requests_are_paced_at_the_rate() -> None:
    clock = Clock()
    bucket = LeakyBucket(RateLimit(2.0, 50), clock)
    start = clock.time()
    for _ in range(50):
        assert send(bucket) == 0.0
    assert clock.time() == start
    for _ in range(10):
        send(bucket)
    assert clock.time() - start == pytest.approx(5.0)  # 10 more at 2/s


def test_the_drain_counts_from_the_first_answer_after_idle() -> None:
    # The portal counts a request when it arrives; the first one after a pause travels
    # longest (new connection), so its travel time earns no drain.
    clock = Clock()
    bucket = LeakyBucket(RateLimit(10.0, 2), clock)
    bucket.acquire()
    clock.sleep(0.3)  # in flight: connecting, handshaking
    bucket.answered()
    assert bucket.acquire() == 0.0  # room for the second of the burst
    bucket.answered()
    assert bucket.acquire() == pytest.approx(0.1)  # the 0.3 s in flight drained nothing
    bucket.answered()
    clock.sleep(10)  # idle: empty again, and the next request starts a new cycle
    assert send(bucket) == 0.0
    assert send(bucket) == 0.0


def test_the_bucket_drains_while_idle() -> None:
    clock = Clock()
    bucket = LeakyBucket(RateLimit(5.0, 10), clock)
    for _ in range(10):
        send(bucket)
    clock.sleep(1.0)  # drains 5
    waited = sum(send(bucket) for _ in range(5))
    assert waited == 0.0
    assert send(bucket) == pytest.approx(0.2)


def test_the_bucket_is_shared_by_threads_without_passing_its_bound() -> None:
    clock = Clock()
    bucket = LeakyBucket(RateLimit(2.0, 50), clock)
    start = clock.time()
    stamps: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(25):
            send(bucket)
            with lock:
                stamps.append(clock.time())

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 200
    # However the threads interleave, by time t no more than burst + rate*t went through.
    for count, stamp in enumerate(sorted(stamps), start=1):
        assert count <= 50 + 2.0 * (stamp - start) + 1e-6


def test_a_method_near_its_operating_limit_waits_for_the_reset() -> None:
    clock = Clock()
    pacer = OperatingPacer(clock, limit=480.0)
    reset_at = int(clock.time()) + 120
    pacer.observe(
        "crm.item.delete", CallTime(processing=2.0, operating=400.0, operating_reset_at=reset_at)
    )
    assert pacer.wait(["crm.lead.delete"]) == 0.0  # other methods have their own budget
    assert pacer.wait(["crm.item.delete"]) == 0.0  # 400 + 6 < 480
    pacer.observe(
        "crm.item.delete", CallTime(processing=2.0, operating=476.0, operating_reset_at=reset_at)
    )
    waited = pacer.wait(["CRM.ITEM.DELETE"])
    assert waited == pytest.approx(120.0)
    assert clock.time() >= reset_at
    assert pacer.wait(["crm.item.delete"]) == 0.0


def test_a_blocked_method_waits_for_the_last_known_reset() -> None:
    clock = Clock()
    pacer = OperatingPacer(clock)
    reset_at = int(clock.time()) + 30
    pacer.observe("crm.lead.delete", CallTime(operating=10.0, operating_reset_at=reset_at))
    assert pacer.blocked("crm.lead.delete") == reset_at
    assert pacer.wait(["crm.lead.delete"]) == pytest.approx(30.0)


def test_a_method_back_under_its_limit_goes_at_once() -> None:
    clock = Clock()
    pacer = OperatingPacer(clock, limit=480.0)
    reset_at = int(clock.time()) + 60
    near = CallTime(processing=1.0, operating=476.0, operating_reset_at=reset_at)
    pacer.observe("crm.item.delete", near)
    assert pacer.due(["crm.item.delete"]) == pytest.approx(60.0)
    # The next answer shows the budget freed (the portal's window moved on): no wait.
    pacer.observe("crm.item.delete", CallTime(operating=100.0, operating_reset_at=reset_at))
    assert pacer.due(["crm.item.delete"]) == 0.0


def test_a_longer_call_widens_the_margin_and_makes_the_method_wait() -> None:
    clock = Clock()
    pacer = OperatingPacer(clock, limit=480.0)
    reset_at = int(clock.time()) + 90
    pacer.observe(
        "crm.item.delete", CallTime(processing=0.1, operating=470.0, operating_reset_at=reset_at)
    )
    assert pacer.due(["crm.item.delete"]) == 0.0  # 470 + 5 < 480
    pacer.observe(
        "crm.item.delete", CallTime(processing=4.0, operating=470.0, operating_reset_at=reset_at)
    )
    # One call may now take 4 s: 470 + 3 * 4 passes 480, so the next call waits.
    assert pacer.due(["crm.lead.delete", "crm.item.delete"]) == pytest.approx(90.0)
