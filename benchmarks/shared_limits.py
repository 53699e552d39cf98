"""What sharing the portal's limits through Redis costs, and what it buys.

1. Cost per request: ``LeadShim.delete_lead`` with its bucket in this process against the same
   shim with ``shared=RedisLimits(...)``, same emulator (child process, bucket off), called
   alternately (local, shared, local, shared ...) in rounds; the median of per-round ratios and
   the extra time per call. Two bucket states: *busy* (the bucket never empties, as in a bulk
   job: one Redis round trip per request) and *idle* (each request is the first after an empty
   bucket: a second round trip reports its answer). The bare round trips are timed too.
2. What it buys: one bulk job split over 4 worker processes (1,500 leads each by default) at
   the standard bucket (2/s, burst 50), with Redis and without, each on a fresh emulator:
   requests, 503s, elapsed (from the emulator's journal) against the bucket's bound.

A redis-server of the benchmark's own is started on a free loopback port (no persistence).

Run: ``.venv/bin/python benchmarks/shared_limits.py [--rounds 10] [--block 200] [--workers 4]
[--per-worker 1500] [--rate 2] [--burst 50] [--skip-cost | --skip-job]``
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from _portal_process import PortalProcess

from b24shim import LeadShim, Stage
from b24shim.limits import RateLimit, RedisLimits

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from redis_server import RedisServer
from worker_job import JobFigures, delete_in_workers, figures_from_journal

#: Never waits in these runs, so only the bookkeeping is timed.
BUSY = RateLimit(1.0, 1_000_000)  # drains slowly: the level stays above 0 (a bulk job)
IDLE = RateLimit(1_000_000.0, 1_000_000)  # empties between calls: each request starts a cycle


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:8.1f} us"


def _timed(call: Callable[[int], object], arg: int, samples: list[float]) -> None:
    started = time.perf_counter()
    call(arg)
    samples.append(time.perf_counter() - started)


def cost(server: RedisServer, rounds: int, block: int) -> None:
    print("1. cost per request: LeadShim.delete_lead, local bucket vs shared through Redis")
    print(
        f"settings: emulator (child process, rate=0) on loopback, keep-alive; redis-server "
        f"{server.url} (own process); {rounds} rounds x {block} calls each, interleaved call "
        "by call; stage item"
    )
    limits = RedisLimits(server.url, prefix=f"bench-{uuid.uuid4().hex[:8]}")
    raw_bucket = limits.bucket("https://bench.example.com", BUSY, _Clock())
    ping = limits.client.ping
    print(f"{'':28}{'local':>14}{'shared':>14}{'ratio':>8}{'extra/call':>14}")
    with PortalProcess(rate=0) as portal:
        for name, limit in (("busy", BUSY), ("idle", IDLE)):
            ids = iter(portal.add_leads(2 * (rounds * block + 50)))
            local = LeadShim(portal.admin_webhook, stage=Stage.ITEM, rate_limit=limit)
            shared = LeadShim(
                portal.admin_webhook,
                stage=Stage.ITEM,
                rate_limit=limit,
                shared=RedisLimits(server.url, prefix=f"bench-{name}-{uuid.uuid4().hex[:8]}"),
            )
            for _ in range(50):  # warm-up: connections, the script loaded
                local.delete_lead(next(ids))
                shared.delete_lead(next(ids))
            ratios, all_local, all_shared = [], [], []
            for _ in range(rounds):
                times_local: list[float] = []
                times_shared: list[float] = []
                for _ in range(block):
                    _timed(local.delete_lead, next(ids), times_local)
                    _timed(shared.delete_lead, next(ids), times_shared)
                ratios.append(statistics.median(times_shared) / statistics.median(times_local))
                all_local += times_local
                all_shared += times_shared
            med_local, med_shared = statistics.median(all_local), statistics.median(all_shared)
            print(
                f"delete_lead, {name} bucket{'':9}{_us(med_local):>14}{_us(med_shared):>14}"
                f"{statistics.median(ratios):8.3f}{_us(med_shared - med_local):>14}"
            )
            print(
                f"{'':28}per-round ratios min {min(ratios):.3f}, median "
                f"{statistics.median(ratios):.3f}, max {max(ratios):.3f}"
            )
    for label, call in (
        ("Redis PING (bare round trip)", lambda _: ping()),
        ("shared bucket acquire+answered", lambda _: (raw_bucket.acquire(), raw_bucket.answered())),
    ):
        samples: list[float] = []
        for n in range(rounds * block):
            _timed(call, n, samples)
        print(f"{label:38}{_us(statistics.median(samples)):>14} median")
    print()


class _Clock:
    def time(self) -> float:
        return time.time()

    def sleep(self, seconds: float) -> None:
        time.sleep(max(0.0, seconds))


def job(server: RedisServer, workers: int, per_worker: int, rate: float, burst: int) -> None:
    total = workers * per_worker
    needed = math.ceil(total / 50)
    print(
        f"2. {workers} worker processes x {per_worker} leads at the bucket {rate:g}/s burst "
        f"{burst} (emulator and every shim), with and without Redis"
    )
    rows: dict[str, tuple[JobFigures, dict[str, int], int, float]] = {}
    for name, url in (("with Redis", server.url), ("without Redis", None)):
        with PortalProcess(rate=rate, burst=burst) as portal:
            ids = portal.add_leads(total)
            portal.reset_counters()
            started = time.perf_counter()
            outcomes = delete_in_workers(
                portal.admin_webhook,
                [ids[i::workers] for i in range(workers)],
                rate=rate,
                burst=burst,
                redis_url=url,
                prefix=f"bench-job-{uuid.uuid4().hex[:8]}",
            )
            wall = time.perf_counter() - started
            figures = figures_from_journal(portal.journal(), rate=rate, burst=burst)
            left = portal.existing(ids)
        rows[name] = (figures, dict(outcomes), left, wall)
    width = 18
    print(f"{'':32}{'with Redis':>{width}}{'without Redis':>{width}}   goal")
    shared, alone = rows["with Redis"][0], rows["without Redis"][0]

    def line(label: str, a: object, b: object, goal: str) -> None:
        print(f"{label:32}{a!s:>{width}}{b!s:>{width}}   {goal}")

    line("requests made", shared.requests, alone.requests, f"ceil(N/50) = {needed}")
    line("503 answers provoked", shared.refused, alone.refused, "0")
    line("elapsed (portal journal)", f"{shared.elapsed:.2f} s", f"{alone.elapsed:.2f} s", "")
    line(
        "bucket bound",
        f"{shared.bound:.2f} s",
        f"{alone.bound:.2f} s",
        "max(0, (accepted - burst) / rate)",
    )
    line("elapsed / bound", f"{shared.ratio:.3f}", f"{alone.ratio:.3f}", "<= 1.05")
    line(
        "wall time (spawn to last result)",
        f"{rows['with Redis'][3]:.2f} s",
        f"{rows['without Redis'][3]:.2f} s",
        "",
    )
    line("leads left undeleted", rows["with Redis"][2], rows["without Redis"][2], "0")
    for name, (_, outcomes, _, _) in rows.items():
        print(f"outcomes {name}: {outcomes}")
    ok = (
        shared.refused == 0
        and needed <= shared.requests <= needed + 2
        and shared.ratio <= 1.05
        and rows["with Redis"][2] == 0
    )
    print(f"with Redis: {'PASS' if ok else 'FAIL'}; without Redis: {alone.refused} x 503")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=200)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--per-worker", type=int, default=1500)
    parser.add_argument("--rate", type=float, default=2.0)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--skip-cost", action="store_true")
    parser.add_argument("--skip-job", action="store_true")
    args = parser.parse_args(argv)
    print(f"Python {sys.version.split()[0]}")
    with RedisServer() as server:
        if not args.skip_cost:
            cost(server, args.rounds, args.block)
        if not args.skip_job:
            job(server, args.workers, args.per_worker, args.rate, args.burst)
    return 0


if __name__ == "__main__":
    sys.exit(main())
