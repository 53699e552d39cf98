"""A portal, a network or a caller that sends what it should not: every result still true.

Each test here is one finding of the hardening review: it failed before its fix.
"""

from __future__ import annotations

import http.server
import json
import logging
import threading
from typing import Any

import pytest
import requests
import responses
import urllib3

from b24shim import CallTime, ErrorCode, InvalidLeadId, LeadShim, OAuth, Outcome
from b24shim._envelope import Reply
from b24shim.limits import OperatingPacer
from b24shim.retry import NO_RETRY
from b24shim.routes import ITEM, LEGACY, Read, ReadState
from conftest import WEBHOOK, WEBHOOK_CODE, FakeTime

LEGACY_URL = WEBHOOK + "crm.lead.delete.json"
ITEM_URL = WEBHOOK + "crm.item.delete.json"
BATCH_URL = WEBHOOK + "batch.json"


def make_shim(stage: str = "legacy", **kwargs: Any) -> LeadShim:
    return LeadShim(WEBHOOK, stage=stage, rate_limit=None, retry=NO_RETRY, **kwargs)


# -- 1. numbers in a time block that do not fit ---------------------------------------------


@pytest.mark.parametrize(
    "number",
    [float("inf"), float("-inf"), float("nan"), 10**400, "1e400", "9" * 5000, -5],
    ids=["inf", "-inf", "nan", "int400", "str-1e400", "str5000", "negative"],
)
def test_a_time_field_that_does_not_fit_is_left_out(number: object) -> None:
    block = {"start": number, "operating": number, "operating_reset_at": number}
    timing = CallTime.from_json(block)
    assert (timing.start, timing.operating, timing.operating_reset_at) == (
        (-5.0, -5.0, None) if number == -5 else (None, None, None)
    )


# As JSON text: what json.loads makes of them is inf, nan and a 400-digit int.
BAD_NUMBERS = ["1e400", "-1e400", "NaN", "Infinity", "9" * 400]


@pytest.mark.parametrize("number", BAD_NUMBERS, ids=["1e400", "-1e400", "NaN", "Inf", "int400"])
@pytest.mark.parametrize("route", ["legacy", "item"])
def test_delete_lead_returns_a_result_whatever_the_time_block_holds(
    portal: responses.RequestsMock, number: str, route: str
) -> None:
    result_value = "true" if route == "legacy" else "[]"
    body = f'{{"result": {result_value}, "time": {{"start": {number}, "operating": {number},'
    body += f' "operating_reset_at": {number}, "duration": {number}}}}}'
    portal.post(LEGACY_URL if route == "legacy" else ITEM_URL, body=body)
    result = make_shim(route).delete_lead(5)
    assert result.outcome is Outcome.DELETED
    assert result.time is not None
    assert result.time.operating is None


def test_a_bad_result_time_entry_does_not_lose_the_batch(portal: responses.RequestsMock) -> None:
    times = {
        f"d{i}": {"start": 1e400 if i == 1 else 1.0, "operating_reset_at": 1e400} for i in range(3)
    }
    body = json.dumps(
        {"result": {"result": dict.fromkeys(times, True), "result_error": [], "result_time": times}}
    ).replace("Infinity", "1e400")
    portal.post(BATCH_URL, body=body)
    results = list(make_shim().delete_leads([1, 2, 3]))
    assert [r.outcome for r in results] == [Outcome.DELETED] * 3


# -- 2. redirects ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_is_not_followed_and_names_the_new_address(
    portal: responses.RequestsMock, status: int
) -> None:
    moved = f"https://moved.example.org/rest/7/{WEBHOOK_CODE}/crm.lead.delete.json"
    portal.post(LEGACY_URL, status=status, headers={"Location": moved})
    result = make_shim().delete_lead(5)
    assert len(portal.calls) == 1  # nothing sent to moved.example.org
    assert result.outcome is Outcome.FAILED  # a redirect comes before the method runs
    assert result.error is not None
    assert result.error.code is ErrorCode.PORTAL_MOVED
    assert result.error.http_status == status
    assert "https://moved.example.org/rest/7/***/" in result.error.description
    assert WEBHOOK_CODE not in result.error.description
    assert "does not follow redirects" in result.error.description


def test_the_token_refresh_does_not_follow_a_redirect(portal: responses.RequestsMock) -> None:
    oauth = OAuth(
        "https://portal.example.com", "old-access", "old-refresh", "app.1", "cl1entS3cret"
    )
    portal.post(
        "https://portal.example.com/rest/crm.lead.delete.json",
        status=401,
        json={
            "error": "expired_token",
            "error_description": "The access token provided has expired",
        },
    )
    portal.get(
        "https://oauth.bitrix.info/oauth/token/",
        status=307,
        headers={"Location": "https://evil.example.org/steal"},
    )
    result = LeadShim(oauth, rate_limit=None, retry=NO_RETRY).delete_lead(5)
    assert len(portal.calls) == 2
    assert result.error is not None
    assert result.error.code is ErrorCode.PORTAL_MOVED
    assert "https://evil.example.org/steal" in result.error.description
    assert "cl1entS3cret" not in result.error.description


# -- 3. deeply nested JSON -------------------------------------------------------------------


@pytest.mark.parametrize("route", ["legacy", "item"])
def test_deeply_nested_json_is_a_protocol_error(portal: responses.RequestsMock, route: str) -> None:
    portal.post(LEGACY_URL if route == "legacy" else ITEM_URL, body="[" * 100_000)
    result = make_shim(route).delete_lead(5)
    assert result.error is not None
    assert result.error.code is ErrorCode.PROTOCOL_ERROR
    assert result.outcome is Outcome.UNKNOWN  # status 200: the delete may have run


@pytest.mark.parametrize(
    "encode",
    [
        lambda text: text.encode(),
        lambda text: b"\xef\xbb\xbf" + text.encode(),
        lambda text: text.encode("utf-16"),
        lambda text: text.encode("utf-16-le"),
        lambda text: text.encode("utf-32"),
        lambda text: b"  \n" + text.encode(),
        lambda text: text.encode() + b" \r\n",
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-le", "utf-32", "leading-space", "trailing-space"],
)
def test_an_answer_in_any_json_encoding_is_read(
    portal: responses.RequestsMock, encode: Any
) -> None:
    portal.post(ITEM_URL, body=encode('{"result": [], "time": {"operating": 1.5}}'))
    result = make_shim("item").delete_lead(5)
    assert result.outcome is Outcome.DELETED
    assert result.time is not None
    assert result.time.operating == 1.5


@pytest.mark.parametrize(
    "body",
    [
        b'{"result": "\xff\xfe"}',
        b"{" * 100_000,
        b"{\x00",
        b'{"result": []} and more',
        b'{"result": []}{"result": []}',
        b'{"result": [],}',
    ],
    ids=["not-utf-8", "deep-objects", "nul", "trailing-text", "two-objects", "trailing-comma"],
)
def test_an_object_that_is_not_readable_json_is_a_protocol_error(
    portal: responses.RequestsMock, body: bytes
) -> None:
    portal.post(ITEM_URL, body=body)
    result = make_shim("item").delete_lead(5)
    assert result.error is not None
    assert result.error.code is ErrorCode.PROTOCOL_ERROR
    assert result.outcome is Outcome.UNKNOWN  # status 200: the delete may have run


# -- 4. list rows whose id is not a lead id --------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["²", "٣", "9" * 5000, 10**5000, "", "-3", True],
    ids=["superscript", "arabic", "long-str", "long-int", "empty", "negative", "bool"],
)
def test_a_list_row_with_an_id_that_is_not_a_lead_id_shows_no_lead(value: object) -> None:
    reply = Reply(result=[{"ID": value}, {"ID": "5"}])
    assert Read.from_list(reply, [5, 7]) == {
        5: Read(ReadState.EXISTS),
        7: Read(ReadState.NOT_FOUND),
    }


def test_a_verified_bulk_job_survives_a_bad_list_row(portal: responses.RequestsMock) -> None:
    rows = [{"ID": "²"}, {"ID": "9" * 5000}, {"ID": "1"}]
    answer = {
        "result": {
            "result": {
                "lead_before": rows,
                "item_before": {"items": [{"id": 1}]},
                "d0": True,
                "item_after": {"items": []},
            },
            "result_error": [],
        }
    }
    portal.post(BATCH_URL, json=answer)
    (result,) = make_shim("legacy_verified").delete_leads([1])
    assert result.outcome is Outcome.DELETED
    assert [d.kind for d in result.differences if d.behavioral] == []


# -- 5. a reset far in the future --------------------------------------------------------------


def test_the_pacer_never_waits_longer_than_the_portals_window() -> None:
    clock = FakeTime()
    pacer = OperatingPacer(clock, limit=480.0)
    far = clock.time() + 3000 * 365 * 86400
    pacer.observe("crm.lead.delete", CallTime(operating=479.0, operating_reset_at=int(far)))
    waited = pacer.wait(["crm.lead.delete"])
    assert 0 < waited <= 600.0
    assert pacer.wait(["crm.lead.delete"]) == 0.0  # the budget is free again after it


# -- 6 and 9. secrets in DEBUG logs ------------------------------------------------------------


class _Always503(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"error":"INTERNAL_SERVER_ERROR","error_description":"Internal server error"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_urllib3_retry_lines_of_a_users_own_session_hide_the_webhook_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Always503)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{server.server_port}/rest/7/{WEBHOOK_CODE}/"
    session = requests.Session()
    retry = urllib3.util.Retry(
        total=2, backoff_factor=0, status_forcelist=[503], allowed_methods=None
    )
    session.mount("http://", requests.adapters.HTTPAdapter(max_retries=retry))
    shim = LeadShim(webhook, session=session, rate_limit=None, retry=NO_RETRY)
    caplog.set_level(logging.DEBUG)
    try:
        result = shim.delete_lead(5)
    finally:
        server.shutdown()
        server.server_close()
    assert result.error is not None
    assert {r.name for r in caplog.records} >= {"urllib3.util.retry", "urllib3.connectionpool"}
    for record in caplog.records:  # as every handler would format them
        assert WEBHOOK_CODE not in logging.Formatter().format(record)
    assert "/rest/7/***/" in caplog.text


def test_a_failing_on_refresh_callback_is_logged_without_the_tokens(
    portal: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    def store(access: str, refresh: str) -> None:
        raise RuntimeError(f"database down while storing {access} and {refresh}")

    oauth = OAuth(
        "https://portal.example.com", "old-access", "old-refresh", "app.1", "s3cret", store
    )
    url = "https://portal.example.com/rest/crm.lead.delete.json"
    portal.post(url, status=401, json={"error": "expired_token", "error_description": "x"})
    portal.get(
        "https://oauth.bitrix.info/oauth/token/",
        json={"access_token": "n3wAccessT0ken", "refresh_token": "n3wRefreshT0ken"},
    )
    portal.post(url, json={"result": True})
    caplog.set_level(logging.DEBUG)
    assert LeadShim(oauth, rate_limit=None, retry=NO_RETRY).delete_lead(5).ok
    text = caplog.text
    assert "on_refresh callback failed" in text
    assert "database down" in text  # the cause is still shown
    assert "n3wAccessT0ken" not in text
    assert "n3wRefreshT0ken" not in text


# -- 7. ids whose repr fails or is huge ------------------------------------------------------


class _HostileRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr for you")


def _deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_IDS = [10**5000, _deep_list(100_000), _HostileRepr(), "x" * 1_000_000]


@pytest.mark.parametrize("value", HOSTILE_IDS, ids=["huge-int", "deep-list", "bad-repr", "long"])
def test_an_invalid_id_with_a_hostile_repr_still_has_a_message(value: object) -> None:
    with pytest.raises(InvalidLeadId) as caught:
        make_shim().delete_lead(value)
    assert str(caught.value).startswith("not a lead id: ")
    assert len(str(caught.value)) < 200


def test_a_bulk_job_with_hostile_ids_gives_one_result_each(portal: responses.RequestsMock) -> None:
    portal.post(BATCH_URL, json={"result": {"result": {"d4": True}, "result_error": []}})
    results = list(make_shim().delete_leads([*HOSTILE_IDS, 9]))
    assert [r.outcome for r in results] == [Outcome.FAILED] * 4 + [Outcome.DELETED]
    assert [r.error.code if r.error else None for r in results[:4]] == [ErrorCode.INVALID_ID] * 4


# -- 8. false successes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "result",
    [{"error": "ACCESS_DENIED"}, [False], [1], True, {"redirectUrl": "/crm/lead/"}, "ok", 1],
)
def test_the_item_route_takes_only_its_own_success(
    portal: responses.RequestsMock, result: object
) -> None:
    portal.post(ITEM_URL, json={"result": result})
    outcome = make_shim("item").delete_lead(5)
    assert not outcome.ok
    assert outcome.outcome is Outcome.UNKNOWN
    assert outcome.error is not None
    assert outcome.error.code is ErrorCode.PROTOCOL_ERROR


@pytest.mark.parametrize("result", [[], {}])
def test_the_item_routes_empty_array_is_success_in_both_json_shapes(
    portal: responses.RequestsMock, result: object
) -> None:
    portal.post(ITEM_URL, json={"result": result})
    assert make_shim("item").delete_lead(5).outcome is Outcome.DELETED


@pytest.mark.parametrize("error", [{"error": "", "error_description": "Access denied."}, "boom"])
def test_a_batch_command_in_both_result_and_result_error_is_not_deleted(
    portal: responses.RequestsMock, error: object
) -> None:
    answer = {"result": {"result": {"d0": True}, "result_error": {"d0": error}}}
    portal.post(BATCH_URL, json=answer)
    (result,) = make_shim().delete_leads([5])
    assert not result.ok
    assert result.outcome is Outcome.UNKNOWN


def test_check_delete_tells_each_routes_success_apart() -> None:
    assert LEGACY.check_delete(Reply(result=True)).ok
    assert not LEGACY.check_delete(Reply(result=[])).ok
    assert ITEM.check_delete(Reply(result=[])).ok
    assert not ITEM.check_delete(Reply(result=True)).ok


@pytest.mark.parametrize("body", [b"[" * 100_000, b"<html>moved</html>", b""])
def test_a_token_endpoint_answer_that_is_not_json_is_a_protocol_error(
    portal: responses.RequestsMock, body: bytes
) -> None:
    oauth = OAuth("https://portal.example.com", "old-access", "old-refresh", "app.1", "s3cret")
    portal.post(
        "https://portal.example.com/rest/crm.lead.delete.json",
        status=401,
        json={"error": "expired_token", "error_description": "expired"},
    )
    portal.get("https://oauth.bitrix.info/oauth/token/", body=body)
    result = LeadShim(oauth, rate_limit=None, retry=NO_RETRY).delete_lead(5)
    assert result.error is not None
    assert result.error.code is ErrorCode.PROTOCOL_ERROR
    assert "without JSON" in result.error.description
