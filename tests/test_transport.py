"""The transport: exact requests, the envelope parsed in one place, failures classified."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses
import urllib3.exceptions
from responses import matchers

from b24shim import ConfigError, ErrorCode, LeadShim, OAuth, Webhook
from b24shim.transport import Transport, encode_query
from conftest import WEBHOOK
from portal_answers import TIME

URL = WEBHOOK + "crm.lead.delete.json"


def test_webhook_calls_post_json_to_the_method_url(portal: responses.RequestsMock) -> None:
    portal.post(
        URL,
        json={"result": True, "time": TIME},
        match=[matchers.json_params_matcher({"id": 5}, strict_match=True)],
    )
    reply = Transport(Webhook(WEBHOOK)).call("crm.lead.delete", {"id": 5})
    assert reply.ok
    assert reply.result is True
    assert reply.http_status == 200
    assert reply.time is not None
    assert reply.time.operating == pytest.approx(3.3076241016387939)
    assert reply.time.operating_reset_at == 1705765533
    assert reply.time.date_start == "2024-01-20T18:35:32+01:00"


def test_oauth_calls_carry_the_token_in_the_body(portal: responses.RequestsMock) -> None:
    portal.post(
        "https://portal.example.com/rest/crm.item.delete.json",
        json={"result": []},
        match=[
            matchers.json_params_matcher(
                {"entityTypeId": 1, "id": 5, "auth": "acc-token-1"}, strict_match=True
            )
        ],
    )
    reply = Transport(OAuth("https://portal.example.com", "acc-token-1")).call(
        "crm.item.delete", {"entityTypeId": 1, "id": 5}
    )
    assert reply.ok
    assert reply.result == []
    assert reply.time is None


def test_the_timeout_is_passed_to_requests(portal: responses.RequestsMock) -> None:
    seen: list[object] = []
    portal.add_callback(
        responses.POST,
        URL,
        callback=lambda request: (
            seen.append(request.req_kwargs["timeout"]) or (200, {}, '{"result": true}')
        ),
    )
    Transport(Webhook(WEBHOOK), timeout=(1.5, 7.0)).call("crm.lead.delete", {"id": 1})
    assert seen == [(1.5, 7.0)]


@pytest.mark.parametrize(
    ("status", "body", "code", "raw_code"),
    [
        (400, {"error": "", "error_description": "Not found"}, ErrorCode.NOT_FOUND, ""),
        (
            400,
            {"error": 100, "error_description": "Could not find value for parameter {id}"},
            ErrorCode.INVALID_ID,
            "100",
        ),
        (
            400,
            {"error": "100", "error_description": "Could not find value for parameter {id}"},
            ErrorCode.INVALID_ID,
            "100",
        ),
        (
            401,
            {
                "error": "expired_token",
                "error_description": "The access token provided has expired",
            },
            ErrorCode.EXPIRED_TOKEN,
            "expired_token",
        ),
        (
            404,
            {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
            ErrorCode.METHOD_NOT_FOUND,
            "ERROR_METHOD_NOT_FOUND",
        ),
        (
            503,
            {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
            ErrorCode.QUERY_LIMIT_EXCEEDED,
            "QUERY_LIMIT_EXCEEDED",
        ),
    ],
)
def test_error_bodies_become_classified_errors(
    portal: responses.RequestsMock,
    status: int,
    body: dict[str, object],
    code: ErrorCode,
    raw_code: str,
) -> None:
    portal.post(URL, json=body, status=status)
    reply = Transport(Webhook(WEBHOOK)).call("crm.lead.delete", {"id": 5})
    assert not reply.ok
    assert reply.error is not None
    assert reply.error.code is code
    assert reply.error.raw_code == raw_code
    assert reply.error.http_status == status
    assert reply.raw == body


@pytest.mark.parametrize(
    ("status", "body", "code", "ambiguous"),
    [
        (200, b"<html>Bad gateway</html>", ErrorCode.PROTOCOL_ERROR, True),
        (200, b"", ErrorCode.PROTOCOL_ERROR, True),
        (200, b'{"result": tr', ErrorCode.PROTOCOL_ERROR, True),
        (200, b"[1, 2]", ErrorCode.PROTOCOL_ERROR, True),
        (200, b'{"time": {}}', ErrorCode.PROTOCOL_ERROR, True),
        (200, b'{"error": {"nested": 1}}', ErrorCode.PROTOCOL_ERROR, True),
        (502, b"<html>502</html>", ErrorCode.INTERNAL_SERVER_ERROR, True),
        (
            500,
            b'{"error": "INTERNAL_SERVER_ERROR", "error_description": "x"}',
            ErrorCode.INTERNAL_SERVER_ERROR,
            True,
        ),
        (404, b"<html>not here</html>", ErrorCode.PROTOCOL_ERROR, False),
        (
            503,
            b'{"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}',
            ErrorCode.QUERY_LIMIT_EXCEEDED,
            False,
        ),
    ],
)
def test_malformed_bodies_and_5xx(
    portal: responses.RequestsMock, status: int, body: bytes, code: ErrorCode, ambiguous: bool
) -> None:
    portal.post(URL, body=body, status=status)
    reply = Transport(Webhook(WEBHOOK)).call("crm.lead.delete", {"id": 5})
    assert reply.error is not None
    assert reply.error.code is code
    assert reply.ambiguous is ambiguous


@pytest.mark.parametrize(
    ("exc", "ambiguous"),
    [
        (requests.ConnectTimeout("connect timed out"), False),
        (requests.ReadTimeout("read timed out"), True),
        (
            requests.ConnectionError(
                urllib3.exceptions.MaxRetryError(
                    None, "/", urllib3.exceptions.NewConnectionError(None, "refused")
                )
            ),
            False,
        ),  # type: ignore[arg-type]
        (
            requests.ConnectionError(
                urllib3.exceptions.ProtocolError(
                    "Connection aborted.", ConnectionResetError(104, "reset")
                )
            ),
            True,
        ),
        (requests.exceptions.ChunkedEncodingError("body cut"), True),
    ],
)
def test_network_failures_are_transport_errors_never_exceptions(
    portal: responses.RequestsMock, exc: Exception, ambiguous: bool
) -> None:
    portal.post(URL, body=exc)
    reply = Transport(Webhook(WEBHOOK)).call("crm.lead.delete", {"id": 5})
    assert reply.error is not None
    assert reply.error.code is ErrorCode.TRANSPORT_ERROR
    assert reply.error.http_status is None
    assert reply.ambiguous is ambiguous


def test_batch_splits_the_answer_per_command(portal: responses.RequestsMock) -> None:
    portal.post(
        WEBHOOK + "batch.json",
        match=[
            matchers.json_params_matcher(
                {
                    "halt": 0,
                    "cmd": {
                        "a": "crm.lead.get?id=5",
                        "b": "crm.item.delete?entityTypeId=1&id=5",
                        "c": "crm.lead.list?filter[ID]=5&select[0]=ID",
                    },
                },
                strict_match=True,
            )
        ],
        json={
            "result": {
                "result": {"a": {"ID": "5"}, "c": []},
                "result_error": {
                    "b": {"error": "NOT_FOUND", "error_description": "Item not found"}
                },
                "result_total": [],
                "result_next": [],
                "result_time": {"a": TIME, "c": TIME},
            },
            "time": TIME,
        },
    )
    replies = Transport(Webhook(WEBHOOK)).batch(
        {
            "a": ("crm.lead.get", {"id": 5}),
            "b": ("crm.item.delete", {"entityTypeId": 1, "id": 5}),
            "c": ("crm.lead.list", {"filter": {"ID": 5}, "select": ["ID"]}),
        }
    )
    assert replies["a"].ok
    assert replies["a"].result == {"ID": "5"}
    assert replies["a"].time is not None
    assert replies["b"].code is ErrorCode.NOT_FOUND
    assert replies["b"].error is not None
    assert replies["b"].error.http_status is None  # not visible inside a batch
    assert replies["b"].raw == {"error": "NOT_FOUND", "error_description": "Item not found"}
    assert replies["c"].result == []


def test_batch_maps_sent_as_json_arrays_are_read_by_position(
    portal: responses.RequestsMock,
) -> None:
    # PHP serializes a map with keys 0..n-1 as a JSON array (spec 6).
    portal.post(
        WEBHOOK + "batch.json",
        json={
            "result": {
                "result": [{"ID": "5"}],
                "result_error": {
                    "1": {"error": "NOT_FOUND", "error_description": "Item not found"}
                },
                "result_time": [TIME],
            }
        },
    )
    replies = Transport(Webhook(WEBHOOK)).batch(
        {"0": ("crm.lead.get", {"id": 5}), "1": ("crm.item.get", {"entityTypeId": 1, "id": 6})}
    )
    assert replies["0"].result == {"ID": "5"}
    assert replies["0"].time is not None
    assert replies["1"].code is ErrorCode.NOT_FOUND


def test_a_command_missing_from_the_batch_answer_is_ambiguous(
    portal: responses.RequestsMock,
) -> None:
    portal.post(WEBHOOK + "batch.json", json={"result": {"result": [], "result_error": []}})
    replies = Transport(Webhook(WEBHOOK)).batch({"d": ("crm.lead.delete", {"id": 5})})
    assert replies["d"].code is ErrorCode.PROTOCOL_ERROR
    assert replies["d"].ambiguous


def test_a_failed_batch_gives_each_command_its_error(portal: responses.RequestsMock) -> None:
    portal.post(
        WEBHOOK + "batch.json",
        status=503,
        json={"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
    )
    replies = Transport(Webhook(WEBHOOK)).batch(
        {"x": ("crm.lead.get", {"id": 5}), "y": ("crm.lead.delete", {"id": 5})}
    )
    assert {r.code for r in replies.values()} == {ErrorCode.QUERY_LIMIT_EXCEEDED}


def test_encode_query_uses_php_brackets() -> None:
    assert encode_query({"id": 5}) == "id=5"
    assert encode_query({"fields": {"TITLE": "a b&c"}}) == "fields[TITLE]=a%20b%26c"
    assert encode_query({"select": ["ID", "TITLE"]}) == "select[0]=ID&select[1]=TITLE"
    assert encode_query({"flag": True, "none": None}) == "flag=Y&none="


@pytest.mark.parametrize(
    "url",
    [
        "http://portal.example.com/rest/1/code/",  # plain http off loopback
        "https://portal.example.com/rest/code/",  # no user id
        "https://portal.example.com/1/code/",
        "ftp://portal.example.com/rest/1/code/",
        "https://portal.example.com/rest/1/code/?x=1",
        "not a url",
        "",
    ],
)
def test_bad_webhook_urls_are_config_errors_without_the_code(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        Webhook(url)
    assert "code" not in str(info.value).replace("<code>", "")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/rest/1/abc/",
        "http://localhost/rest/1/abc",
        "http://[::1]:9/rest/1/abc/",
        "http://127.5.6.7/rest/1/abc/",
    ],
)
def test_plain_http_is_allowed_for_loopback(url: str) -> None:
    assert Webhook(url).base_url.startswith("http://")


def test_the_shims_own_session_reads_proxies_and_ca_bundle_once_at_start(
    monkeypatch: pytest.MonkeyPatch, portal: responses.RequestsMock
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example.net:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    shim = LeadShim(WEBHOOK, rate_limit=None)
    portal.post(WEBHOOK + "crm.lead.delete.json", json={"result": True})
    seen: list[dict[str, object]] = []
    real_send = requests.adapters.HTTPAdapter.send

    def send(adapter: Any, request: Any, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real_send(adapter, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    # A change after the shim was built is not picked up: build a new shim for that.
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example.net:8080")
    assert shim.delete_lead(5).ok
    assert shim.transport.session.trust_env is False
    assert seen[0]["proxies"] == {"https": "http://proxy.example.net:3128"}
    assert seen[0]["verify"] == "/etc/ssl/company-ca.pem"
    monkeypatch.setenv("NO_PROXY", "portal.example.com")
    portal.post(WEBHOOK + "crm.lead.delete.json", json={"result": True})
    assert LeadShim(WEBHOOK, rate_limit=None).delete_lead(6).ok
    assert seen[1]["proxies"] == {}


def test_a_session_passed_in_keeps_requests_own_environment_handling() -> None:
    session = requests.Session()
    shim = LeadShim(WEBHOOK, session=session)
    assert shim.transport.session is session
    assert session.trust_env is True
