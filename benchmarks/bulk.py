"""A bulk job: N deletes at stage item through ``LeadShim.delete_leads`` under the bucket.

The emulator's bucket and the shim's ``rate_limit`` are the same (default 20/s, burst 50, a
fast bucket so 10,000 deletes finish in seconds). Figures: HTTP requests made (goal
ceil(N/50)), 503 answers provoked (goal 0), elapsed against the bucket's lower bound (goal
<= 1.10 x bound) and tracemalloc's peak. Timing and memory are two runs of the same job on
fresh leads: tracemalloc slows every allocation, so the timed run goes without it.

Run: ``.venv/bin/python benchmarks/bulk.py [-n 10000] [--rate 20] [--burst 50]``
"""

from __future__ import annotations

import argparse
import math
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Iterator

from _portal_process import PortalProcess, RequestCounts

from b24shim import LeadShim, LegacyRouteWarning, Outcome, Stage
from b24shim.limits import RateLimit

GOAL_ELAPSED = 1.10
#: Below this many seconds of bound the ratio means nothing: the absolute time is reported.
NEGLIGIBLE_BOUND = 1.0


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _lazy(ids: list[int]) -> Iterator[int]:
    """The ids one at a time, as a job reading them from a file or a cursor would."""
    yield from ids


class _Run(RequestCounts):
    """One pass of the job: what the portal saw and what the shim returned."""

    def __init__(self, ids: list[int], traced: bool) -> None:
        self.ids = ids
        self.traced = traced
        self.elapsed = 0.0
        self.peak = 0
        self.outcomes: Counter[str] = Counter()
        self.results = 0
        self.misordered = 0
        self.requests: list[tuple[str, int]] = []
        self.left = -1

    def execute(self, portal: PortalProcess, limit: RateLimit) -> None:
        shim = LeadShim(portal.admin_webhook, stage=Stage.ITEM, rate_limit=limit)
        portal.reset_counters()  # empty journal, full bucket
        if self.traced:
            tracemalloc.start()
        started = time.perf_counter()
        # Each result is looked at and dropped, as a streaming consumer would.
        for expected, result in zip(self.ids, shim.delete_leads(_lazy(self.ids)), strict=True):
            self.results += 1
            self.outcomes[result.outcome.value] += 1
            self.misordered += result.lead_id != expected
        self.elapsed = time.perf_counter() - started
        if self.traced:
            self.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        self.requests = portal.requests()
        self.left = portal.existing(self.ids)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=10_000, help="leads to delete (default 10000)")
    parser.add_argument("--rate", type=float, default=20.0, help="bucket drain/s (default 20)")
    parser.add_argument("--burst", type=int, default=50, help="bucket size (default 50)")
    parser.add_argument(
        "--no-memory", action="store_true", help="skip the second (tracemalloc) run"
    )
    args = parser.parse_args(argv)
    if args.n < 1 or args.rate <= 0 or args.burst < 1:
        parser.error("-n and --burst must be >= 1 and --rate > 0")
    warnings.filterwarnings("ignore", category=LegacyRouteWarning)  # not expected at stage item
    limit = RateLimit(args.rate, args.burst)

    with PortalProcess(rate=args.rate, burst=args.burst) as portal:
        runs = [_Run(portal.add_leads(args.n), traced=False)]
        if not args.no_memory:
            runs.append(_Run(portal.add_leads(args.n), traced=True))
        for run in runs:
            run.execute(portal, limit)
        leads_left = portal.leads_left()

    timed = runs[0]
    goal_requests = math.ceil(args.n / 50)
    # The bucket counts accepted requests only: a 503 costs no room.
    bound = max(0.0, (timed.accepted - args.burst) / args.rate)
    print(f"bulk: {args.n} deletes at stage item through LeadShim.delete_leads")
    print(
        f"settings: emulator (child process) rate={args.rate:g}/s burst={args.burst}; shim "
        f"rate_limit=RateLimit({args.rate:g}, {args.burst}); ids from a generator"
    )
    print(
        f"requests made         {timed.sent:>10}   goal ceil(N/50) = {goal_requests}  "
        f"{_verdict(timed.sent <= goal_requests)}   ({dict(Counter(m for m, _ in timed.requests))})"
    )
    print(f"503 answers provoked  {timed.refused:>10}   goal 0  {_verdict(timed.refused == 0)}")
    if bound < NEGLIGIBLE_BOUND:
        print(
            f"elapsed               {timed.elapsed:>9.2f}s   bucket bound {bound:.2f} s is ~0: "
            f"absolute time reported, ratio not judged "
            f"({timed.elapsed / args.n * 1e6:.0f} us per delete)"
        )
    else:
        ratio = timed.elapsed / bound
        print(
            f"elapsed               {timed.elapsed:>9.2f}s   bucket bound "
            f"max(0, ({timed.accepted} accepted - {args.burst}) / {args.rate:g}) = {bound:.2f} s; "
            f"ratio {ratio:.3f}, goal <= {GOAL_ELAPSED:.2f}  {_verdict(ratio <= GOAL_ELAPSED)}"
        )
    for run in runs:
        label = "memory run" if run.traced else "timed run"
        every = (
            run.results == len(run.ids)
            and run.outcomes == Counter({Outcome.DELETED.value: len(run.ids)})
            and run.misordered == 0
            and run.left == 0
        )
        print(
            f"{label:22}results {run.results}/{len(run.ids)}, outcomes {dict(run.outcomes)}, "
            f"out of order {run.misordered}, its leads still present {run.left}  "
            f"{_verdict(every)}"
        )
    print(
        f"leads left in the emulator (crm.lead.list total) {leads_left}  "
        f"{_verdict(leads_left == 0)}"
    )
    if len(runs) > 1:
        memory = runs[1]
        print(
            f"peak memory           {memory.peak / 1024:>8.0f} KiB   tracemalloc peak of a second "
            f"run of the same job ({memory.elapsed:.2f} s under tracemalloc, {memory.sent} "
            f"requests, {memory.refused} x 503); ids read lazily from a generator, results "
            f"dropped as consumed; the emulator's memory is in its own process, not counted"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
