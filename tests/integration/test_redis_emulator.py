"""Shared limits against the emulator and a real redis-server: many workers, Redis failing.

The multi-process job runs at a scaled bucket (10/s, burst 50 instead of 2/s) so that the
same property is checked in seconds: ``benchmarks/shared_limits.py`` runs it at the standard
bucket. Elapsed time is read from the emulator's own request journal (arrival times).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from b24shim import LeadShim, Outcome
from b24shim.emulator import Emulator, ManualClock
from b24shim.limits import RateLimit, RedisLimits
from redis_server import RedisServer, free_port
from worker_job import JobFigures, delete_in_workers, figures_from_journal

Factory = Callable[..., Emulator]

WORKERS, PER_WORKER = 4, 1500
RATE, BURST = 10.0, 50


@pytest.fixture
def server() -> Iterator[RedisServer]:
    with RedisServer() as running:
        yield running


def journal(portal: Emulator) -> list[tuple[int, float]]:
    return [(record.status, record.ts) for record in portal.requests]


def run_job(portal: Emulator, redis_url: str | None) -> tuple[dict[str, int], JobFigures]:
    ids = [portal.add_lead({"TITLE": f"w{i}"}) for i in range(WORKERS * PER_WORKER)]
    portal.reset_counters()
    lists = [ids[i::WORKERS] for i in range(WORKERS)]
    outcomes = delete_in_workers(
        portal.admin_webhook,
        lists,
        rate=RATE,
        burst=BURST,
        redis_url=redis_url,
        prefix=f"job-{uuid.uuid4().hex[:8]}",
    )
    figures = figures_from_journal(journal(portal), rate=RATE, burst=BURST)
    return dict(outcomes), figures


def test_four_workers_sharing_redis_stay_under_the_portals_bucket(
    server: RedisServer, b24_emulator_factory: Factory
) -> None:
    portal = b24_emulator_factory(rate=RATE, burst=BURST)
    outcomes, shared = run_job(portal, server.url)
    assert outcomes == {"deleted": WORKERS * PER_WORKER}
    assert shared.refused == 0
    needed = WORKERS * PER_WORKER // 50  # 120 batches of 50
    assert needed <= shared.requests <= needed + 2
    # (120 - 50) / 10 = 7 s: no faster is possible; within 5% of it is what sharing buys.
    assert shared.bound == pytest.approx(7.0, abs=0.2)
    assert 0.99 * shared.bound <= shared.elapsed <= 1.05 * shared.bound

    # The contrast: the same job, each worker with its own bucket, provokes 503s.
    outcomes, alone = run_job(portal, None)
    assert alone.refused > 0
    assert alone.requests > shared.requests
    assert sum(outcomes.values()) == WORKERS * PER_WORKER


def mid_job(action: str, server: RedisServer) -> tuple[Callable[[], None], Callable[[], None]]:
    """What breaks Redis mid-job and what mends it."""
    admin = redis.Redis.from_url(server.url)
    if action == "restart":
        return server.kill, server.start

    def pause() -> None:
        admin.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")

    def unpause() -> None:
        admin.execute_command("CLIENT", "UNPAUSE")
        admin.close()

    return pause, unpause


@pytest.mark.parametrize("action", ["restart", "pause"])
def test_redis_failing_mid_job_loses_no_delete(
    server: RedisServer,
    b24_emulator_factory: Factory,
    caplog: pytest.LogCaptureFixture,
    action: str,
) -> None:
    portal = b24_emulator_factory(rate=RATE, burst=10)
    ids = [portal.add_lead({"TITLE": f"r{i}"}) for i in range(1500)]
    portal.reset_counters()
    limits = RedisLimits(server.url, timeout=0.1, retry_after=0.2)
    shim = LeadShim(
        portal.admin_webhook, stage="item", rate_limit=RateLimit(RATE, 10), shared=limits
    )
    break_it, mend_it = mid_job(action, server)
    results = []
    with caplog.at_level(logging.INFO, logger="b24shim"):
        for result in shim.delete_leads(ids):
            results.append(result)
            if len(results) == 500:
                break_it()
            elif len(results) == 1000:
                assert limits.available is False  # local limits since the break
                mend_it()
    assert [r.outcome for r in results] == [Outcome.DELETED] * 1500
    assert not any(portal.lead_exists(lead) for lead in ids)
    figures = figures_from_journal(journal(portal), rate=RATE, burst=10)
    assert figures.refused == 0  # local limits picked up where the shared ones were
    assert figures.requests == 30
    messages = [r.getMessage() for r in caplog.records if r.name == "b24shim.limits"]
    assert sum("did not answer" in m for m in messages) == 1
    assert sum("answers again" in m for m in messages) == 1
    assert limits.available is True


def test_a_redis_that_never_answers_still_deletes_everything_at_the_local_pace(
    b24_emulator_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    portal = b24_emulator_factory(rate=RATE, burst=10)
    ids = [portal.add_lead({"TITLE": f"c{i}"}) for i in range(1000)]
    portal.reset_counters()
    limits = RedisLimits(f"redis://127.0.0.1:{free_port()}/0", retry_after=0.2)
    shim = LeadShim(
        portal.admin_webhook, stage="item", rate_limit=RateLimit(RATE, 10), shared=limits
    )
    with caplog.at_level(logging.WARNING, logger="b24shim"):
        outcomes = [result.outcome for result in shim.delete_leads(ids)]
    assert outcomes == [Outcome.DELETED] * 1000
    figures = figures_from_journal(journal(portal), rate=RATE, burst=10)
    assert (figures.requests, figures.refused) == (20, 0)
    (warning,) = caplog.records  # one, however many times it was tried again
    assert warning.getMessage().startswith(f"Redis at {limits.url} did not answer")


def test_a_worker_that_never_called_the_method_waits_for_the_reset_another_saw(
    server: RedisServer, b24_emulator_factory: Factory
) -> None:
    # The portal's clock, the shims' and Redis's are one manual clock: the 10-minute window
    # passes without waiting for it.
    clock = ManualClock()
    portal = b24_emulator_factory(
        rate=0, clock=clock, operating_limit=10.0, processing_time={"crm.item.delete": 3.0}
    )
    prefix = f"op-{uuid.uuid4().hex[:8]}"

    def worker() -> LeadShim:
        limits = RedisLimits(server.url, prefix=prefix, clock=clock)
        limits._link.pinned_time = clock.time
        return LeadShim(
            portal.admin_webhook,
            stage="item",
            rate_limit=None,
            operating_limit=10.0,
            clock=clock,
            shared=limits,
        )

    first, second = worker(), worker()
    assert first.delete_lead(portal.add_lead()).ok  # 3 s of 10 used, 3 s a call: near
    # The second worker never called crm.item.delete: it waits for the reset all the same,
    # before its first call (on its own it would know nothing until that call's answer).
    assert second.delete_lead(portal.add_lead()).ok
    # Until operating_reset_at, 600 s after the first call began (3 s of it spent).
    assert second.transport.pacer.waited == pytest.approx(597.0, abs=1.0)
    assert 429 not in [record.status for record in portal.requests]
