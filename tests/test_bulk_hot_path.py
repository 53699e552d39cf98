"""The bulk job's shortcuts give what the long way gave: time blocks, the pacer, the results.

A bulk job reads each command's time block once, feeds the operating-time pacer once per
method and batch, and skips the verification work for chunks without verified deletes. What
a user sees must not change: each result's ``time`` field for field (non-finite numbers still
dropped), the pacer's waits, one result per id in input order.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from typing import Any

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from b24shim import AsyncLeadShim, CallTime, ErrorCode, LeadShim, Outcome
from b24shim.limits import OperatingPacer, accounting_of
from b24shim.retry import NO_RETRY
from conftest import WEBHOOK, FakeTime

BATCH_URL = WEBHOOK + "batch.json"
_LEFT_OUT = object()  # a command whose time block the answer does not carry


def _batch_body(blocks: dict[str, Any], errors: dict[str, Any] | None = None) -> str:
    results = {key: [] for key in blocks if key not in (errors or {})}
    answer = {
        "result": {
            "result": results,
            "result_error": errors or [],
            "result_time": {k: v for k, v in blocks.items() if v is not _LEFT_OUT},
        }
    }
    # json writes inf and nan as Infinity and NaN, which json.loads reads back as such.
    return json.dumps(answer).replace('"9-400"', "9" * 400)


def test_each_result_gets_its_own_commands_time_block_field_for_field(
    portal: responses.RequestsMock,
) -> None:
    blocks: dict[str, Any] = {
        "d0": {
            "start": 1796129468.25,
            "finish": 1796129468.5,
            "duration": 0.25,
            "processing": 0.125,
            "date_start": "2026-12-01T12:51:08+00:00",
            "date_finish": "2026-12-01T12:51:09+00:00",
            "operating": 0,
            "operating_reset_at": 1796130068,
        },
        "d1": {
            "start": float("inf"),
            "finish": float("nan"),
            "duration": float("-inf"),
            "processing": "9-400",  # a 400-digit integer in the JSON text
            "date_start": 5,
            "date_finish": None,
            "operating": True,
            "operating_reset_at": -3,
        },
        "d2": None,  # sent as null: no CallTime, but the raw body keeps it
        "d3": _LEFT_OUT,  # not sent at all
        "d4": {"start": "1796129468.75", "operating": 12, "operating_reset_at": 1796130068.9},
    }
    portal.post(BATCH_URL, body=_batch_body(blocks))
    shim = LeadShim(WEBHOOK, stage="item", rate_limit=None, retry=NO_RETRY)
    results = list(shim.delete_leads([11, 12, 13, 14, 15]))

    assert [r.lead_id for r in results] == [11, 12, 13, 14, 15]
    assert [r.outcome for r in results] == [Outcome.DELETED] * 5
    assert results[0].time == CallTime(
        start=1796129468.25,
        finish=1796129468.5,
        duration=0.25,
        processing=0.125,
        date_start="2026-12-01T12:51:08+00:00",
        date_finish="2026-12-01T12:51:09+00:00",
        operating=0.0,
        operating_reset_at=1796130068,
    )
    assert isinstance(results[0].time.operating, float)
    assert results[1].time == CallTime()  # nothing in it was a usable number or string
    assert results[2].time is None
    assert results[2].raw == {"result": [], "time": None}
    assert results[3].time is None
    assert results[3].raw == {"result": []}
    assert results[4].time == CallTime(
        start=1796129468.75, operating=12.0, operating_reset_at=1796130068
    )
    assert results[0].raw == {"result": [], "time": blocks["d0"]}
    # Every id at stage item still carries its result_shape difference.
    assert [[d.kind for d in r.differences] for r in results] == [["result_shape"]] * 5
    assert results[0].differences[0].detail == (
        "crm.item.delete answered [] where crm.lead.delete answers true"
    )


def test_the_longest_command_of_a_batch_sets_the_pacers_margin(
    portal: responses.RequestsMock, fake_time: FakeTime
) -> None:
    reset_at = int(fake_time.time()) + 120
    blocks = {
        # The first command was long (margin 3 x 40 s); the last one brings operating to 430.
        "d0": {"processing": 40.0, "operating": 400.0, "operating_reset_at": reset_at},
        "d1": {"processing": 0.5, "operating": 430.0, "operating_reset_at": reset_at},
    }
    portal.post(BATCH_URL, body=_batch_body(blocks))
    shim = LeadShim(WEBHOOK, stage="item", rate_limit=None, retry=NO_RETRY)
    assert all(r.ok for r in shim.delete_leads([1, 2]))
    # 430 + 3 x 40 passes 480: the next crm.item.delete waits for the reset.
    assert shim.transport.pacer.wait(["crm.item.delete"]) == pytest.approx(120.0, abs=1.0)


def test_a_command_refused_for_operating_time_blocks_its_method_until_the_reset(
    portal: responses.RequestsMock, fake_time: FakeTime
) -> None:
    reset_at = int(fake_time.time()) + 30
    blocks = {"d0": {"processing": 0.1, "operating": 10.0, "operating_reset_at": reset_at}}
    errors = {"d1": {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked"}}
    portal.post(BATCH_URL, body=_batch_body({**blocks, "d1": _LEFT_OUT}, errors))
    shim = LeadShim(WEBHOOK, stage="item", rate_limit=None, retry=NO_RETRY)
    results = list(shim.delete_leads([1, 2]))
    assert results[0].ok
    assert results[1].error is not None
    assert results[1].error.code is ErrorCode.OPERATION_TIME_LIMIT
    assert shim.transport.pacer.wait(["crm.item.delete"]) == pytest.approx(30.0, abs=1.0)


class _StoppedClock:
    def time(self) -> float:
        return 1_800_000_000.0

    def sleep(self, seconds: float) -> None:
        raise AssertionError("observing never waits")


# What a CallTime can hold: finite numbers only (the reader drops the others).
_numbers = st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False), st.integers(-5, 10**6))
_timings = st.one_of(
    st.none(),
    st.builds(
        CallTime,
        processing=_numbers.map(lambda v: None if v is None else float(v)),
        operating=_numbers.map(lambda v: None if v is None else float(v)),
        operating_reset_at=st.one_of(st.none(), st.integers(0, 2_000_000_000)),
    ),
)


@given(st.lists(_timings, max_size=8), st.lists(_timings, max_size=3))
def test_one_merged_observation_leaves_the_pacer_as_observing_each_block(
    first: list[CallTime | None], later: list[CallTime | None]
) -> None:
    clock = _StoppedClock()
    one_by_one, merged = OperatingPacer(clock), OperatingPacer(clock)
    for batch in (first, later):
        for timing in batch:
            one_by_one.observe("crm.item.delete", timing)
        merged.observe("crm.item.delete", accounting_of(batch))
    assert merged._load == one_by_one._load
    assert merged.due(["crm.item.delete"]) == one_by_one.due(["crm.item.delete"])


class _Canned(http.server.BaseHTTPRequestHandler):
    body = b""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_the_async_facade_feeds_the_pacer_a_batch_the_same_way(fake_time: FakeTime) -> None:
    # AsyncLeadShim's transport observes a batch as LeadShim's does: what ran before a command
    # refused for operating time counts, then its method is blocked until the reset.
    reset_at = int(fake_time.time()) + 30
    blocks = {"d0": {"processing": 0.1, "operating": 10.0, "operating_reset_at": reset_at}}
    errors = {"d1": {"error": "OPERATION_TIME_LIMIT", "error_description": "Method is blocked"}}
    handler = type(
        "Handler", (_Canned,), {"body": _batch_body({**blocks, "d1": _LEFT_OUT}, errors).encode()}
    )
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    webhook = f"http://127.0.0.1:{server.server_address[1]}/rest/1/abcdefgh12345678/"

    async def run() -> tuple[list[Any], float]:
        async with AsyncLeadShim(webhook, stage="item", rate_limit=None, retry=NO_RETRY) as shim:
            results = [r async for r in shim.delete_leads([1, 2])]
            return results, shim.transport.pacer.wait(["crm.item.delete"])

    try:
        results, wait = asyncio.run(run())
    finally:
        server.shutdown()
        server.server_close()
    assert results[0].ok
    assert results[1].error is not None
    assert results[1].error.code is ErrorCode.OPERATION_TIME_LIMIT
    assert wait == pytest.approx(30.0, abs=1.0)
