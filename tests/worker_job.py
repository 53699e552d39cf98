"""One bulk job split over several worker processes, as Celery or RQ would run it.

Used by the multi-process test and by ``benchmarks/shared_limits.py``. Each worker is a fresh
interpreter (``spawn``) with its own ``LeadShim``: with ``redis_url`` they share the portal's
limits through :class:`~b24shim.limits.RedisLimits`, without it each keeps its own bucket.
The workers get ready (shim built, Redis connected), then all start on one signal.
"""

from __future__ import annotations

import math
import multiprocessing
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["JobFigures", "delete_in_workers", "figures_from_journal"]

#: Seconds a worker may take to get ready, and the whole job to finish.
_READY_TIMEOUT = 60.0
_JOB_TIMEOUT = 900.0


def _work(
    webhook: str,
    ids: list[int],
    rate: float,
    burst: int,
    redis_url: str | None,
    prefix: str,
    start: Any,
    answers: Any,
) -> None:
    from b24shim import LeadShim  # noqa: PLC0415 - imported in the child
    from b24shim.limits import RateLimit, RedisLimits  # noqa: PLC0415

    shared = RedisLimits(redis_url, prefix=prefix) if redis_url else None
    shim = LeadShim(webhook, stage="item", rate_limit=RateLimit(rate, burst), shared=shared)
    if shared is not None and not shared.ping():
        answers.put(("error", f"Redis at {redis_url} did not answer"))
        return
    answers.put(("ready", None))
    start.wait(_READY_TIMEOUT)
    outcomes: Counter[str] = Counter()
    for result in shim.delete_leads(ids):
        code = result.error.code.value if result.error is not None else ""
        outcomes[f"{result.outcome.value} {code}".strip()] += 1
    answers.put(("done", dict(outcomes)))


def delete_in_workers(
    webhook: str,
    id_lists: Sequence[list[int]],
    *,
    rate: float,
    burst: int,
    redis_url: str | None,
    prefix: str = "b24shim",
) -> Counter[str]:
    """Delete each list of ids in its own process at once; the outcomes of all, counted."""
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    answers = context.Queue()
    workers = [
        context.Process(
            target=_work,
            args=(webhook, ids, rate, burst, redis_url, prefix, start, answers),
            daemon=True,
        )
        for ids in id_lists
    ]
    for worker in workers:
        worker.start()
    try:
        for _ in workers:
            kind, detail = answers.get(timeout=_READY_TIMEOUT)
            if kind != "ready":
                raise RuntimeError(f"a worker could not start: {detail}")
        start.set()
        total: Counter[str] = Counter()
        for _ in workers:
            kind, detail = answers.get(timeout=_JOB_TIMEOUT)
            total.update(detail)
        return total
    finally:
        for worker in workers:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()  # our own child, by handle
                worker.join(timeout=5)
        answers.close()


@attrs.frozen
class JobFigures:
    """What the portal saw of a job, from its own request journal."""

    requests: int
    refused: int  # answered 503 QUERY_LIMIT_EXCEEDED
    elapsed: float  # from the first request's arrival to the last one's
    rate: float
    burst: int

    @property
    def accepted(self) -> int:
        return self.requests - self.refused

    @property
    def bound(self) -> float:
        """The bucket's bound: no client can finish the accepted requests sooner."""
        return max(0.0, (self.accepted - self.burst) / self.rate)

    @property
    def ratio(self) -> float:
        return self.elapsed / self.bound if self.bound else math.nan


def figures_from_journal(
    records: Sequence[tuple[int, float]], *, rate: float, burst: int
) -> JobFigures:
    """``records``: ``(HTTP status, arrival time)`` of each request, in arrival order."""
    stamps = [ts for _, ts in records]
    return JobFigures(
        requests=len(records),
        refused=sum(1 for status, _ in records if status == 503),
        elapsed=(max(stamps) - min(stamps)) if stamps else 0.0,
        rate=rate,
        burst=burst,
    )
