"""RedisLimits against a real redis-server: shared bucket, budget and memory, and fallbacks.

The server is this module's own (``redis_server.RedisServer``: a free loopback port, no
persistence). Where the arithmetic is checked step by step, the server's TIME is replaced by
the test's manual clock (``pinned_time``); the tests about clocks use the real TIME.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis
import responses

from b24shim import ConfigError, LeadShim, Route
from b24shim.limits import LeakyBucket, OperatingPacer, RateLimit, RedisLimits
from b24shim.result import CallTime
from conftest import WEBHOOK
from redis_server import RedisServer, free_port
from test_limits import Clock

PORTAL = "https://portal.example.com"
ITEM_URL = f"{WEBHOOK}crm.item.delete.json"
LEGACY_URL = f"{WEBHOOK}crm.lead.delete.json"
METHOD_NOT_FOUND = {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


class Stop(Exception):
    """Raised by a clock's sleep to end an acquire that the test only wants the wait of."""


class RecordingClock(Clock):
    """Reads a real-time-based clock (offset by ``skew``); its first sleep is recorded, ends."""

    def __init__(self, skew: float = 0.0) -> None:
        super().__init__()
        self.skew = skew
        self.sleeps: list[float] = []

    def time(self) -> float:
        return time.time() + self.skew

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        raise Stop


@pytest.fixture(scope="module")
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server this test may kill and restart."""
    with RedisServer() as running:
        yield running


@pytest.fixture
def prefix() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def shared(url: str, prefix: str, clock: Clock | None = None, **kwargs: float) -> RedisLimits:
    """A RedisLimits as one worker would have it; with ``clock``, TIME is pinned to it."""
    limits = RedisLimits(url, prefix=prefix, clock=clock, **kwargs)
    if clock is not None:
        limits._link.pinned_time = clock.time
    return limits


def standard_bucket(
    url: str, prefix: str, **kwargs: float
) -> tuple[Clock, RedisLimits, LeakyBucket]:
    """One worker's shared standard bucket (2/s, burst 50) on a manual clock."""
    clock = Clock()
    limits = shared(url, prefix, clock, **kwargs)
    return clock, limits, limits.bucket(PORTAL, RateLimit(2.0, 50), clock)


def send(bucket: LeakyBucket) -> float:
    """What the transport does around each request."""
    waited = bucket.acquire()
    bucket.answered()
    return waited


BucketFactory = Callable[[RateLimit, Clock], LeakyBucket]


@pytest.fixture(params=["local", "redis"])
def make_bucket(request: pytest.FixtureRequest, server: RedisServer, prefix: str) -> BucketFactory:
    """The same contract for the local bucket and the shared one."""

    def make(limit: RateLimit, clock: Clock) -> LeakyBucket:
        if request.param == "local":
            return LeakyBucket(limit, clock)
        return shared(server.url, prefix, clock).bucket(PORTAL, limit, clock)

    return make


# -- the bucket: one contract, local and shared ------------------------------------------------


def test_the_burst_passes_at_once_then_requests_are_paced(make_bucket: BucketFactory) -> None:
    clock = Clock()
    bucket = make_bucket(RateLimit(2.0, 50), clock)
    start = clock.time()
    assert [send(bucket) for _ in range(50)] == [0.0] * 50
    for _ in range(10):
        assert send(bucket) == pytest.approx(0.5)
    assert clock.time() - start == pytest.approx(5.0)


def test_the_drain_counts_from_the_first_answer_after_idle(make_bucket: BucketFactory) -> None:
    clock = Clock()
    bucket = make_bucket(RateLimit(10.0, 2), clock)
    bucket.acquire()
    clock.sleep(0.3)  # in flight: connecting, handshaking
    bucket.answered()
    assert bucket.acquire() == 0.0
    bucket.answered()
    assert bucket.acquire() == pytest.approx(0.1)  # the 0.3 s in flight drained nothing
    bucket.answered()
    clock.sleep(10)  # idle: empty again
    assert send(bucket) == 0.0
    assert send(bucket) == 0.0


def test_the_bucket_drains_while_idle(make_bucket: BucketFactory) -> None:
    clock = Clock()
    bucket = make_bucket(RateLimit(5.0, 10), clock)
    for _ in range(10):
        send(bucket)
    clock.sleep(1.0)  # drains 5
    assert sum(send(bucket) for _ in range(5)) == 0.0
    assert send(bucket) == pytest.approx(0.2)


# -- sharing between workers -------------------------------------------------------------------


def test_workers_share_one_bucket_per_portal(server: RedisServer, prefix: str) -> None:
    clock = Clock()
    one = shared(server.url, prefix, clock).bucket(PORTAL, RateLimit(2.0, 50), clock)
    two = shared(server.url, prefix, clock).bucket(PORTAL, RateLimit(2.0, 50), clock)
    other_portal = shared(server.url, prefix, clock).bucket(
        "https://other.example.com", RateLimit(2.0, 50), clock
    )
    assert [send(one) for _ in range(30)] == [0.0] * 30
    assert [send(two) for _ in range(20)] == [0.0] * 20  # the other 20 of the same burst
    assert send(one) == pytest.approx(0.5)
    assert send(two) == pytest.approx(0.5)
    assert send(other_portal) == 0.0  # a bucket per portal
    other_prefix = shared(server.url, prefix + "x", clock).bucket(PORTAL, RateLimit(2, 50), clock)
    assert send(other_prefix) == 0.0  # and per prefix


def test_threads_and_workers_together_never_pass_the_bucket(
    server: RedisServer, prefix: str
) -> None:
    clock = Clock()
    start = clock.time()
    buckets = [
        shared(server.url, prefix, clock).bucket(PORTAL, RateLimit(2.0, 50), clock)
        for _ in range(4)
    ]
    stamps: list[float] = []
    lock = threading.Lock()

    def worker(bucket: LeakyBucket) -> None:
        for _ in range(25):
            send(bucket)
            with lock:
                stamps.append(clock.time())

    threads = [threading.Thread(target=worker, args=(b,)) for b in buckets for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(stamps) == 200
    for count, stamp in enumerate(sorted(stamps), start=1):
        assert count <= 50 + 2.0 * (stamp - start) + 1e-6


def test_the_servers_clock_decides_not_the_workers(server: RedisServer, prefix: str) -> None:
    # Real TIME here. Workers an hour ahead and an hour behind see the same bucket.
    ahead, behind = RecordingClock(skew=3600.0), RecordingClock(skew=-3600.0)
    first = RedisLimits(server.url, prefix=prefix, clock=ahead).bucket(
        PORTAL, RateLimit(2.0, 50), ahead
    )
    second = RedisLimits(server.url, prefix=prefix, clock=behind).bucket(
        PORTAL, RateLimit(2.0, 50), behind
    )
    for _ in range(25):
        assert send(first) == 0.0
        assert send(second) == 0.0
    with pytest.raises(Stop):
        second.acquire()
    with pytest.raises(Stop):
        first.acquire()
    # Each was told to wait one request's drain (0.5 s at 2/s), whatever its own clock said.
    assert behind.sleeps == [pytest.approx(0.5, abs=0.05)]
    assert ahead.sleeps == [pytest.approx(0.5, abs=0.05)]


def test_a_worker_that_never_answers_does_not_hold_the_drain_forever(
    server: RedisServer, prefix: str
) -> None:
    clock = Clock()
    dead = shared(server.url, prefix, clock).bucket(PORTAL, RateLimit(10.0, 2), clock)
    alive = shared(server.url, prefix, clock).bucket(PORTAL, RateLimit(10.0, 2), clock)
    dead.acquire()  # the first of an idle bucket, then the worker dies: no answered()
    assert send(alive) == 0.0
    clock.sleep(60)
    assert send(alive) == 0.0  # the hold expired and the bucket drained since
    assert send(alive) == 0.0


# -- Redis away, slow, restarted ---------------------------------------------------------------


def test_a_closed_port_means_local_limits_and_one_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    limits = RedisLimits(f"redis://127.0.0.1:{free_port()}/0", clock=clock)
    bucket = limits.bucket(PORTAL, RateLimit(2.0, 50), clock)
    with caplog.at_level(logging.WARNING, logger="b24shim"):
        assert [send(bucket) for _ in range(50)] == [0.0] * 50
        assert send(bucket) == pytest.approx(0.5)  # still paced, by the local bucket
        for _ in range(5):
            clock.sleep(3.0)  # past retry_after: tried again, refused again, no new warning
            send(bucket)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "did not answer" in warnings[0].getMessage()
    assert "locally" in warnings[0].getMessage()
    assert limits._link.failures >= 5  # it kept trying
    assert limits.ping() is False


def test_a_restarted_redis_neither_fails_a_request_nor_grants_a_fresh_burst(
    own_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock, limits, bucket = standard_bucket(own_server.url, prefix)
    assert sum(send(bucket) for _ in range(50)) == 0.0
    own_server.kill()
    with caplog.at_level(logging.INFO, logger="b24shim"):
        # Down: local, and the local bucket starts from what the portal may hold, not empty.
        assert send(bucket) == pytest.approx(0.5)
        assert limits.available is False
        own_server.start()  # back, empty: it lost the bucket
        clock.sleep(2.0)  # past retry_after: 4 requests drained, not 50
        free = 0
        while free < 60 and send(bucket) == 0.0:
            free += 1
        assert free == 4
        assert limits.available is True
    messages = [r.getMessage() for r in caplog.records]
    assert sum("did not answer" in m for m in messages) == 1
    assert sum("answers again" in m for m in messages) == 1
    # The new Redis holds the bucket again, seeded as nearly full, so another worker waits too.
    peer = shared(own_server.url, prefix, clock).bucket(PORTAL, RateLimit(2.0, 50), clock)
    assert send(peer) == pytest.approx(0.5)


def test_a_slow_redis_is_given_up_on_after_its_timeout(
    server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    _, limits, bucket = standard_bucket(server.url, prefix, timeout=0.1)
    assert send(bucket) == 0.0  # connected, script loaded
    admin = redis.Redis.from_url(server.url)
    admin.execute_command("CLIENT", "PAUSE", 3000, "WRITE")
    try:
        with caplog.at_level(logging.WARNING, logger="b24shim"):
            # Granted by the local bucket (which starts from the level Redis last gave: 1)
            # after 0.1 s, not after the 3 s pause.
            assert send(bucket) == 0.0
        assert limits.available is False
        assert "TimeoutError" in caplog.records[0].getMessage()
    finally:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()


def test_the_operating_budget_falls_back_too() -> None:
    clock = Clock()
    limits = RedisLimits(f"redis://127.0.0.1:{free_port()}/0", clock=clock)
    pacer = limits.pacer(PORTAL, clock, 480.0)
    reset_at = int(clock.time()) + 120
    pacer.observe("crm.item.delete", CallTime(operating=476.0, operating_reset_at=reset_at))
    assert pacer.wait(["crm.item.delete"]) == pytest.approx(120.0)  # decided locally
    assert limits.item_api_missing(PORTAL) is False


# -- the operating budget ----------------------------------------------------------------------


def two_pacers(url: str, prefix: str, operating: float, reset_in: int) -> list[OperatingPacer]:
    """Two workers' pacers on one clock; the first has just seen ``operating`` s used."""
    clock = Clock()
    one, two = (shared(url, prefix, clock).pacer(PORTAL, clock, 480.0) for _ in range(2))
    now = clock.time()
    one.observe(
        "crm.item.delete",
        CallTime(
            finish=now, processing=1.0, operating=operating, operating_reset_at=int(now) + reset_in
        ),
    )
    return [one, two]


def test_a_method_near_its_limit_makes_every_worker_wait(server: RedisServer, prefix: str) -> None:
    one, two = two_pacers(server.url, prefix, 476.0, 120)
    assert one.wait(["crm.lead.delete"]) == 0.0  # another method, another budget
    # The second worker never called the method and waits for the same reset all the same.
    assert two.wait(["crm.item.delete"]) == pytest.approx(120.0, abs=1.0)


def test_a_block_seen_by_one_worker_stops_the_others(server: RedisServer, prefix: str) -> None:
    one, two = two_pacers(server.url, prefix, 300.0, 30)
    clock = one._clock
    assert two.wait(["crm.item.delete"]) == 0.0  # 300 s of 480: nobody waits
    one.blocked("crm.item.delete")  # a 429 OPERATION_TIME_LIMIT: written at once
    clock.sleep(1.0)  # the second worker reads again a second later
    assert two.wait(["crm.item.delete"]) == pytest.approx(29.0, abs=1.0)


def test_the_reset_is_kept_on_the_servers_clock(server: RedisServer, prefix: str) -> None:
    # Real TIME: a worker an hour behind waits the same 120 s for the reset as the one that saw
    # the answer (the reset is stored as seconds from the portal's answer).
    seen, skewed = RecordingClock(), RecordingClock(skew=-3600.0)
    one = RedisLimits(server.url, prefix=prefix, clock=seen).pacer(PORTAL, seen, 480.0)
    two = RedisLimits(server.url, prefix=prefix, clock=skewed).pacer(PORTAL, skewed, 480.0)
    now = seen.time()
    one.observe(
        "crm.item.delete",
        CallTime(finish=now, processing=2.0, operating=476.0, operating_reset_at=int(now) + 120),
    )
    with pytest.raises(Stop):
        two.wait(["crm.item.delete"])
    assert skewed.sleeps == [pytest.approx(120.0, abs=1.5)]


def test_answers_far_from_the_limit_cost_no_redis_write(server: RedisServer, prefix: str) -> None:
    clock = Clock()
    pacer = shared(server.url, prefix, clock).pacer(PORTAL, clock, 480.0)
    now = clock.time()
    pacer.observe("crm.item.delete", CallTime(finish=now, operating=10.0, operating_reset_at=1))
    pacer.wait(["crm.item.delete"])
    admin = redis.Redis.from_url(server.url)
    assert admin.keys(f"{prefix}:*") == []
    admin.close()


def test_the_local_pacer_still_decides(server: RedisServer, prefix: str) -> None:
    clock = Clock()
    pacer = shared(server.url, prefix, clock).pacer(PORTAL, clock, 480.0)
    assert isinstance(pacer, OperatingPacer)
    now = clock.time()
    pacer.observe(
        "crm.item.delete",
        CallTime(finish=now, processing=2.0, operating=476.0, operating_reset_at=int(now) + 60),
    )
    assert pacer.wait(["crm.item.delete"]) == pytest.approx(60.0)
    assert pacer.waited == pytest.approx(60.0)


# -- the memory of a portal without crm.item.* --------------------------------------------------


def test_one_worker_finding_no_item_api_spares_the_others(
    server: RedisServer, prefix: str, portal: responses.RequestsMock
) -> None:
    portal.post(ITEM_URL, status=404, json=METHOD_NOT_FOUND)
    portal.post(LEGACY_URL, json={"result": True})
    portal.post(LEGACY_URL, json={"result": True})
    first = LeadShim(WEBHOOK, stage="item", shared=RedisLimits(server.url, prefix=prefix))
    second = LeadShim(WEBHOOK, stage="item", shared=RedisLimits(server.url, prefix=prefix))
    assert first.delete_lead(5).route is Route.LEGACY
    result = second.delete_lead(6)  # straight to crm.lead.delete: no crm.item.delete tried
    assert result.ok
    assert result.route is Route.LEGACY
    assert [d.kind for d in result.differences] == ["fallback"]
    assert [c.request.url for c in portal.calls] == [ITEM_URL, LEGACY_URL, LEGACY_URL]
    # Remembered on the server for the shim's fallback_ttl (600 s by default).
    admin = redis.Redis.from_url(server.url)
    left = admin.pttl(f"{prefix}:no-item-api:{PORTAL}")
    admin.close()
    assert 590_000 < left <= 600_000


def test_the_item_memory_is_what_the_server_holds(server: RedisServer, prefix: str) -> None:
    limits = RedisLimits(server.url, prefix=prefix)
    assert limits.item_api_missing(PORTAL) is False
    limits.remember_item_api_missing(PORTAL, 30.0)
    assert RedisLimits(server.url, prefix=prefix).item_api_missing(PORTAL) is True
    admin = redis.Redis.from_url(server.url)
    admin.delete(f"{prefix}:no-item-api:{PORTAL}")  # as if its 30 s had passed
    admin.close()
    assert RedisLimits(server.url, prefix=prefix).item_api_missing(PORTAL) is False


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("http://localhost:6379/0", "its scheme is http"),
        ("localhost:6379", "its scheme is localhost"),
        ("redis://", "it names no host"),
        ("redis://localhost:99999/0", "Port out of range"),
        ("redis://localhost:6379/abc", "the database after the host must be a number"),
    ],
)
def test_a_bad_redis_url_fails_at_start_up(url: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LeadShim.from_env({"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_REDIS_URL": url})
    assert caught.value.setting == "B24SHIM_REDIS_URL"
    assert str(caught.value).startswith("B24SHIM_REDIS_URL must look like redis://")
    assert hint in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["redis://:hunter2secret@localhost:99999/0", "ftp://user:hunter2secret@localhost/0"],
)
def test_a_bad_redis_url_never_shows_its_password(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        LeadShim.from_env({"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_REDIS_URL": url})
    assert "hunter2secret" not in str(caught.value)
    assert "hunter2secret" not in repr(caught.value.args)
    assert "must look like redis://" in str(caught.value)


def test_from_env_shares_the_limits_through_redis(server: RedisServer) -> None:
    shim = LeadShim.from_env({"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_REDIS_URL": server.url})
    assert isinstance(shim.shared, RedisLimits)
    assert shim.shared.url == server.url
    assert shim.shared.ping() is True
    assert type(shim.transport.bucket).__name__ == "_SharedBucket"
    assert LeadShim.from_env({"B24SHIM_WEBHOOK_URL": WEBHOOK}).shared is None


def test_the_password_stays_out_of_reprs_and_warnings(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    limits = RedisLimits(f"redis://:hunter2secret@127.0.0.1:{free_port()}/0", clock=clock)
    assert "hunter2secret" not in repr(limits)
    assert "***" in limits.url
    with caplog.at_level(logging.WARNING, logger="b24shim"):
        send(limits.bucket(PORTAL, RateLimit(2.0, 50), clock))
    assert caplog.records
    assert all("hunter2secret" not in r.getMessage() for r in caplog.records)


def test_a_client_of_your_own_is_used_as_is(server: RedisServer, prefix: str) -> None:
    client = redis.Redis(host="127.0.0.1", port=server.port, db=3)
    limits = RedisLimits(client, prefix=prefix)
    assert limits.client is client
    assert repr(limits) == f"RedisLimits('redis://127.0.0.1:{server.port}/3', prefix='{prefix}')"
    assert limits.ping() is True
    client.close()


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"prefix": ""}, "prefix"),
        ({"timeout": 0}, "timeout"),
        ({"retry_after": -1}, "retry_after"),
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError) as caught:
        RedisLimits("redis://127.0.0.1:6379/0", **kwargs)  # type: ignore[arg-type]
    assert caught.value.setting == setting


def test_shared_must_be_shared_limits() -> None:
    with pytest.raises(ConfigError, match="shared must be a RedisLimits or None, got str"):
        LeadShim(WEBHOOK, shared="redis://localhost")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"a Redis URL or a redis\.Redis client, got int"):
        RedisLimits(6379)  # type: ignore[arg-type]


def test_a_redis_that_refuses_writes_means_local_limits_too(
    own_server: RedisServer, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock, limits, bucket = standard_bucket(own_server.url, prefix)
    admin = redis.Redis.from_url(own_server.url)
    admin.config_set("maxmemory", 1)  # every write is refused: OOM
    try:
        with caplog.at_level(logging.WARNING, logger="b24shim"):
            assert send(bucket) == 0.0
        assert limits.available is False
        (warning,) = caplog.records
        assert "refused the shim's script" in warning.getMessage()
        assert "OutOfMemoryError" in warning.getMessage()
    finally:
        admin.config_set("maxmemory", 0)
        admin.close()
    clock.sleep(2.0)
    send(bucket)
    assert limits.available is True
