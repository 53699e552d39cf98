"""The front ends of the one engine, each against the bare call it stands in for.

Every pair sends to the same emulator (a child process, bucket off, keep-alive), interleaved
call by call with the order alternating, and the ratio is the median of per-round ratios of
medians (the machine is shared and noisy):

- ``adapter``: ``crm.lead.delete`` posted on a ``requests.Session`` with ``ShimAdapter`` mounted
  (stage item: routed to ``crm.item.delete``) against the same ``crm.lead.delete`` posted on a
  default session without it (goal <= 1.15x);
- ``async``: ``await AsyncLeadShim.delete_lead`` (stage item) against a bare
  ``aiohttp.ClientSession.post`` of the same ``crm.item.delete``, its answer decoded with
  ``json.loads`` as the shim decodes it (goal <= 1.10x);
- ``verified``: requests of a verified bulk job (stage item_verified, 3,000 leads): goal 64,
  ceil(3000 / 47), each batch carrying 50 commands;
- ``bulk``: CPU (process time) of ``LeadShim.delete_leads`` over N deletes with no client-side
  limit against a bare loop posting the same 50-command batches on one session
  (goal <= 1.3x), interleaved batch by batch (the order alternating) after an untimed
  warm-up; the bare loop's bodies are built before its timing (that CPU is printed beside it);
- ``memory``: tracemalloc peak of ``AsyncLeadShim.delete_leads(ids, concurrency=K)`` with no
  limit, ids from a generator and each result dropped as it comes, for N and 4N deletes
  (5,000 and 20,000 by default), alternating, each on a fresh emulator; ratio large/small
  (goal <= 1.5: flat in N), results in input order;
- ``concurrent``: 10,000 deletes through ``AsyncLeadShim.delete_leads(concurrency=K)`` against
  fast_bitrix24 (``BitrixAsync.call("crm.item.delete", [...])``, its throttle opened wide), each
  on a fresh emulator (goal: the shim no slower).

Run: ``.venv/bin/python benchmarks/frontends.py [--rounds 10] [--block 100] [--only NAME]``
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import statistics
import time
import tracemalloc
import warnings
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import requests
from _portal_process import PortalProcess

from b24shim import AsyncLeadShim, LeadShim, LegacyRouteWarning, Stage
from b24shim.adapters import ShimAdapter
from b24shim.transport import batch_params


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _ratio(rounds: list[tuple[list[int], list[int]]]) -> tuple[float, float, float]:
    """(median of per-round ratios, median ns of the first, of the second)."""
    ratios = [statistics.median(b) / statistics.median(a) for a, b in rounds]
    firsts = [x for a, _ in rounds for x in a]
    seconds = [x for _, b in rounds for x in b]
    return statistics.median(ratios), statistics.median(firsts), statistics.median(seconds)


def _line(name: str, goal: float, rounds: list[tuple[list[int], list[int]]], what: str) -> None:
    ratio, bare, shim = _ratio(rounds)
    print(
        f"{name:10} {what}: bare {bare / 1e6:.3f} ms, shim {shim / 1e6:.3f} ms, ratio "
        f"{ratio:.3f} (goal <= {goal:.2f}) {_verdict(ratio <= goal)}"
    )


def adapter(args: argparse.Namespace) -> None:
    with PortalProcess(rate=0) as portal:
        ids = iter(portal.add_leads(2 * (args.rounds + 1) * args.block))
        url = f"{portal.admin_webhook}crm.lead.delete.json"
        bare = requests.Session()
        routed = requests.Session()
        shim = LeadShim(portal.admin_webhook, stage=Stage.ITEM, rate_limit=None)
        routed.mount("http://", ShimAdapter(shim))

        def post(session: requests.Session) -> int:
            started = time.perf_counter_ns()
            response = session.post(url, json={"id": next(ids)}, timeout=60)
            assert response.status_code == 200, response.text
            return time.perf_counter_ns() - started

        for _ in range(args.block // 2):  # warm-up: connections open
            post(bare), post(routed)
        rounds = []
        for _ in range(args.rounds):
            a: list[int] = []
            b: list[int] = []
            for n in range(args.block // 2):
                if n % 2:
                    a.append(post(bare)), b.append(post(routed))
                else:
                    b.append(post(routed)), a.append(post(bare))
            rounds.append((a, b))
        methods = {m for m, _ in portal.requests()}
    _line("adapter", 1.15, rounds, f"crm.lead.delete direct vs through ShimAdapter {methods}")


def async_shim(args: argparse.Namespace) -> None:
    with PortalProcess(rate=0) as portal:
        ids = iter(portal.add_leads(2 * (args.rounds + 1) * args.block))
        url = f"{portal.admin_webhook}crm.item.delete.json"

        async def main() -> list[tuple[list[int], list[int]]]:
            async with (
                aiohttp.ClientSession() as session,
                AsyncLeadShim(portal.admin_webhook, stage="item", rate_limit=None) as shim,
            ):

                async def bare() -> None:
                    params = {"entityTypeId": 1, "id": next(ids)}
                    async with session.post(url, json=params) as response:
                        # Read as the shim reads it: the body's bytes, decoded once; a caller
                        # needs the answer to know the delete happened.
                        body = json.loads(await response.read())
                        assert response.status == 200, body
                        assert body["result"] == [], body

                async def shimmed() -> None:
                    assert (await shim.delete_lead(next(ids))).ok

                async def timed(call: Callable[[], Awaitable[None]]) -> int:
                    started = time.perf_counter_ns()
                    await call()
                    return time.perf_counter_ns() - started

                for _ in range(args.block // 2):
                    await timed(bare), await timed(shimmed)
                rounds = []
                for _ in range(args.rounds):
                    a: list[int] = []
                    b: list[int] = []
                    for n in range(args.block // 2):
                        if n % 2:
                            a.append(await timed(bare))
                            b.append(await timed(shimmed))
                        else:
                            b.append(await timed(shimmed))
                            a.append(await timed(bare))
                    rounds.append((a, b))
                return rounds

        rounds = asyncio.run(main())
    _line("async", 1.10, rounds, "bare aiohttp post vs AsyncLeadShim.delete_lead")


def verified(args: argparse.Namespace) -> None:
    n = 3000
    with PortalProcess(rate=0) as portal:
        leads = portal.add_leads(n)
        portal.reset_counters()
        shim = LeadShim(portal.admin_webhook, stage=Stage.ITEM_VERIFIED, rate_limit=None)
        results = list(shim.delete_leads(leads))
        sent = portal.requests()
    goal = math.ceil(n / 47)
    ok = sum(r.ok for r in results)
    print(
        f"verified   {n} leads at item_verified: {len(sent)} requests (goal {goal}) "
        f"{_verdict(len(sent) <= goal)}; {ok} deleted"
    )


def _item_deletes(ids: list[int], first: int = 0) -> dict[str, tuple[str, dict[str, int]]]:
    """The commands of one batch deleting ``ids``, keyed d<first>, d<first + 1>... (as the
    shim keys them: by position in the job)."""
    return {
        f"d{i}": ("crm.item.delete", {"entityTypeId": 1, "id": x})
        for i, x in enumerate(ids, start=first)
    }


def bulk(args: argparse.Namespace) -> None:
    """CPU of the shim's bulk job against the bare loop, interleaved batch by batch.

    Each step runs one batch of each, the order alternating step by step: 50 results taken from
    ``delete_leads`` (getting result 50 adds the 51st id, which sends the batch of the first 50,
    so a step holds exactly one request) and one bare ``post`` of a prebuilt 50-command body.
    The ratio is the median over rounds of (shim CPU / bare CPU) summed over the round's steps:
    a neighbour's burst on this shared machine hits both sides of a step alike.
    """
    n = args.bulk
    samples: list[tuple[float, float]] = []
    building: list[float] = []
    with PortalProcess(rate=0) as portal:
        url = f"{portal.admin_webhook}batch.json"
        session = requests.Session()
        shim = LeadShim(portal.admin_webhook, stage=Stage.ITEM, rate_limit=None)
        warm = portal.add_leads(100)  # both open their connection before the timed rounds
        session.post(url, json=batch_params(_item_deletes(warm[:50])), timeout=60).json()
        assert all(r.ok for r in shim.delete_leads(warm[50:]))
        clock = time.process_time
        for _ in range(args.bulk_rounds):
            leads = portal.add_leads(2 * n)
            mine, theirs = leads[:n], leads[n:]
            started = clock()
            bodies = [batch_params(_item_deletes(theirs[k : k + 50], k)) for k in range(0, n, 50)]
            building.append(clock() - started)  # not in the bare loop's figure
            results = shim.delete_leads(iter(mine))
            bare_cpu = shim_cpu = 0.0
            ok = 0
            for step, body in enumerate(bodies):
                for side in (0, 1) if step % 2 else (1, 0):
                    started = clock()
                    if side:
                        ok += sum(r.ok for r in itertools.islice(results, 50))
                        shim_cpu += clock() - started
                    else:
                        session.post(url, json=body, timeout=60).json()
                        bare_cpu += clock() - started
            assert ok == n
            assert next(results, None) is None
            samples.append((bare_cpu, shim_cpu))
    ratio = statistics.median(s / b for b, s in samples)
    bare_cpu = statistics.median(b for b, _ in samples)
    shim_cpu = statistics.median(s for _, s in samples)
    print(
        f"bulk       {n} deletes, no limit, CPU, interleaved batch by batch: bare loop "
        f"{bare_cpu:.3f} s, delete_leads {shim_cpu:.3f} s, ratio {ratio:.2f} (goal <= 1.30) "
        f"{_verdict(ratio <= 1.3)}; the bare loop's bodies, built before its timing: "
        f"{statistics.median(building):.3f} s"
    )


def _traced_job(n: int, k: int) -> tuple[int, int, int, int]:
    """(tracemalloc peak, results, out of order, leads left) of one job of ``n`` deletes."""
    with PortalProcess(rate=0) as portal:
        leads = portal.add_leads(n)  # made before tracing: the caller's own list, not counted

        async def run() -> tuple[int, int, int]:
            async with AsyncLeadShim(portal.admin_webhook, stage="item", rate_limit=None) as shim:
                # Warm up untraced (imports, the connection pool): the peak is the job's.
                warm = portal.add_leads(2 * 50 * k)
                assert all([r.ok async for r in shim.delete_leads(warm, concurrency=k)])
                expected = iter(leads)
                seen = misordered = 0
                tracemalloc.start()
                try:
                    async for result in shim.delete_leads((x for x in leads), concurrency=k):
                        seen += result.ok
                        misordered += result.lead_id != next(expected)
                    peak = tracemalloc.get_traced_memory()[1]
                finally:
                    tracemalloc.stop()
                return peak, seen, misordered

        peak, seen, misordered = asyncio.run(run())
        return peak, seen, misordered, portal.existing(leads)


def memory(args: argparse.Namespace) -> None:
    small, k = args.memory, args.concurrency
    peaks: dict[int, list[int]] = {small: [], 4 * small: []}
    checks = []
    for round_ in range(args.memory_rounds):
        order = (small, 4 * small) if round_ % 2 == 0 else (4 * small, small)
        for n in order:
            peak, seen, misordered, left = _traced_job(n, k)
            peaks[n].append(peak)
            checks.append(seen == n and misordered == 0 and left == 0)
    low, high = statistics.median(peaks[small]), statistics.median(peaks[4 * small])
    ratio = high / low
    print(
        f"memory     AsyncLeadShim.delete_leads(concurrency={k}), no limit, ids from a generator: "
        f"tracemalloc peak {small} deletes {low / 1024:.0f} KiB, {4 * small} deletes "
        f"{high / 1024:.0f} KiB, ratio {ratio:.2f} (goal <= 1.50) {_verdict(ratio <= 1.5)}; "
        f"every result ok, in input order, no lead left: {_verdict(all(checks))}"
    )


def concurrent(args: argparse.Namespace) -> None:
    try:
        from fast_bitrix24 import BitrixAsync  # noqa: PLC0415 - the bench extra, optional
    except ImportError:
        print("concurrent skipped: pip install fast-bitrix24")
        return
    n, k = args.concurrent, args.concurrency
    times: dict[str, list[float]] = {"shim": [], "fast_bitrix24": []}
    for _ in range(args.bulk_rounds):
        order = ("fast_bitrix24", "shim") if len(times["shim"]) % 2 else ("shim", "fast_bitrix24")
        for name in order:
            with PortalProcess(rate=0) as portal:
                leads = portal.add_leads(n)

                async def run_shim(hook: str = portal.admin_webhook, ids: Any = leads) -> int:
                    async with AsyncLeadShim(hook, stage="item", rate_limit=None) as shim:
                        return sum([r.ok async for r in shim.delete_leads(ids, concurrency=k)])

                async def run_fb(hook: str = portal.admin_webhook, ids: Any = leads) -> int:
                    bx = BitrixAsync(
                        hook, verbose=False, request_pool_size=10_000, requests_per_second=1e6
                    )
                    await bx.call("crm.item.delete", [{"entityTypeId": 1, "id": x} for x in ids])
                    return len(ids)

                started = time.perf_counter()
                done = asyncio.run(run_shim() if name == "shim" else run_fb())
                times[name].append(time.perf_counter() - started)
                assert done == n
                assert portal.leads_left() == 0, name
    shim_t, fb_t = statistics.median(times["shim"]), statistics.median(times["fast_bitrix24"])
    print(
        f"concurrent {n} deletes, no limit: AsyncLeadShim.delete_leads(concurrency={k}) "
        f"{shim_t:.2f} s, fast_bitrix24 {fb_t:.2f} s, ratio {shim_t / fb_t:.2f} "
        f"(goal <= 1.00) {_verdict(shim_t <= fb_t)}"
    )


BENCHES = {
    "adapter": adapter,
    "async": async_shim,
    "verified": verified,
    "bulk": bulk,
    "memory": memory,
    "concurrent": concurrent,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=100, help="calls per round per variant x2")
    parser.add_argument("--bulk", type=int, default=10_000, help="deletes per bulk run")
    parser.add_argument("--bulk-rounds", type=int, default=4)
    parser.add_argument("--concurrent", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--memory", type=int, default=5_000, help="the small job (and 4x it)")
    parser.add_argument("--memory-rounds", type=int, default=2)
    parser.add_argument("--only", choices=sorted(BENCHES), action="append")
    args = parser.parse_args(argv)
    if args.bulk <= 0 or args.bulk % 50:
        parser.error("--bulk must be a positive multiple of 50 (it steps batch by batch)")
    warnings.filterwarnings("ignore", category=LegacyRouteWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    for name in args.only or BENCHES:
        BENCHES[name](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
