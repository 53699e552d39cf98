"""The drop-in adapter under a real requests.Session: what legacy code sends and sees."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st
from responses import matchers

from b24shim import Difference, LeadShim, OAuth, Stage
from b24shim import adapters as adapters_module
from b24shim.adapters import ShimAdapter, install
from b24shim.adapters._calls import encode_json
from b24shim.retry import NO_RETRY
from conftest import WEBHOOK, WEBHOOK_CODE
from portal_answers import ANSWERS, TIME

LEGACY_URL = WEBHOOK + "crm.lead.delete.json"
ITEM_URL = WEBHOOK + "crm.item.delete.json"
BATCH_URL = WEBHOOK + "batch.json"

INVALID_ID = {"error": "", "error_description": "ID is not defined or invalid."}
METHOD_NOT_FOUND = {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"}


def php_json(body: object) -> bytes:
    """JSON as the portal (and the emulator) sends it: compact, UTF-8."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# What crm.lead.delete itself answers, per condition. For a missing lead the item route gives
# the current portals' legacy answer until it has seen this portal's own (legacy_not_found
# "auto", DESIGN 11).
LEGACY_ANSWER: dict[str, dict[str, tuple[int, dict[str, Any]]]] = {
    "legacy": {c: ANSWERS[c]["legacy"] for c in ("deleted", "not_found", "access_denied")},
    "item": {
        "deleted": ANSWERS["deleted"]["legacy"],
        "not_found": (400, {"error": "ERROR_CORE", "error_description": "Item not found"}),
        "access_denied": ANSWERS["access_denied"]["legacy"],
    },
}


def make_shim(stage: str | Stage = "legacy", **kwargs: Any) -> LeadShim:
    return LeadShim(WEBHOOK, stage=stage, rate_limit=None, retry=NO_RETRY, **kwargs)


def routed_session(stage: str | Stage = "legacy", **kwargs: Any) -> requests.Session:
    """A session with a ShimAdapter mounted for the portal, its shim at ``stage``."""
    session = requests.Session()
    session.mount("https://", ShimAdapter(make_shim(stage, **kwargs)))
    return session


@pytest.fixture(autouse=True)
def _no_leftover_installation() -> Iterator[None]:
    yield
    adapters_module._reset_for_tests()


@pytest.fixture(params=["legacy", "item"], ids=["legacy-route", "item-route"])
def route(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def shim_session(route: str) -> Iterator[requests.Session]:
    with routed_session(route) as session:
        yield session


def expect_delete(portal: responses.RequestsMock, route: str, lead_id: int, condition: str) -> None:
    """The portal's own answer for the route's delete of ``lead_id``, pinned exactly."""
    status, body = ANSWERS[condition][route]
    if route == "item":
        portal.post(
            ITEM_URL,
            status=status,
            json=body,
            match=[
                matchers.json_params_matcher({"entityTypeId": 1, "id": lead_id}, strict_match=True)
            ],
        )
    else:
        portal.post(
            LEGACY_URL,
            status=status,
            body=php_json(body),
            content_type="application/json; charset=utf-8",
            match=[matchers.json_params_matcher({"id": lead_id}, strict_match=True)],
        )


# -- one delete: the legacy answer, whichever route ------------------------------------------


@pytest.mark.parametrize("condition", ["deleted", "not_found", "access_denied"])
def test_the_legacy_code_sees_exactly_what_crm_lead_delete_answers(
    portal: responses.RequestsMock, shim_session: requests.Session, route: str, condition: str
) -> None:
    expect_delete(portal, route, 5, condition)
    response = shim_session.post(LEGACY_URL, json={"id": 5})
    status, body = LEGACY_ANSWER[route][condition]
    assert response.status_code == status
    assert response.content == php_json(body)
    assert response.json() == body
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.url == LEGACY_URL
    assert response.request is not None
    assert response.request.url == LEGACY_URL
    assert len(portal.calls) == 1


@pytest.mark.parametrize(
    "payload",
    [{"id": 0}, {"id": "-5"}, {"id": ""}, {"id": "abc"}, {}, {"ID": "", "id": 5}],
    # ID is set in the last one, so it wins even when empty (spec 2.2)
)
def test_an_id_php_casts_to_nothing_is_answered_as_invalid_without_a_request(
    portal: responses.RequestsMock, shim_session: requests.Session, payload: dict[str, Any]
) -> None:
    response = shim_session.post(LEGACY_URL, json=payload)
    assert response.status_code == 400
    assert response.content == php_json(INVALID_ID)
    assert response.reason == "Bad Request"
    assert len(portal.calls) == 0


@pytest.mark.parametrize(
    "body",
    [b'\xef\xbb\xbf{"id": 5}', '{"id": 5}'.encode("utf-16-le"), '{"id": 5}'.encode("utf-16")],
    ids=["utf8-bom", "utf16-le", "utf16-bom"],
)
def test_a_json_body_php_cannot_read_carries_no_id(
    portal: responses.RequestsMock, shim_session: requests.Session, body: bytes
) -> None:
    # PHP's json_decode reads neither a BOM nor UTF-16 (json.loads of bytes reads both): the
    # portal sees no id, and so does the shim.
    response = shim_session.post(
        LEGACY_URL, data=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.content == php_json(INVALID_ID)
    assert len(portal.calls) == 0


_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), _JSON_VALUES, max_size=6))
def test_the_drop_ins_write_json_as_json_dumps_does(body: dict[str, Any]) -> None:
    # encode_json keeps one C encoder instead of JSONEncoder.encode's new one per call: the
    # bytes must stay json.dumps's, compact and UTF-8, as the portal writes them.
    assert encode_json(body) == php_json(body)


COERCIBLE = [("12abc", 12), ([5], 1), (True, 1), (1.9, 1), ("1e3", 1000)]


@pytest.mark.parametrize(("value", "coerced"), COERCIBLE)
@pytest.mark.parametrize("stage", ["legacy", "legacy_verified"])
def test_at_a_legacy_stage_a_coercible_id_goes_to_the_portal_unchanged_and_is_recorded(
    portal: responses.RequestsMock, stage: str, value: object, coerced: int
) -> None:
    # DESIGN 6: legacy stages behave as legacy, observed.
    portal.post(LEGACY_URL, body=b'{"result":true}', content_type="application/json")
    found: list[Difference] = []
    with routed_session(stage, on_difference=found.append) as session:
        response = session.post(LEGACY_URL, json={"id": value})
    assert response.content == b'{"result":true}'
    assert json.loads(portal.calls[0].request.body) == {"id": value}  # byte for byte
    assert [(d.kind, d.lead_id, d.behavioral) for d in found] == [("id_coercion", coerced, True)]
    assert "unchanged" in found[0].detail


@pytest.mark.parametrize(("value", "coerced"), COERCIBLE)
@pytest.mark.parametrize("stage", ["item_verified", "item"])
def test_at_an_item_stage_a_coercible_id_is_refused_without_a_request_and_is_recorded(
    portal: responses.RequestsMock, stage: str, value: object, coerced: int
) -> None:
    found: list[Difference] = []
    with routed_session(stage, on_difference=found.append) as session:
        response = session.post(LEGACY_URL, json={"id": value})
    assert (response.status_code, response.content) == (400, php_json(INVALID_ID))
    assert len(portal.calls) == 0
    assert [(d.kind, d.lead_id, d.stage.value) for d in found] == [("id_coercion", coerced, stage)]
    assert "refused" in found[0].detail


@pytest.mark.parametrize(
    ("stage", "sent"), [("legacy", "crm.lead.delete?id=12abc"), ("item", None)]
)
def test_a_coercible_id_in_a_batch_follows_the_stage(
    portal: responses.RequestsMock, stage: str, sent: str | None
) -> None:
    portal.post(
        BATCH_URL,
        json={"result": {"result": {"a": True}, "result_error": [], "result_time": []}},
    )
    found: list[Difference] = []
    with routed_session(stage, on_difference=found.append) as session:
        session.post(BATCH_URL, json={"cmd": {"a": "crm.lead.delete?id=12abc"}})
    body = json.loads(portal.calls[0].request.body)
    # At an item stage the command becomes id=0, which the portal answers as an invalid id.
    assert body["cmd"]["a"] == (sent or "crm.lead.delete?id=0")
    assert [(d.kind, d.lead_id) for d in found] == [("id_coercion", 12)]


def test_the_invalid_id_answer_is_the_portals_own(
    portal: responses.RequestsMock,
) -> None:
    # What crm.lead.delete itself answers for id=0, byte for byte (spec 2.4).
    status, body = ANSWERS["invalid_id"]["legacy"]
    portal.post(LEGACY_URL, status=status, body=php_json(body))
    with requests.Session() as plain:
        real = plain.post(LEGACY_URL, json={"id": 0})
    with routed_session("item") as session:
        answered = session.post(LEGACY_URL, json={"id": "7abc"})
    assert (answered.status_code, answered.content) == (real.status_code, real.content)


@pytest.mark.parametrize(
    ("send", "lead_id"),
    [
        (lambda s: s.get(WEBHOOK + "crm.lead.delete", params={"id": 5}), 5),
        (lambda s: s.post(WEBHOOK + "crm.lead.delete", data={"id": "6"}), 6),
        (lambda s: s.post(WEBHOOK + "CRM.Lead.Delete.json", json={"ID": 7, "id": 8}), 7),
        (lambda s: s.post(WEBHOOK + "crm.lead.delete.json", json={"ID": None, "id": 9}), 9),
        (lambda s: s.post(WEBHOOK + "crm.lead.delete?id=1", data={"id": "10"}), 10),
        (lambda s: s.post(WEBHOOK + "crm.lead.delete?ID=11", data={"id": "12"}), 11),
        (lambda s: s.post(WEBHOOK + "crm.lead.delete", data="id=13&fields[x]=1"), 13),
        (lambda s: s.post(WEBHOOK + "crm.lead.delete", json={"id": " 14\n"}), 14),
    ],
    ids=[
        "get-query",
        "post-form",
        "caps-ID-wins",
        "ID-null",
        "body-wins",
        "query-ID-wins",
        "raw-body",
        "whitespace",
    ],
)
def test_every_way_of_sending_the_id_is_understood(
    portal: responses.RequestsMock, send: Any, lead_id: int
) -> None:
    expect_delete(portal, "item", lead_id, "deleted")
    with routed_session("item") as session:
        response = send(session)
    assert response.status_code == 200
    assert response.json() == {"result": True, "time": TIME}


def test_the_routed_call_keeps_the_callers_headers_and_describes_its_own_body(
    portal: responses.RequestsMock,
) -> None:
    expect_delete(portal, "item", 5, "deleted")
    with routed_session("item") as session:
        session.headers["X-Integration"] = "legacy-42"
        response = session.post(LEGACY_URL, data={"id": "5"})  # a form body, routed as JSON
    assert response.status_code == 200
    sent = portal.calls[0].request
    body = b'{"entityTypeId":1,"id":5}'
    assert sent.body == body
    assert sent.headers["X-Integration"] == "legacy-42"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["Content-Length"] == str(len(body))
    assert "application/x-www-form-urlencoded" not in str(sent.headers)
    # The caller's response carries the caller's request, untouched.
    assert response.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert response.request.body == "id=5"


# A time block as PHP writes it, in forms json.dumps would write otherwise (1.0e-5, 0.0).
PHP_TIME = (
    b'{"start":1764583200.0125,"finish":1764583200.0127,"duration":2.0e-4,"processing":1.0e-5,'
    b'"date_start":"2026-12-01T10:00:00+03:00","date_finish":"2026-12-01T10:00:00+03:00",'
    b'"operating_reset_at":1764583800,"operating":0.0}'
)


@pytest.mark.parametrize(
    ("tail", "legacy"),
    [
        # The portal's envelope and nothing else: its own bytes, with true.
        (b"}", b'{"result":true,"time":' + PHP_TIME + b"}"),
        # More in it: the legacy shape, as to_legacy() gives it.
        (b',"total":0}', php_json({"result": True, "time": json.loads(PHP_TIME)})),
    ],
    ids=["envelope", "more-in-it"],
)
def test_a_routed_success_answers_with_the_portals_own_time_block(
    portal: responses.RequestsMock, tail: bytes, legacy: bytes
) -> None:
    portal.post(ITEM_URL, body=b'{"result":[],"time":' + PHP_TIME + tail)
    with routed_session("item") as session:
        response = session.post(LEGACY_URL, json={"id": 5})
    assert response.status_code == 200
    assert response.content == legacy


def test_a_streamed_answer_reads_like_the_portals(portal: responses.RequestsMock) -> None:
    expect_delete(portal, "item", 5, "deleted")
    with routed_session("item") as session:
        response = session.post(LEGACY_URL, json={"id": 5}, stream=True)
        content = b"".join(response.iter_content(7))
    assert content == php_json({"result": True, "time": TIME})
    assert response.headers["Content-Length"] == str(len(content))


def test_the_portal_address_is_compared_as_an_address(portal: responses.RequestsMock) -> None:
    url = "https://PORTAL.Example.com:443/rest/7/" + WEBHOOK_CODE + "/crm.lead.delete.json"
    # The routed delete is the caller's own request, re-aimed: its address as the caller wrote it.
    portal.post(
        url.replace("crm.lead.delete", "crm.item.delete"),
        json=ANSWERS["deleted"]["item"][1],
        match=[matchers.json_params_matcher({"entityTypeId": 1, "id": 5}, strict_match=True)],
    )
    with routed_session("item") as session:
        assert session.post(url, json={"id": 5}).json()["result"] is True


def test_the_item_route_reports_its_differences(portal: responses.RequestsMock) -> None:
    expect_delete(portal, "item", 5, "deleted")
    seen: list[Difference] = []
    with routed_session("item", on_difference=seen.append) as session:
        session.post(LEGACY_URL, json={"id": 5})
    assert [d.kind for d in seen] == ["result_shape"]


def test_the_legacy_stage_passes_the_request_through_byte_for_byte(
    portal: responses.RequestsMock,
) -> None:
    odd = b'{"result": true, "time": {"start": 1705764932.998683, "date_start": "2024"}}'
    portal.post(LEGACY_URL, body=odd, headers={"X-Bitrix-Times": "1"})
    with routed_session("legacy") as session:
        response = session.post(
            LEGACY_URL,
            data=b'{"id":5,"extra":"\\u00e9"}',
            headers={"Content-Type": "application/json"},
        )
    assert response.content == odd
    assert response.headers["X-Bitrix-Times"] == "1"
    assert portal.calls[0].request.body == b'{"id":5,"extra":"\\u00e9"}'


def test_the_verified_stages_answer_like_legacy(portal: responses.RequestsMock) -> None:
    portal.post(
        BATCH_URL,
        json={
            "result": {
                "result": {
                    "lead_before": {"ID": "5"},
                    "item_before": {"item": {"id": 5}},
                    "delete": [],
                },
                "result_error": {"other_after": {"error": "", "error_description": "Not found"}},
                "result_total": [],
                "result_next": [],
                "result_time": {"delete": TIME},
            },
            "time": TIME,
        },
    )
    with routed_session("item_verified") as session:
        response = session.post(LEGACY_URL, json={"id": 5})
    assert (response.status_code, response.content) == (
        200,
        php_json({"result": True, "time": TIME}),
    )


def test_system_errors_keep_their_status_and_body(portal: responses.RequestsMock) -> None:
    body = {
        "error": "OPERATION_TIME_LIMIT",
        "error_description": "Method is blocked due to operation time limit.",
    }
    portal.post(ITEM_URL, status=429, json=body)
    with routed_session("item") as session:
        response = session.post(LEGACY_URL, json={"id": 5})
    assert (response.status_code, response.content) == (429, php_json(body))


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (requests.ConnectionError(f"reset by {WEBHOOK}"), requests.ConnectionError),
        (requests.ReadTimeout(f"read timed out: {WEBHOOK}"), requests.ReadTimeout),
    ],
    ids=["reset", "read-timeout"],
)
def test_a_failed_connection_is_the_exception_legacy_code_would_see(
    portal: responses.RequestsMock,
    route: str,
    raised: Exception,
    expected: type[Exception],
) -> None:
    portal.post(ITEM_URL if route == "item" else LEGACY_URL, body=raised)
    with routed_session(route) as session, pytest.raises(expected) as info:
        session.post(LEGACY_URL, json={"id": 5})
    if route == "item":
        assert "b24shim: crm.item.delete of lead 5 failed before an answer" in str(info.value)
        assert WEBHOOK_CODE not in str(info.value)
        assert info.value.request is not None  # type: ignore[attr-defined]


class _Recorder:
    """An ``on_difference`` callable that also records every concluded delete."""

    def __init__(self) -> None:
        self.deletes: list[Any] = []

    def __call__(self, difference: Difference) -> None:
        pass

    def record_delete(self, result: Any, *, verified: bool, duration: float | None) -> None:
        self.deletes.append(result)


def test_a_delete_that_got_no_answer_is_recorded_as_unknown(
    portal: responses.RequestsMock, route: str
) -> None:
    url = ITEM_URL if route == "item" else LEGACY_URL
    portal.post(url, body=requests.ConnectionError(f"reset by {WEBHOOK}"))
    recorder = _Recorder()
    with (
        routed_session(route, on_difference=recorder) as session,
        pytest.raises(requests.ConnectionError),
    ):
        session.post(LEGACY_URL, json={"id": 5})
    (result,) = recorder.deletes
    assert (result.lead_id, result.outcome.value, result.error.code.value) == (
        5,
        "unknown",
        "TRANSPORT_ERROR",
    )
    assert WEBHOOK_CODE not in result.error.description


# -- everything else passes through untouched -------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        WEBHOOK + "crm.lead.get.json",
        WEBHOOK + "crm.item.delete.json",
        "https://api.example.org/rest/7/" + WEBHOOK_CODE + "/crm.lead.delete.json",  # other host
        "https://portal.example.com/rest/8/otherCode123/crm.lead.delete.json",  # other webhook
        "https://portal.example.com/rest/crm.lead.delete.json?auth=tok",  # other form
        WEBHOOK + "crm.lead.delete.xml",  # an XML answer cannot be given here
        "https://portal.example.com/crm.lead.delete.json",
    ],
)
def test_other_requests_pass_through_byte_for_byte(
    portal: responses.RequestsMock, shim_session: requests.Session, url: str
) -> None:
    answer = b'{"result" : {"ID": "5"},\n "time": {}}'
    portal.post(url.split("?", maxsplit=1)[0], body=answer, headers={"X-Custom": "yes"})
    sent = b'{"id": 5, "x": "\\u00e9"}'
    response = shim_session.post(url, data=sent, headers={"Content-Type": "application/json"})
    assert response.content == answer
    assert response.headers["X-Custom"] == "yes"
    (call,) = portal.calls
    assert call.request.body == sent
    assert call.request.url == url


def test_a_streamed_body_passes_through(
    portal: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    portal.post(LEGACY_URL, json={"result": True})
    with (
        routed_session("item") as session,
        caplog.at_level(logging.INFO, logger="b24shim.adapters"),
    ):
        session.post(LEGACY_URL, data=iter([b"id=5"]))
    assert "a streamed body cannot be read here" in caplog.text
    assert WEBHOOK_CODE not in caplog.text


# -- OAuth ------------------------------------------------------------------------------------

OAUTH_URL = "https://portal.example.com/rest/crm.lead.delete.json"


@pytest.mark.parametrize(
    ("send", "query", "header"),
    [
        (
            lambda s: s.post(OAUTH_URL, json={"id": 5, "auth": "legacy-token"}),
            {"auth": "legacy-token"},
            None,
        ),
        (
            lambda s: s.get(OAUTH_URL, params={"id": 5, "access_token": "legacy-token"}),
            {"access_token": "legacy-token"},
            None,
        ),
        (
            lambda s: s.post(OAUTH_URL, json={"id": 5}, headers={"Authorization": "Bearer t0ken"}),
            {},
            "Bearer t0ken",
        ),
    ],
    ids=["auth", "access_token", "bearer"],
)
def test_oauth_calls_to_the_portal_are_intercepted_and_keep_the_callers_token(
    portal: responses.RequestsMock, send: Any, query: dict[str, str], header: str | None
) -> None:
    match = [
        matchers.json_params_matcher({"entityTypeId": 1, "id": 5}, strict_match=True),
        matchers.query_param_matcher(query),
    ]
    if header is not None:
        match.append(matchers.header_matcher({"Authorization": header}))
    portal.post(
        "https://portal.example.com/rest/crm.item.delete.json",
        json={"result": [], "time": TIME},
        match=match,
    )
    shim = LeadShim(
        OAuth("https://portal.example.com", "shim-token"),
        stage="item",
        rate_limit=None,
        retry=NO_RETRY,
    )
    with requests.Session() as session:
        session.mount("https://", ShimAdapter(shim))
        response = send(session)
    assert response.content == php_json({"result": True, "time": TIME})


def test_an_oauth_call_without_a_token_is_the_portals_to_refuse(
    portal: responses.RequestsMock,
) -> None:
    refusal = {"error": "NO_AUTH_FOUND", "error_description": "Wrong authorization data"}
    portal.post(OAUTH_URL, status=401, json=refusal)
    shim = LeadShim(
        OAuth("https://portal.example.com", "shim-token"), stage="item", rate_limit=None
    )
    with requests.Session() as session:
        session.mount("https://", ShimAdapter(shim))
        response = session.post(OAUTH_URL, json={"id": 5})
    assert (response.status_code, response.json()) == (401, refusal)


# -- the shim from the environment ------------------------------------------------------------


def test_without_a_shim_the_environment_configures_one_on_first_use(
    portal: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("B24SHIM_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("B24SHIM_LEAD_DELETE_STAGE", "item")
    adapter = ShimAdapter()
    assert "not built" in repr(adapter)
    expect_delete(portal, "item", 5, "deleted")
    with requests.Session() as session:
        session.mount("https://", adapter)
        assert session.post(LEGACY_URL, json={"id": 5}).json()["result"] is True
    assert "stage='item'" in repr(adapter)
    assert WEBHOOK_CODE not in repr(adapter)


def test_an_unconfigured_environment_passes_deletes_through_and_says_so_once(
    portal: responses.RequestsMock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("B24SHIM_WEBHOOK_URL", "B24SHIM_PORTAL_URL"):
        monkeypatch.delenv(name, raising=False)
    portal.post(LEGACY_URL, json={"result": True})
    with requests.Session() as session:
        session.mount("https://", ShimAdapter())
        session.post(LEGACY_URL, json={"id": 5})
        session.post(LEGACY_URL, json={"id": 6})
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "pass through to the portal unchanged" in errors[0].getMessage()
    assert len(portal.calls) == 2


# -- install() ---------------------------------------------------------------------------------


def test_install_routes_plain_requests_calls_and_undo_restores(
    portal: responses.RequestsMock,
) -> None:
    original = requests.Session.__init__
    expect_delete(portal, "item", 5, "deleted")
    portal.post(LEGACY_URL, json={"result": True}, match=[matchers.json_params_matcher({"id": 6})])
    undo = install(make_shim("item"))
    try:
        assert requests.Session.__init__ is not original
        response = requests.post(LEGACY_URL, json={"id": 5})  # the legacy script's own call
        assert response.content == php_json({"result": True, "time": TIME})
    finally:
        undo()
    assert requests.Session.__init__ is original
    undo()  # idempotent
    assert requests.Session.__init__ is original
    requests.post(LEGACY_URL, json={"id": 6})  # straight to the portal again
    assert [c.request.url for c in portal.calls] == [ITEM_URL, LEGACY_URL]


def test_a_shim_made_after_install_does_not_intercept_itself(
    portal: responses.RequestsMock,
) -> None:
    undo = install()
    try:
        shim = make_shim("item")  # its own session now carries a ShimAdapter too
        expect_delete(portal, "item", 5, "deleted")
        with requests.Session() as session:
            session.mount("https://", ShimAdapter(shim))
            assert session.post(LEGACY_URL, json={"id": 5}).status_code == 200
    finally:
        undo()
    assert len(portal.calls) == 1


def test_installations_stack_and_undo_in_any_order(portal: responses.RequestsMock) -> None:
    original = requests.Session.__init__
    first, second = make_shim("item"), make_shim("legacy")
    undo_first = install(first)
    undo_second = install(second)
    with requests.Session() as session:
        assert session.get_adapter(WEBHOOK)._source.get() is second  # type: ignore[attr-defined]
    undo_second()
    with requests.Session() as session:
        assert session.get_adapter(WEBHOOK)._source.get() is first  # type: ignore[attr-defined]
    undo_first()
    assert requests.Session.__init__ is original
    with requests.Session() as session:
        assert not isinstance(session.get_adapter(WEBHOOK), ShimAdapter)


def test_install_and_undo_are_thread_safe() -> None:
    original = requests.Session.__init__
    shim = make_shim("item")
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def churn() -> None:
        try:
            barrier.wait()
            for _ in range(50):
                undo = install(shim)
                with requests.Session() as session:
                    assert isinstance(session.get_adapter(WEBHOOK), ShimAdapter)
                undo()
                undo()
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=churn) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert requests.Session.__init__ is original


# -- batch -------------------------------------------------------------------------------------


def batch_answer(results: dict[str, Any], errors: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "result": {
            "result": results or [],
            "result_error": errors or [],
            "result_total": extra.get("total") or [],
            "result_next": [],
            "result_time": extra.get("times", dict.fromkeys(results, TIME)) or [],
        },
        "time": TIME,
    }


NOT_FOUND_ITEM = {"error": "NOT_FOUND", "error_description": "Item not found"}
LEGACY_NOT_FOUND = {"error": "ERROR_CORE", "error_description": "Item not found"}


def test_batch_deletes_are_rewritten_and_answered_as_legacy(
    portal: responses.RequestsMock,
) -> None:
    portal.post(
        BATCH_URL,
        match=[
            matchers.json_params_matcher(
                {
                    "halt": 0,
                    "cmd": {
                        "a": "crm.item.delete?entityTypeId=1&id=5",
                        "b": "crm.lead.get?id=6",
                        "c": "crm.item.delete?entityTypeId=1&id=7",
                        "d": "crm.lead.delete?id=$result[b][ID]",
                        "e": "crm.lead.delete?id=0",
                    },
                },
                strict_match=True,
            )
        ],
        json=batch_answer(
            {"a": [], "b": {"ID": "6"}},
            {
                "c": NOT_FOUND_ITEM,
                "d": {"error": "ERROR_CORE", "error_description": "Item not found"},
                "e": INVALID_ID,
            },
        ),
    )
    with routed_session("item") as session:
        response = session.post(
            BATCH_URL,
            json={
                "halt": 0,
                "cmd": {
                    "a": "crm.lead.delete?id=5",
                    "b": "crm.lead.get?id=6",
                    "c": "CRM.LEAD.DELETE?ID=7&id=8",
                    "d": "crm.lead.delete?id=$result[b][ID]",
                    "e": "crm.lead.delete?id=5abc",
                },
            },
        )
    assert response.status_code == 200
    assert response.content == php_json(
        batch_answer(
            {"a": True, "b": {"ID": "6"}},
            {
                "c": LEGACY_NOT_FOUND,
                "d": {"error": "ERROR_CORE", "error_description": "Item not found"},
                "e": INVALID_ID,
            },
        )
    )
    assert response.request is not None
    assert json.loads(response.request.body or b"")["cmd"]["a"] == "crm.lead.delete?id=5"


def test_a_list_cmd_keeps_its_indexes_and_references(portal: responses.RequestsMock) -> None:
    portal.post(
        BATCH_URL,
        match=[
            matchers.json_params_matcher(
                {
                    "cmd": {
                        "0": "crm.lead.add?fields[TITLE]=x",
                        "b24shim_1_lead_before": "crm.lead.get?id=5",
                        "b24shim_1_item_before": "crm.item.get?entityTypeId=1&id=5",
                        "1": "crm.item.delete?entityTypeId=1&id=5",
                        "b24shim_1_other_after": "crm.lead.get?id=5",
                        "2": "crm.lead.get?id=$result[0]",
                    },
                },
                strict_match=True,
            )
        ],
        json=batch_answer(
            {
                "0": 9,
                "b24shim_1_lead_before": {"ID": "5"},
                "b24shim_1_item_before": {"item": {"id": 5}},
                "1": [],
                "2": {"ID": "9"},
            },
            {"b24shim_1_other_after": LEGACY_NOT_FOUND},
        ),
    )
    seen: list[Difference] = []
    with requests.Session() as session:
        session.mount(
            "https://", ShimAdapter(make_shim("item_verified", on_difference=seen.append))
        )
        response = session.post(
            BATCH_URL,
            json={
                "cmd": [
                    "crm.lead.add?fields[TITLE]=x",
                    "crm.lead.delete?id=5",
                    "crm.lead.get?id=$result[0]",
                ]
            },
        )
    body = response.json()
    assert body["result"]["result"] == [9, True, {"ID": "9"}]
    assert body["result"]["result_error"] == []
    assert body["result"]["result_time"] == [TIME, TIME, TIME]
    assert "b24shim" not in response.text
    assert [d.kind for d in seen] == ["result_shape"]  # verified: no behavioural difference


def test_form_and_query_batches_are_understood(portal: responses.RequestsMock) -> None:
    portal.post(
        BATCH_URL,
        match=[
            matchers.query_string_matcher("auth=abc"),
            matchers.json_params_matcher(
                {
                    "halt": "1",
                    "cmd": {"x": "crm.item.delete?entityTypeId=1&id=5"},
                },
                strict_match=True,
            ),
        ],
        json=batch_answer({"x": []}, {}),
    )
    with routed_session("item_verified") as session:
        response = session.get(
            BATCH_URL, params={"CMD[x]": "crm.lead.delete?id=5", "HALT": "1", "auth": "abc"}
        )
    assert response.json()["result"]["result"] == {"x": True}


def test_a_form_body_batch_is_sent_once_as_json(portal: responses.RequestsMock) -> None:
    portal.post(
        BATCH_URL,
        match=[
            matchers.json_params_matcher(
                {
                    "cmd": {"0": "crm.item.delete?entityTypeId=1&id=5", "1": "crm.lead.list"},
                },
                strict_match=True,
            )
        ],
        # Keys 0..n-1 in order: PHP sends each map as a JSON list.
        json={
            "result": {
                "result": [[], []],
                "result_error": [],
                "result_total": {"1": 0},
                "result_next": [],
                "result_time": [TIME, TIME],
            },
            "time": TIME,
        },
    )
    seen: list[Difference] = []
    with routed_session("item", on_difference=seen.append) as session:
        response = session.post(
            BATCH_URL, data={"cmd[0]": "crm.lead.delete?id=5", "cmd[1]": "crm.lead.list"}
        )
    assert response.json()["result"] == {
        "result": [True, []],
        "result_error": [],
        "result_total": {"1": 0},
        "result_next": [],
        "result_time": [TIME, TIME],
    }
    assert [d.kind for d in seen] == ["result_shape"]
    assert len(portal.calls) == 1


def test_halt_stops_where_the_portal_stopped(portal: responses.RequestsMock) -> None:
    portal.post(
        BATCH_URL,
        json=batch_answer({}, {"a": NOT_FOUND_ITEM}),  # b did not run
    )
    with routed_session("item_verified") as session:
        response = session.post(
            BATCH_URL,
            json={"halt": True, "cmd": {"a": "crm.lead.delete?id=5", "b": "crm.lead.delete?id=6"}},
        )
    sent = json.loads(portal.calls[0].request.body)
    assert list(sent["cmd"]) == ["a", "b"]  # no reads: a failed read would halt the batch
    assert response.json()["result"]["result_error"] == {"a": LEGACY_NOT_FOUND}
    assert response.json()["result"]["result"] == []


def test_a_referenced_delete_stays_on_legacy(
    portal: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    commands = {"a": "crm.lead.delete?id=5", "b": "crm.lead.get?id=$result[a]"}
    answer = php_json(batch_answer({"a": True}, {"b": LEGACY_NOT_FOUND}))
    portal.post(
        BATCH_URL,
        body=answer,
        match=[matchers.json_params_matcher({"cmd": commands}, strict_match=True)],
    )
    with (
        routed_session("item") as session,
        caplog.at_level(logging.INFO, logger="b24shim.adapters"),
    ):
        response = session.post(BATCH_URL, json={"cmd": commands})
    assert response.content == answer
    assert "other commands refer to its answer" in caplog.text


def test_verification_reads_stop_at_fifty_commands(
    portal: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    commands = {f"g{i}": f"crm.lead.get?id={i}" for i in range(1, 48)}
    commands["del"] = "crm.lead.delete?id=5"
    commands["g99"] = "crm.lead.get?id=99"
    expected = dict(commands, **{"del": "crm.item.delete?entityTypeId=1&id=5"})
    portal.post(
        BATCH_URL,
        match=[matchers.json_params_matcher({"cmd": expected}, strict_match=True)],
        json=batch_answer({"del": []}, {}),
    )
    with (
        routed_session("item_verified") as session,
        caplog.at_level(logging.INFO, logger="b24shim.adapters"),
    ):
        response = session.post(BATCH_URL, json={"cmd": commands})
    assert response.json()["result"]["result"] == {"del": True}
    assert "no room for verification reads within 50 commands" in caplog.text


def test_a_portal_without_the_item_api_falls_back_after_the_batch(
    portal: responses.RequestsMock,
) -> None:
    portal.post(BATCH_URL, json=batch_answer({"b": {"ID": "6"}}, {"a": METHOD_NOT_FOUND}))
    portal.post(ITEM_URL, status=404, json=METHOD_NOT_FOUND)
    portal.post(
        LEGACY_URL,
        json={"result": True, "time": TIME},
        match=[matchers.json_params_matcher({"id": 5})],
    )
    seen: list[Difference] = []
    with routed_session("item", on_difference=seen.append) as session:
        response = session.post(
            BATCH_URL, json={"cmd": {"a": "crm.lead.delete?id=5", "b": "crm.lead.get?id=6"}}
        )
    body = response.json()["result"]
    assert body["result"] == {"a": True, "b": {"ID": "6"}}
    assert body["result_error"] == []
    assert [d.kind for d in seen] == ["fallback"]


def test_a_batch_without_deletes_or_that_failed_passes_through(
    portal: responses.RequestsMock,
) -> None:
    limit = b'{"error":"QUERY_LIMIT_EXCEEDED","error_description":"Too many requests"}'
    portal.post(BATCH_URL, status=503, body=limit)
    portal.post(BATCH_URL, body=b'{"result": {"result": {"a": []}}}')
    with routed_session("item") as session:
        failed = session.post(BATCH_URL, json={"cmd": {"a": "crm.lead.delete?id=5"}})
        other = session.post(BATCH_URL, json={"cmd": {"a": "crm.lead.list"}})
    assert (failed.status_code, failed.content) == (503, limit)
    assert other.content == b'{"result": {"result": {"a": []}}}'
    assert portal.calls[1].request.body == b'{"cmd": {"a": "crm.lead.list"}}'


def test_a_streamed_routed_delete_reads_the_legacy_answer_from_raw(
    portal: responses.RequestsMock,
) -> None:
    # Legacy code that asks for stream=True and reads response.raw gets the legacy body.
    expect_delete(portal, "item", 5, "deleted")
    with routed_session("item") as session:
        response = session.post(LEGACY_URL, json={"id": 5}, stream=True)
        body = response.raw.read()
    status, legacy = LEGACY_ANSWER["item"]["deleted"]
    assert (response.status_code, json.loads(body)) == (status, legacy)
