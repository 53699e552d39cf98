"""``b24shim report`` on a generated million-delete evidence log: time and peak memory.

Writes two logs in the evidence sink's own line format: a week of deletes through every stage
(half of those at the verified stages sampled, 3% failed, a ``result_shape`` difference for
every successful item delete and a few ``outcome`` differences at legacy_verified): one with
``--small`` deletes (default 100,000) and one with ``-n`` (default 1,000,000). Then runs
``b24shim report --json --html`` on each in a child process, alternating (small, large, small,
large ...), and takes the child's own peak resident memory from ``os.wait4``.

Printed: lines, seconds, lines per second and peak memory for each, the memory ratio large /
small (goal <= 1.5: memory stays flat while the log grows tenfold) and the large log's time
(goal <= 30 s: "seconds", on a shared 2-core machine).

Run: ``.venv/bin/python benchmarks/report_million.py [-n 1000000] [--small 100000] [--rounds 2]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

GOAL_MEMORY_RATIO = 1.5
GOAL_SECONDS = 30.0
_STAGES = (
    ("legacy_verified", "legacy"),
    ("item_verified", "item"),
    ("item", "item"),
    ("legacy", "legacy"),
)


def generate(path: Path, deletes: int, seed: int = 7) -> int:
    """Write ``deletes`` delete records and their differences; returns the number of lines."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    week = 7 * 24 * 3600
    compact = {"separators": (",", ":")}
    lines = 0
    with path.open("w", encoding="utf-8") as out:
        for n in range(deletes):
            ts = (start + timedelta(seconds=n * week / deletes)).isoformat(timespec="microseconds")
            stage, route = _STAGES[min(3, 4 * n // deletes) if n % 5 else (n // 5) % 3]
            verified = stage.endswith("verified") and rng.random() < 0.5
            draw = rng.random()
            outcome, code = ("deleted", None)
            if draw >= 0.97:
                outcome, code = ("failed", "NOT_FOUND" if draw < 0.995 else "ACCESS_DENIED")
            if route == "item" and outcome == "deleted":
                shape = {
                    "record": "difference",
                    "kind": "result_shape",
                    "lead_id": n + 1,
                    "stage": stage,
                    "behavioral": False,
                    "legacy": True,
                    "item": [],
                    "detail": "crm.item.delete answered [] where crm.lead.delete answers true",
                    "ts": ts,
                }
                out.write(json.dumps(shape, **compact) + "\n")  # type: ignore[arg-type]
                lines += 1
            if code == "ACCESS_DENIED" and verified and stage == "legacy_verified":
                outcome_difference = {
                    "record": "difference",
                    "kind": "outcome",
                    "lead_id": n + 1,
                    "stage": stage,
                    "behavioral": True,
                    "legacy": "denied",
                    "item": "not_found",
                    "detail": "crm.lead.delete gave denied but the other family's read saw "
                    "not_found",
                    "ts": ts,
                }
                out.write(json.dumps(outcome_difference, **compact) + "\n")  # type: ignore[arg-type]
                lines += 1
            record = {
                "record": "delete",
                "lead_id": n + 1,
                "stage": stage,
                "route": route,
                "outcome": outcome,
                "verified": verified,
                "code": code,
                "duration_ms": round(rng.lognormvariate(3.0 if route == "item" else 3.2, 0.4), 3),
                "ts": ts,
            }
            out.write(json.dumps(record, **compact) + "\n")  # type: ignore[arg-type]
            lines += 1
    return lines


def run_report(log: Path, page: Path) -> tuple[float, int, dict[str, object]]:
    """Seconds, peak RSS (bytes) and the JSON of one ``b24shim report`` in a child process."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "b24shim", "report", "--json", "--html", str(page), str(log)],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    output = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode in (0, 1, 3), child.returncode
    peak = usage.ru_maxrss * (1 if sys.platform == "darwin" else 1024)
    return elapsed, peak, json.loads(output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1_000_000, help="deletes in the large log")
    parser.add_argument("--small", type=int, default=100_000, help="deletes in the small log")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="b24shim-bench-") as folder:
        logs = {"small": Path(folder) / "small.jsonl", "large": Path(folder) / "large.jsonl"}
        sizes = {"small": args.small, "large": args.n}
        lines = {}
        for name, path in logs.items():
            started = time.perf_counter()
            lines[name] = generate(path, sizes[name])
            print(
                f"generated {name}: {sizes[name]:,} deletes, {lines[name]:,} lines, "
                f"{path.stat().st_size / 1e6:,.0f} MB in {time.perf_counter() - started:.1f} s"
            )
        seconds: dict[str, list[float]] = {"small": [], "large": []}
        peaks: dict[str, list[int]] = {"small": [], "large": []}
        for _ in range(args.rounds):
            for name in ("small", "large"):
                elapsed, peak, data = run_report(logs[name], Path(folder) / f"{name}.html")
                assert data["deletes"] == sizes[name], data["deletes"]
                seconds[name].append(elapsed)
                peaks[name].append(peak)
        for name in ("small", "large"):
            best = min(seconds[name])
            print(
                f"report {name}: {lines[name]:,} lines in {statistics.median(seconds[name]):.2f} s "
                f"(best {best:.2f} s, {lines[name] / best:,.0f} lines/s), "
                f"peak memory {max(peaks[name]) / 2**20:.1f} MiB"
            )
    ratio = max(peaks["large"]) / max(peaks["small"])
    large = statistics.median(seconds["large"])
    print(
        f"memory large/small: {ratio:.2f}x for {args.n / args.small:.0f}x the deletes "
        f"(goal <= {GOAL_MEMORY_RATIO}): {'PASS' if ratio <= GOAL_MEMORY_RATIO else 'FAIL'}"
    )
    print(
        f"time for {args.n:,} deletes: {large:.1f} s (goal <= {GOAL_SECONDS:.0f} s): "
        f"{'PASS' if large <= GOAL_SECONDS else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
