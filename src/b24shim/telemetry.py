"""OpenTelemetry metrics and traces for every delete (extra ``b24shim[otel]``).

When ``opentelemetry-api`` is importable, the shim records on the meter ``b24shim``:

- counter ``b24shim.deletes`` (attributes ``b24shim.stage``, ``b24shim.route``,
  ``b24shim.outcome``), one per delete;
- counter ``b24shim.differences`` (``b24shim.kind``, ``b24shim.stage``,
  ``b24shim.behavioral``), one per difference;
- histogram ``b24shim.delete.duration`` in seconds (``b24shim.route``);

and one span per delete, ``b24shim.delete_lead``, with the lead id, stage, route, outcome and
canonical error code as attributes (status ERROR when the delete failed). The span is made when
the delete is concluded, with the delete's own start and end times, so that single deletes,
bulk batches and the drop-in adapters record it the same way; it is a child of whatever span is
current then (the application's request or job).

The instruments come from the global providers, looked up on first use: configure the SDK
(``metrics.set_meter_provider(...)``, ``trace.set_tracer_provider(...)``) whenever you like, and
the API's proxies start passing measurements on. Without an SDK the API's no-op
implementations cost well under a microsecond a delete (``benchmarks/otel_cost.py``); without
``opentelemetry-api`` nothing is imported and every function here returns at once.
"""

from __future__ import annotations

import importlib.metadata
import os
from typing import TYPE_CHECKING, Any

from b24shim.result import DeleteResult, Difference

if TYPE_CHECKING:
    from opentelemetry.metrics import Counter, Histogram
    from opentelemetry.trace import Tracer

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # the extra is not installed: record nothing
    _metrics = None  # type: ignore[assignment]
    _trace = None  # type: ignore[assignment]

__all__ = ["AVAILABLE", "METER_NAME", "SPAN_NAME", "record_delete", "record_difference"]

#: True when ``opentelemetry-api`` is importable.
AVAILABLE = _metrics is not None
#: The meter (and tracer) name.
METER_NAME = "b24shim"
#: The name of the span made for each delete.
SPAN_NAME = "b24shim.delete_lead"


def _version() -> str:
    try:
        return importlib.metadata.version("b24shim")
    except importlib.metadata.PackageNotFoundError:  # run from a source tree
        return ""


class _Instruments:
    """The meter's instruments and the tracer, made once (they are proxies until an SDK is set).

    Args:
        meter_provider, tracer_provider: explicit providers (the benchmark compares them);
            the global ones when None.
    """

    def __init__(self, meter_provider: Any = None, tracer_provider: Any = None) -> None:
        assert _metrics is not None
        assert _trace is not None
        version = _version()
        meter = _metrics.get_meter(METER_NAME, version, meter_provider=meter_provider)
        self.deletes: Counter = meter.create_counter(
            "b24shim.deletes", unit="{delete}", description="Lead deletes, by stage, route, outcome"
        )
        self.differences: Counter = meter.create_counter(
            "b24shim.differences",
            unit="{difference}",
            description="Differences between the two routes, by kind and stage",
        )
        self.duration: Histogram = meter.create_histogram(
            "b24shim.delete.duration", unit="s", description="Time of one lead delete"
        )
        self.tracer: Tracer = _trace.get_tracer(
            METER_NAME, version, tracer_provider=tracer_provider
        )
        self._explicit = meter_provider is not None or tracer_provider is not None

    def active(self) -> tuple[bool, bool]:
        """(metrics, traces): whether an SDK would receive them now.

        Without an SDK the API's proxies would drop everything anyway; asking first (two
        global look-ups) spares building the attributes and the non-recording span, which is
        most of what a delete would otherwise pay for telemetry it does not use.
        """
        if self._explicit:
            return True, True
        # Has the application set a global SDK provider? The public getters look os.environ
        # up on every call until one is set, which would cost more than the telemetry
        # skipped; the API keeps the provider in a module global, read here directly. If a
        # future API moves it, this answers True and the proxies decide. A provider named by
        # OTEL_PYTHON_*_PROVIDER is loaded by the API on first use: True.
        metered = getattr(_meter_internals, "_METER_PROVIDER", True) is not None or _ENV_METER
        traced = getattr(_trace, "_TRACER_PROVIDER", True) is not None or _ENV_TRACER
        return metered, traced


_instruments: _Instruments | None = None


try:
    from opentelemetry.metrics import _internal as _meter_internals
except ImportError:  # pragma: no cover - without the API, or another layout of it
    _meter_internals = None  # type: ignore[assignment]
_ENV_METER = "OTEL_PYTHON_METER_PROVIDER" in os.environ
_ENV_TRACER = "OTEL_PYTHON_TRACER_PROVIDER" in os.environ


def _get() -> _Instruments | None:
    global _instruments  # noqa: PLW0603 - made once, on first use
    if _metrics is None:
        return None
    if _instruments is None:
        _instruments = _Instruments()  # a race makes two equal sets of proxies: harmless
    return _instruments


def record_delete(
    result: DeleteResult, *, verified: bool, started: float | None, finished: float
) -> None:
    """Count one concluded delete and its differences, time it and make its span.

    Args:
        verified: the verification checks ran for it.
        started: when it began (Unix seconds); None when unknown (no duration, no span time).
        finished: when it was concluded (Unix seconds).
    """
    instruments = _instruments if _instruments is not None else _get()
    if instruments is None:
        return
    metered, traced = instruments.active()
    if not (metered or traced):  # no SDK: nothing to build
        return
    stage, route = result.stage.value, result.route.value
    if metered:
        instruments.deletes.add(
            1,
            {
                "b24shim.stage": stage,
                "b24shim.route": route,
                "b24shim.outcome": result.outcome.value,
            },
        )
        if started is not None:
            instruments.duration.record(max(0.0, finished - started), {"b24shim.route": route})
        for difference in result.differences:
            _count(instruments, difference)
    if not traced:
        return
    attributes: dict[str, Any] = {
        "b24shim.lead_id": result.lead_id,
        "b24shim.stage": stage,
        "b24shim.route": route,
        "b24shim.method": result.method,
        "b24shim.outcome": result.outcome.value,
        "b24shim.verified": verified,
    }
    if result.error is not None:
        attributes["b24shim.error_code"] = result.error.code.value
    start_ns = None if started is None else int(started * 1e9)
    span = instruments.tracer.start_span(SPAN_NAME, start_time=start_ns, attributes=attributes)
    if not result.ok and span.is_recording():
        assert _trace is not None
        code = result.error.code.value if result.error is not None else result.outcome.value
        span.set_status(_trace.Status(_trace.StatusCode.ERROR, code))
    span.end(end_time=int(finished * 1e9))


def record_difference(difference: Difference) -> None:
    """Count one difference found outside a delete's result (those count with the delete)."""
    instruments = _instruments if _instruments is not None else _get()
    if instruments is None or not instruments.active()[0]:
        return
    _count(instruments, difference)


def _count(instruments: _Instruments, difference: Difference) -> None:
    instruments.differences.add(
        1,
        {
            "b24shim.kind": difference.kind,
            "b24shim.stage": difference.stage.value,
            "b24shim.behavioral": difference.behavioral,
        },
    )
