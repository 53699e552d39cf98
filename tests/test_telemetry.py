"""OpenTelemetry: counters, the duration histogram and one span per delete, read from the SDK.

The SDK's global providers are set once for the whole test process (OpenTelemetry allows it
only once), with an in-memory metric reader and span exporter; each test reads what its own
deletes added.
"""

from __future__ import annotations

from typing import Any

import pytest
import responses
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from b24shim import LeadShim, Stage, telemetry
from b24shim.emulator import ManualClock
from conftest import WEBHOOK

_READER = InMemoryMetricReader()
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def sdk() -> None:
    if not isinstance(metrics.get_meter_provider(), MeterProvider):
        metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)


def points(name: str) -> list[Any]:
    data = _READER.get_metrics_data()
    found = []
    for resource in data.resource_metrics if data is not None else ():
        for scope in resource.scope_metrics:
            if scope.scope.name != telemetry.METER_NAME:
                continue
            for metric in scope.metrics:
                if metric.name == name:
                    found.extend(metric.data.data_points)
    return found


def count(name: str, **attributes: object) -> float:
    wanted = {f"b24shim.{k}": v for k, v in attributes.items()}
    return sum(
        p.value for p in points(name) if all(p.attributes.get(k) == v for k, v in wanted.items())
    )


@pytest.mark.usefixtures("sdk")
def test_each_delete_is_counted_timed_and_traced(portal: responses.RequestsMock) -> None:
    portal.post(WEBHOOK + "crm.item.delete.json", json={"result": []})
    portal.post(
        WEBHOOK + "crm.item.delete.json",
        status=400,
        json={"error": "NOT_FOUND", "error_description": "Item not found"},
    )
    clock = ManualClock()
    before_ok = count("b24shim.deletes", stage="item", route="item", outcome="deleted")
    before_failed = count("b24shim.deletes", stage="item", route="item", outcome="failed")
    before_shapes = count("b24shim.differences", kind="result_shape", behavioral=False)
    _EXPORTER.clear()
    shim = LeadShim(WEBHOOK, stage=Stage.ITEM, rate_limit=None, clock=clock)
    assert shim.delete_lead(5).ok
    assert not shim.delete_lead(6).ok

    assert count("b24shim.deletes", stage="item", route="item", outcome="deleted") == before_ok + 1
    assert (
        count("b24shim.deletes", stage="item", route="item", outcome="failed") == before_failed + 1
    )
    assert count("b24shim.differences", kind="result_shape", behavioral=False) == before_shapes + 1
    (histogram,) = [
        p for p in points("b24shim.delete.duration") if p.attributes["b24shim.route"] == "item"
    ]
    assert histogram.count >= 2

    spans = [s for s in _EXPORTER.get_finished_spans() if s.name == "b24shim.delete_lead"]
    assert [s.attributes["b24shim.lead_id"] for s in spans] == [5, 6]
    ok, failed = spans
    assert ok.attributes["b24shim.method"] == "crm.item.delete"
    assert ok.status.is_ok
    assert failed.attributes["b24shim.error_code"] == "NOT_FOUND"
    assert failed.status.status_code is trace.StatusCode.ERROR
    assert ok.start_time == int(clock.time() * 1e9)  # the delete's own times, from its clock


@pytest.mark.usefixtures("sdk")
def test_a_span_is_a_child_of_the_applications_span(portal: responses.RequestsMock) -> None:
    portal.post(WEBHOOK + "crm.lead.delete.json", json={"result": True})
    _EXPORTER.clear()
    tracer = trace.get_tracer("the application")
    with tracer.start_as_current_span("cleanup job") as job:
        LeadShim(WEBHOOK, rate_limit=None).delete_lead(7)
    (span,) = [s for s in _EXPORTER.get_finished_spans() if s.name == telemetry.SPAN_NAME]
    assert span.parent is not None
    assert span.parent.span_id == job.get_span_context().span_id
    assert span.attributes["b24shim.route"] == "legacy"
    assert span.attributes["b24shim.verified"] is False
