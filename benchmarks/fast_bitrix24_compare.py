"""fast_bitrix24 and b24shim on the same bulk job: N ``crm.item.delete`` under the same bucket.

fast_bitrix24: ``Bitrix(webhook).call("crm.item.delete", [{"entityTypeId": 1, "id": i}, ...])``
with its own throttle set to the emulator's bucket (``request_pool_size=burst``,
``requests_per_second=rate``). b24shim: ``LeadShim(webhook, stage="item",
rate_limit=RateLimit(rate, burst)).delete_leads(ids)``. Each library gets a fresh emulator with
identical settings. Figures: requests made, 503 answers provoked, elapsed (and against the
bucket's bound), results returned per id, leads left; then the ratios.

Run: ``.venv/bin/python benchmarks/fast_bitrix24_compare.py [-n 3000] [--bucket 2/50 ...]``
(needs the ``bench`` extra: ``.venv/bin/pip install fast-bitrix24``).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import math
import time
import warnings
from collections import Counter
from collections.abc import Callable
from importlib import metadata

from _portal_process import PortalProcess, RequestCounts

from b24shim import LeadShim, Outcome, Stage
from b24shim.limits import RateLimit

try:
    from fast_bitrix24 import Bitrix
except ImportError:  # the `bench` extra is optional; main() says how to install it
    Bitrix = None

GOAL_ELAPSED = 1.10
NEGLIGIBLE_BOUND = 1.0


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _bucket(text: str) -> tuple[float, int]:
    rate, _, burst = text.partition("/")
    try:
        parsed = float(rate), int(burst)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected RATE/BURST such as 2/50, got {text!r}"
        ) from None
    if parsed[0] <= 0 or parsed[1] < 1:
        raise argparse.ArgumentTypeError(f"expected a rate > 0 and a burst >= 1, got {text!r}")
    return parsed


class _Counting(logging.Handler):
    """Counts records instead of printing them (asyncio's "Task exception was never
    retrieved" after fast_bitrix24 gives up would otherwise flood stderr)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


class _Job(RequestCounts):
    """What one library did with the job, as the portal saw it and as the caller got it."""

    def __init__(self, library: str) -> None:
        self.library = library
        self.elapsed = 0.0
        self.requests: list[tuple[str, int]] = []
        self.per_id = 0
        self.returned = ""
        self.error: str | None = None
        self.left = -1
        self.noise = 0

    @property
    def done(self) -> bool:
        """The job finished: no exception and no lead left (a request count is moot if not)."""
        return self.error is None and self.left == 0


def _run_fast_bitrix24(webhook: str, ids: list[int], rate: float, burst: int) -> _Job:
    job = _Job("fast_bitrix24")
    bitrix = Bitrix(
        webhook, verbose=False, request_pool_size=burst, requests_per_second=float(rate)
    )
    items = [{"entityTypeId": 1, "id": lead_id} for lead_id in ids]
    noise = _Counting()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(noise)
    # Bitrix's sync methods run on asyncio.get_event_loop(): give each job its own loop, so
    # tasks a failed job leaves behind cannot run during the next one.
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            started = time.perf_counter()
            try:
                result = bitrix.call("crm.item.delete", items)
            except Exception as exc:  # reported, not raised: the comparison goes on
                result = None
                job.error = f"{type(exc).__name__}: {exc}"
            job.elapsed = time.perf_counter() - started
            leftovers = asyncio.all_tasks(loop)
            for task in leftovers:
                task.cancel()
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
    finally:
        loop.close()
        asyncio.set_event_loop(None)
        del loop
        gc.collect()  # "Task exception was never retrieved" is logged when a task is freed
        asyncio_log.removeHandler(noise)
    job.noise = noise.count + len(caught)
    if isinstance(result, (list, tuple, dict)):
        # crm.item.delete answers [] per command; fast_bitrix24 flattens them into nothing.
        job.returned = f"{type(result).__name__} of {len(result)}"
        job.per_id = len(result) if len(result) == len(ids) else 0
    else:
        job.returned = "nothing (raised)" if job.error else repr(result)[:40]
    return job


def _run_shim(webhook: str, ids: list[int], rate: float, burst: int) -> _Job:
    job = _Job("b24shim")
    shim = LeadShim(webhook, stage=Stage.ITEM, rate_limit=RateLimit(rate, burst))
    outcomes: Counter[str] = Counter()
    matched = 0
    started = time.perf_counter()
    for expected, result in zip(ids, shim.delete_leads(iter(ids)), strict=True):
        outcomes[result.outcome.value] += 1
        matched += result.lead_id == expected
    job.elapsed = time.perf_counter() - started
    job.per_id = matched
    deleted = outcomes[Outcome.DELETED.value]
    job.returned = f"{sum(outcomes.values())} DeleteResult, {deleted} deleted"
    return job


def _run(
    runner: Callable[[str, list[int], float, int], _Job],
    n: int,
    rate: float,
    burst: int,
    backlog: int | None,
) -> _Job:
    """One library's job on a fresh emulator."""
    with PortalProcess(rate=rate, burst=burst, backlog=backlog) as portal:
        ids = portal.add_leads(n)
        portal.reset_counters()  # empty journal, full bucket
        job = runner(portal.admin_webhook, ids, rate, burst)
        job.requests = portal.requests()
        job.left = portal.existing(ids)
    return job


def _report(n: int, rate: float, burst: int, backlog: int | None, fb: _Job, shim: _Job) -> None:
    need = math.ceil(n / 50)
    print()
    print(
        f"scenario: N={n}, emulator bucket rate={rate:g}/s burst={burst}, a fresh emulator per "
        f"library (child process, listen backlog {backlog or 'the emulator default, 128'})"
    )
    print(
        f"  fast_bitrix24: Bitrix(webhook, verbose=False, request_pool_size={burst}, "
        f"requests_per_second={float(rate)}) (batch_size 50, respect_velocity_policy on)"
    )
    print(f"  b24shim: LeadShim(webhook, stage='item', rate_limit=RateLimit({rate:g}, {burst}))")
    head = f"  {'':30}{'fast_bitrix24':>16}{'b24shim':>16}{'fb/shim':>9}   goal"
    print(head)

    def row(
        label: str, a: str, b: str, ratio: str, goal: str, ok_a: bool | None, ok_b: bool | None
    ) -> None:
        if ok_a is None or ok_b is None:
            print(f"  {label:30}{a:>16}{b:>16}{ratio:>9}   {goal}")
            return
        verdicts = f"fb {_verdict(ok_a)}, shim {_verdict(ok_b)}"
        print(f"  {label:30}{a:>16}{b:>16}{ratio:>9}   {goal}: {verdicts}")

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}" if b else ("-" if not a else "inf")

    row(
        "requests made",
        str(fb.sent),
        str(shim.sent),
        ratio(fb.sent, shim.sent),
        f"ceil(N/50) = {need}, job done",
        fb.done and fb.sent <= need,
        shim.done and shim.sent <= need,
    )
    row(
        "503 answers provoked",
        str(fb.refused),
        str(shim.refused),
        ratio(fb.refused, shim.refused),
        "0",
        fb.refused == 0,
        shim.refused == 0,
    )
    row(
        "elapsed",
        f"{fb.elapsed:.2f} s",
        f"{shim.elapsed:.2f} s",
        ratio(fb.elapsed, shim.elapsed),
        "judged against the bound below",
        None,
        None,
    )
    bounds = [max(0.0, (job.accepted - burst) / rate) for job in (fb, shim)]
    if max(bounds) < NEGLIGIBLE_BOUND:
        print(
            f"  {'elapsed / bucket bound':30}{'-':>16}{'-':>16}{'':>9}   bound ~0 "
            f"({bounds[0]:.2f} s, {bounds[1]:.2f} s): absolute times above, not judged"
        )
    else:
        over = [
            job.elapsed / bound if bound else math.inf
            for job, bound in zip((fb, shim), bounds, strict=True)
        ]
        row(
            "elapsed / bucket bound",
            f"{over[0]:.3f}",
            f"{over[1]:.3f}",
            "",
            f"<= {GOAL_ELAPSED:.2f} x max(0, (accepted - {burst}) / {rate:g}) = "
            f"{bounds[0]:.2f} s, {bounds[1]:.2f} s",
            fb.done and over[0] <= GOAL_ELAPSED,
            shim.done and over[1] <= GOAL_ELAPSED,
        )
    row(
        "results returned per id",
        str(fb.per_id),
        str(shim.per_id),
        "",
        f"one per id ({n})",
        fb.per_id == n,
        shim.per_id == n,
    )
    row(
        "leads left undeleted",
        str(fb.left),
        str(shim.left),
        "",
        "0",
        fb.left == 0,
        shim.left == 0,
    )
    print(f"  returned: fast_bitrix24 {fb.returned}; b24shim {shim.returned}")
    for job in (fb, shim):
        if job.error:
            print(f"  {job.library} raised {job.error}")
        if job.noise:
            print(f"  {job.library}: {job.noise} asyncio log records / warnings suppressed")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=3000, help="leads to delete (default 3000)")
    parser.add_argument(
        "--bucket",
        type=_bucket,
        action="append",
        metavar="RATE/BURST",
        help="emulator bucket, repeatable (default: 2/50, the standard one, then 20/50)",
    )
    parser.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="listen backlog of the emulator's server (default: the emulator's own, 128; "
        "5 reproduces socketserver's default, see README.md)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each scenario (default 1)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.repeat < 1:
        parser.error("-n and --repeat must be >= 1")
    if Bitrix is None:
        print("fast_bitrix24 is not installed; it is the benchmark-only extra `bench`:")
        print("  .venv/bin/pip install fast-bitrix24     (or: .venv/bin/pip install -e '.[bench]')")
        return 0
    version = metadata.version("fast-bitrix24")
    buckets = args.bucket or [(2.0, 50), (20.0, 50)]
    backlog = args.backlog or None
    print(f"fast_bitrix24 {version} vs b24shim, N={args.n} crm.item.delete per job")
    for rate, burst in buckets:
        for _ in range(args.repeat):
            fb = _run(_run_fast_bitrix24, args.n, rate, burst, backlog)
            shim = _run(_run_shim, args.n, rate, burst, backlog)
            _report(args.n, rate, burst, backlog, fb, shim)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
