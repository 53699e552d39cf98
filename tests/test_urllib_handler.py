"""ShimHandler in an opener whose last handler plays the portal: what urllib code notices.

The emulator tests (tests/integration/test_urllib_emulator.py) run real sockets; here the
portal is a handler of the same opener, so a test can make it fail as urllib fails, with the
webhook in the message, and see what the caller gets.
"""

from __future__ import annotations

import http.client
import io
import json
import logging
import urllib.error
import urllib.request
import urllib.response
from collections.abc import Iterator
from typing import Any

import pytest

from b24shim import LeadShim, OAuth, Stage
from b24shim import adapters as adapters_module
from b24shim.adapters import ShimHandler
from b24shim.retry import NO_RETRY
from conftest import WEBHOOK, WEBHOOK_CODE


@pytest.fixture(autouse=True)
def _no_leftover_installation() -> Iterator[None]:
    yield
    adapters_module._reset_for_tests()


class FakePortal(urllib.request.BaseHandler):
    """The last ``https`` handler: records each request and answers from ``answers``."""

    handler_order = 400  # after ShimHandler, before the real HTTPS handler

    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.sent: list[urllib.request.Request] = []

    def https_open(self, req: urllib.request.Request) -> urllib.response.addinfourl:
        self.sent.append(req)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        status, body = answer
        headers = http.client.HTTPMessage()
        headers["Content-Type"] = "application/json; charset=utf-8"
        headers["X-Portal"] = "yes"
        response = urllib.response.addinfourl(
            io.BytesIO(json.dumps(body).encode()), headers, req.full_url, status
        )
        response.msg = "Bad Request" if status == 400 else "OK"  # type: ignore[attr-defined]
        return response


def raised_for(opener: urllib.request.OpenerDirector, body: bytes) -> tuple[int, Any]:
    """The status and the JSON body of the HTTPError a delete with ``body`` raises."""
    with pytest.raises(urllib.error.HTTPError) as caught:
        delete(opener, body)
    return caught.value.code, json.loads(caught.value.read())


def opener_for(portal: FakePortal, stage: str = "item") -> urllib.request.OpenerDirector:
    shim = LeadShim(WEBHOOK, stage=stage, rate_limit=None, retry=NO_RETRY)
    return urllib.request.build_opener(ShimHandler(shim), portal)


def delete(opener: urllib.request.OpenerDirector, body: bytes, **kwargs: Any) -> Any:
    request = urllib.request.Request(
        WEBHOOK + "crm.lead.delete.json",
        data=body,
        headers={"Content-Type": "application/json", "X-Integration": "crm-sync"},
    )
    return opener.open(request, **kwargs)


def test_a_routed_call_keeps_the_callers_headers_and_timeout() -> None:
    portal = FakePortal((200, {"result": []}))
    with delete(opener_for(portal), b'{"id": 5}', timeout=7.5) as response:
        assert (response.status, json.loads(response.read())) == (200, {"result": True})
    (sent,) = portal.sent
    assert sent.full_url == WEBHOOK + "crm.item.delete.json"
    assert sent.get_method() == "POST"
    assert json.loads(sent.data) == {"entityTypeId": 1, "id": 5}
    assert sent.get_header("Content-type") == "application/json"
    assert sent.get_header("Content-length") == str(len(sent.data))
    assert sent.get_header("X-integration") == "crm-sync"
    assert sent.timeout == 7.5


def test_a_legacy_400_is_raised_as_the_portals_own_httperror() -> None:
    body = {"error": "", "error_description": "Not found"}
    portal = FakePortal((400, body))
    with pytest.raises(urllib.error.HTTPError) as caught:
        delete(opener_for(portal, "legacy"), b'{"id": 5}')
    assert (caught.value.code, caught.value.reason) == (400, "Bad Request")
    assert json.loads(caught.value.read()) == body
    assert caught.value.headers["X-Portal"] == "yes"  # the portal's own headers
    assert caught.value.geturl() == WEBHOOK + "crm.lead.delete.json"
    (sent,) = portal.sent
    assert sent.full_url == WEBHOOK + "crm.lead.delete.json"  # the caller's request itself


def test_an_item_not_found_is_raised_as_the_legacy_httperror() -> None:
    portal = FakePortal((400, {"error": "NOT_FOUND", "error_description": "Item not found"}))
    assert raised_for(opener_for(portal), b'{"id": 5}') == (
        400,
        {"error": "ERROR_CORE", "error_description": "Item not found"},
    )


@pytest.mark.parametrize(
    ("raised", "reason_type"),
    [
        (urllib.error.URLError(ConnectionRefusedError(f"refused: {WEBHOOK}")), OSError),
        (urllib.error.URLError(TimeoutError(f"timed out: {WEBHOOK}")), TimeoutError),
        (http.client.RemoteDisconnected(f"closed by {WEBHOOK}"), OSError),
    ],
    ids=["refused", "timeout", "disconnected"],
)
def test_a_routed_call_without_an_answer_is_urllibs_error_without_the_secret(
    raised: BaseException, reason_type: type[BaseException], caplog: pytest.LogCaptureFixture
) -> None:
    portal = FakePortal(raised)
    with caplog.at_level(logging.DEBUG), pytest.raises(urllib.error.URLError) as caught:
        delete(opener_for(portal), b'{"id": 5}')
    message = str(caught.value)
    assert "b24shim: crm.item.delete of lead 5 failed before an answer" in message
    assert isinstance(caught.value.reason, reason_type)
    assert WEBHOOK_CODE not in message
    assert WEBHOOK_CODE not in repr(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert WEBHOOK_CODE not in caplog.text


def test_a_failure_of_the_callers_own_request_is_the_one_legacy_code_saw() -> None:
    raised = urllib.error.URLError(ConnectionRefusedError("refused"))
    portal = FakePortal(raised)
    with pytest.raises(urllib.error.URLError) as caught:
        delete(opener_for(portal, Stage.LEGACY), b'{"id": 5}')
    assert caught.value is raised


def test_an_id_that_is_not_one_is_answered_without_a_request() -> None:
    portal = FakePortal()
    assert raised_for(opener_for(portal), b'{"id": "abc"}') == (
        400,
        {"error": "", "error_description": "ID is not defined or invalid."},
    )
    assert portal.sent == []


def test_a_streamed_body_passes_through_unread() -> None:
    portal = FakePortal((200, {"result": True}))
    stream = io.BytesIO(b'{"id": 5}')
    request = urllib.request.Request(
        WEBHOOK + "crm.lead.delete.json",
        data=stream,
        headers={"Content-Type": "application/json", "Content-Length": "9"},
    )
    with opener_for(portal).open(request) as response:
        assert json.loads(response.read()) == {"result": True}
    (sent,) = portal.sent
    assert sent is request
    assert stream.tell() == 0  # not read by the handler


def test_without_a_configured_shim_the_calls_pass_through(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    for name in ("B24SHIM_WEBHOOK_URL", "B24SHIM_PORTAL_URL", "B24SHIM_ACCESS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    portal = FakePortal((200, {"result": True}))
    handler = ShimHandler()
    opener = urllib.request.build_opener(handler, portal)
    with caplog.at_level(logging.ERROR), delete(opener, b'{"id": 5}') as response:
        assert json.loads(response.read()) == {"result": True}
    assert portal.sent[0].full_url == WEBHOOK + "crm.lead.delete.json"
    assert "from_env() failed" in caplog.text
    assert repr(handler) == "<ShimHandler shim=LeadShim.from_env() (not built)>"


def test_the_handler_repr_shows_no_secret() -> None:
    handler = ShimHandler(LeadShim(WEBHOOK, stage="item"))
    assert repr(handler).startswith("<ShimHandler shim=")
    assert WEBHOOK_CODE not in repr(handler)


@pytest.mark.parametrize("form", ["bearer", "auth"])
def test_an_oauth_call_is_routed_with_the_callers_own_token(form: str) -> None:
    portal = FakePortal((200, {"result": []}))
    shim = LeadShim(
        OAuth("https://portal.example.com", "shim-token"),
        stage="item",
        rate_limit=None,
        retry=NO_RETRY,
    )
    opener = urllib.request.build_opener(ShimHandler(shim), portal)
    url = "https://portal.example.com/rest/crm.lead.delete.json"
    headers = {"Authorization": "Bearer caller-token"} if form == "bearer" else {}
    if form == "auth":
        url += "?auth=caller-token"
    request = urllib.request.Request(url, data=b"id=5", headers=headers)
    with opener.open(request) as response:
        assert json.loads(response.read()) == {"result": True}
    (sent,) = portal.sent
    if form == "bearer":
        assert sent.full_url == "https://portal.example.com/rest/crm.item.delete.json"
        assert sent.get_header("Authorization") == "Bearer caller-token"
    else:
        assert sent.full_url == (
            "https://portal.example.com/rest/crm.item.delete.json?auth=caller-token"
        )
