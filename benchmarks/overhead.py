"""Per-call overhead of ``LeadShim.delete_lead`` over a bare ``requests.Session().post``.

Both send the same ``crm.item.delete`` (``{"entityTypeId": 1, "id": N}``) to the same emulator
(bucket off), over keep-alive, interleaved call by call (bare, shim, shim, bare, ...) so machine
noise hits both alike. The bare call is a default ``requests.Session()``, which reads the proxy
settings from the environment on every call; the shim's own session reads them once, when the
shim is built. The leads are created before any timing. The other stages are timed afterwards
for information.

Run: ``.venv/bin/python benchmarks/overhead.py [--rounds 10] [--block 200]``
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable

import requests
from _portal_process import PortalProcess

from b24shim import LeadShim, LegacyRouteWarning, Stage

GOAL_RATIO = 1.00
INFO_STAGES = (Stage.LEGACY, Stage.LEGACY_VERIFIED, Stage.ITEM_VERIFIED)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _ms(ns: float) -> str:
    return f"{ns / 1e6:.3f} ms"


def _p90(samples: list[int]) -> float:
    return statistics.quantiles(samples, n=10)[-1] if len(samples) > 1 else samples[0]


def _timed_block(call: Callable[[int], bool], ids: list[int], samples: list[int]) -> int:
    """Call once per id, appending each call's nanoseconds; returns how many answered well."""
    good = 0
    clock = time.perf_counter_ns
    for lead_id in ids:
        started = clock()
        answered = call(lead_id)
        samples.append(clock() - started)
        good += answered
    return good


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--block", type=int, default=200, help="calls per block (default 200)")
    parser.add_argument("--warmup", type=int, default=100, help="untimed calls each (default 100)")
    parser.add_argument(
        "--info-calls", type=int, default=1000, help="calls per informational stage (default 1000)"
    )
    args = parser.parse_args(argv)
    if min(args.rounds, args.block) < 1 or min(args.warmup, args.info_calls) < 0:
        parser.error("--rounds and --block must be >= 1, --warmup and --info-calls >= 0")
    # The shim warns once that the legacy route is deprecated; not what is measured here.
    warnings.filterwarnings("ignore", category=LegacyRouteWarning)

    timed = args.rounds * args.block
    with PortalProcess(rate=0) as portal:
        ids = iter(portal.add_leads(2 * (args.warmup + timed) + len(INFO_STAGES) * args.info_calls))
        shim = LeadShim(portal.admin_webhook, stage=Stage.ITEM, rate_limit=None)
        session = requests.Session()
        url = f"{portal.admin_webhook}crm.item.delete.json"

        def bare(lead_id: int) -> bool:
            response = session.post(url, json={"entityTypeId": 1, "id": lead_id}, timeout=60)
            return response.status_code == 200

        def shimmed(lead_id: int) -> bool:
            return shim.delete_lead(lead_id).ok

        contenders = {"bare": bare, "shim": shimmed}
        samples: dict[str, list[int]] = {name: [] for name in contenders}
        good: Counter[str] = Counter()
        round_ratios: list[float] = []

        for call in contenders.values():  # connections open, code paths warm
            _timed_block(call, [next(ids) for _ in range(args.warmup)], [])
        portal.reset_counters()
        for _ in range(args.rounds):
            block_samples: dict[str, list[int]] = {name: [] for name in contenders}
            for call_number in range(args.block):
                order = ("bare", "shim") if call_number % 2 == 0 else ("shim", "bare")
                for name in order:
                    good[name] += _timed_block(contenders[name], [next(ids)], block_samples[name])
            for name in contenders:
                samples[name] += block_samples[name]
            round_ratios.append(
                statistics.median(block_samples["shim"]) / statistics.median(block_samples["bare"])
            )
        sent = Counter(method for method, _ in portal.requests())

        info: list[tuple[Stage, list[int], int, int, int]] = []
        for stage in INFO_STAGES:
            staged = LeadShim(portal.admin_webhook, stage=stage, rate_limit=None)
            block = [next(ids) for _ in range(args.info_calls)]
            if len(block) < 2:
                continue
            staged.delete_lead(block.pop())  # warm-up: its connection and its first answer
            portal.reset_counters()
            before = staged.transport.requests_sent
            stage_samples: list[int] = []
            ok = _timed_block(lambda i, s=staged: s.delete_lead(i).ok, block, stage_samples)
            info.append(
                (
                    stage,
                    stage_samples,
                    ok,
                    staged.transport.requests_sent - before,
                    len(portal.requests()),
                )
            )

    bare_median = statistics.median(samples["bare"])
    shim_median = statistics.median(samples["shim"])
    ratio = shim_median / bare_median
    print("overhead: LeadShim.delete_lead vs a bare requests.Session().post, one crm.item.delete")
    print(
        f"settings: emulator (child process, rate=0) on loopback, keep-alive; {args.rounds} "
        f"rounds x {args.block} calls each, interleaved call by call; warm-up {args.warmup} each; "
        f"shim stage=item, rate_limit=None; Python {sys.version.split()[0]}, "
        f"requests {requests.__version__}"
    )
    print(f"{'':38}{'median/call':>13}{'p90/call':>13}{'calls':>8}{'ok':>8}")
    for name, label in (("bare", "bare Session.post"), ("shim", "delete_lead (stage item)")):
        print(
            f"{label:38}{_ms(statistics.median(samples[name])):>13}"
            f"{_ms(_p90(samples[name])):>13}{len(samples[name]):>8}{good[name]:>8}"
        )
    print(
        f"{'ratio shim/bare (median)':38}{ratio:>13.3f}   goal <= {GOAL_RATIO:.2f}  "
        f"{_verdict(ratio <= GOAL_RATIO)}"
    )
    print(
        f"{'per-round ratios':38}min {min(round_ratios):.3f}, median "
        f"{statistics.median(round_ratios):.3f}, max {max(round_ratios):.3f}"
    )
    print(
        f"{'extra per call':38}{_ms(shim_median - bare_median):>13}   "
        f"(requests seen by the portal: {dict(sent)})"
    )
    if info:
        print("information: the other stages, same emulator, run after the rounds above")
        print(
            f"{'':38}{'median/call':>13}{'p90/call':>13}{'x bare':>8}{'ok':>8}"
            f"{'sent/call':>11}{'seen/call':>11}"
        )
        for stage, stage_samples, ok, sent_count, seen in info:
            median = statistics.median(stage_samples)
            print(
                f"{f'delete_lead (stage {stage.value})':38}{_ms(median):>13}"
                f"{_ms(_p90(stage_samples)):>13}{median / bare_median:>8.2f}{ok:>8}"
                f"{sent_count / len(stage_samples):>11.2f}{seen / len(stage_samples):>11.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
