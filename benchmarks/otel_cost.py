"""What OpenTelemetry costs per delete: telemetry off, the API without an SDK, the SDK on.

Three variants of the same ``LeadShim.delete_lead`` (stage item, ``rate_limit=None``) against
one emulator in a child process, interleaved call by call, every order of the three in turn:

- ``off``: no telemetry at all (as when ``opentelemetry-api`` is not installed);
- ``api``: ``opentelemetry-api`` importable, no SDK configured: the API's proxies, which is
  what every user without an SDK pays;
- ``sdk``: the OpenTelemetry SDK with a metric reader and a span processor (an in-memory
  exporter, so no export I/O is timed), which is what a user who configured one pays.

Printed: the median per call of each, the median of per-round ratios to ``off`` (goal for
``api``: <= 1.02, "nothing measurable"), and the extra microseconds per delete. The
telemetry call alone (``telemetry.record_delete`` + ``record_difference``, no I/O) is timed
the same way for a noise-free figure.

Run: ``.venv/bin/python benchmarks/otel_cost.py [--calls 3000] [--warmup 200]``
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable

from _portal_process import PortalProcess

from b24shim import DeleteResult, Difference, LeadShim, Outcome, Route, Stage, telemetry

GOAL_API_RATIO = 1.02


try:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
except ImportError:
    sys.exit("install the SDK first: .venv/bin/pip install -e '.[test]'")


def _variants() -> dict[str, telemetry._Instruments | None]:
    tracer_provider = TracerProvider()
    exporter = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    return {
        "off": None,
        "api": telemetry._Instruments(),  # global providers, none set: the API's proxies
        "sdk": telemetry._Instruments(meter_provider, tracer_provider),
    }


def _interleave(
    calls: int, variants: dict[str, telemetry._Instruments | None], work: Callable[[], None]
) -> dict[str, list[int]]:
    samples: dict[str, list[int]] = {name: [] for name in variants}
    clock = time.perf_counter_ns
    # Every order in turn, so that each variant follows each other one equally often (the
    # SDK's work leaves the caches and the collector worse for whatever runs next).
    orders = list(itertools.permutations(variants))
    for n in range(calls):
        for name in orders[n % len(orders)]:
            instruments = variants[name]
            # The switch the shim itself reads: no instruments means telemetry is off.
            telemetry._get = lambda i=instruments: i  # type: ignore[assignment,misc]
            started = clock()
            work()
            samples[name].append(clock() - started)
    return samples


def _report(title: str, samples: dict[str, list[int]]) -> dict[str, float]:
    medians = {name: statistics.median(values) for name, values in samples.items()}
    ratios = {
        name: statistics.median(v / b for v, b in zip(values, samples["off"], strict=True))
        for name, values in samples.items()
    }
    print(f"\n{title}")
    for name in samples:
        extra = (medians[name] - medians["off"]) / 1000
        print(
            f"  {name:<4} median {medians[name] / 1000:9.2f} us   ratio to off "
            f"{ratios[name]:.3f}   extra {extra:+8.2f} us per delete"
        )
    return ratios


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--warmup", type=int, default=200)
    args = parser.parse_args()
    variants = _variants()
    original = telemetry._get

    result = DeleteResult(lead_id=5, outcome=Outcome.DELETED, stage=Stage.ITEM, route=Route.ITEM)
    shape = Difference("result_shape", 5, Stage.ITEM, False, True, [], "[] where legacy: true")

    def record() -> None:
        telemetry.record_delete(result, verified=False, started=1.0, finished=1.001)
        telemetry.record_difference(shape)

    _interleave(args.warmup, variants, record)
    alone = _report(
        "telemetry calls alone (one delete + one difference, no I/O):",
        _interleave(args.calls * 10, variants, record),
    )

    with PortalProcess(rate=0) as portal:
        ids = iter(portal.add_leads(len(variants) * (args.warmup + args.calls)))
        shim = LeadShim(portal.admin_webhook, stage=Stage.ITEM, rate_limit=None)

        def delete() -> None:
            assert shim.delete_lead(next(ids)).ok

        _interleave(args.warmup, variants, delete)
        whole = _report(
            f"LeadShim.delete_lead against the emulator, {args.calls} calls per variant:",
            _interleave(args.calls, variants, delete),
        )
    telemetry._get = original  # type: ignore[assignment]
    ok = whole["api"] <= GOAL_API_RATIO
    print(
        f"\nwithout an SDK: {whole['api']:.3f}x a delete with telemetry off "
        f"(goal <= {GOAL_API_RATIO}): {'PASS' if ok else 'FAIL'}; "
        f"the calls alone: {alone['api']:.2f}x of nothing"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
