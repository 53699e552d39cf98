"""urllib code and pybitrix24, unchanged, through ShimHandler / install(), against the emulator.

Plain ``urllib.request`` code runs its calls twice, on twin portals (same data, same manual
clock): straight to the portal, as before the migration, and through
``build_opener(ShimHandler(shim))`` at a stage; it must not be able to tell the two apart, a
4xx still raised as ``HTTPError`` with the portal's body. pybitrix24 (``urlopen`` over HTTPS)
is reached through ``install()``. The whole adapter suite also runs over urllib
(tests/integration/test_adapter_emulator.py, drop-in ``urllib``).
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from b24shim import LeadShim, Stage
from b24shim import adapters as adapters_module
from b24shim.adapters import ShimHandler, install
from b24shim.emulator import Emulator, FaultConfig, ManualClock
from b24shim.retry import NO_RETRY
from facades import delete_methods

pybitrix24 = pytest.importorskip("pybitrix24")

Factory = Callable[..., Emulator]


@pytest.fixture(autouse=True)
def _no_installation_left(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Whatever a test installed is undone, and urlopen's opener is the one before the test."""
    monkeypatch.setattr(urllib.request, "_opener", None)
    yield
    adapters_module._reset_for_tests()


def twins(factory: Factory, **settings: Any) -> tuple[Emulator, Emulator]:
    """Two portals with the same settings and clock, to compare answers byte for byte."""
    settings.setdefault("rate", 0)
    return (
        factory(clock=ManualClock(), **settings),
        factory(clock=ManualClock(), **settings),
    )


def stage_deletes(stage: Stage, count: int) -> list[str]:
    """The deletes the portal runs for ``count`` lead deletes at ``stage``: one method only."""
    return ["crm.item.delete" if stage.uses_item else "crm.lead.delete"] * count


def legacy_script(opener: urllib.request.OpenerDirector, portal: Emulator) -> list[Any]:
    """A urllib integration: single deletes (done, missing, bad id) and batches (one halting).

    Returns what the script sees of each call: answer or HTTPError, status, reason, the
    headers, the body.
    """
    hook = portal.admin_webhook
    one, two, three = (portal.add_lead({"TITLE": f"lead {n}"}) for n in range(3))
    calls: list[tuple[str, dict[str, Any]]] = [
        ("crm.lead.delete.json", {"id": one}),
        ("crm.lead.delete.json", {"id": 424242}),
        ("crm.lead.delete", {"ID": "abc"}),
        (
            "batch.json",
            {"halt": 0, "cmd": {"a": f"crm.lead.delete?id={two}", "b": "crm.lead.list"}},
        ),
        (
            "batch",
            {
                "halt": 1,
                "cmd": {"a": "crm.lead.delete?id=424242", "b": f"crm.lead.delete?id={three}"},
            },
        ),
    ]
    seen: list[Any] = []
    for method, body in calls:
        request = urllib.request.Request(
            hook + method,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        try:
            with opener.open(request, timeout=30) as response:
                kind, answer = "answer", response
                content = response.read()
        except urllib.error.HTTPError as error:
            kind, answer, content = "HTTPError", error, error.read()
        seen.append((kind, answer.status, answer.reason, answer.headers.items(), content))
    return seen


def _content_types(seen: list[Any]) -> list[Any]:
    """What ``seen`` holds with the headers cut to the content type (a routed answer's)."""
    return [
        (k, s, r, [h for h in headers if h[0] == "Content-Type"], b) for k, s, r, headers, b in seen
    ]


@pytest.mark.parametrize("stage", list(Stage))
def test_urllib_code_sees_at_every_stage_what_it_saw_before(
    b24_emulator_factory: Factory, stage: Stage
) -> None:
    before, after = twins(b24_emulator_factory, legacy_not_found="source")
    expected = legacy_script(urllib.request.build_opener(), before)
    shim = LeadShim(after.admin_webhook, stage=stage, rate_limit=None, retry=NO_RETRY)
    got = legacy_script(urllib.request.build_opener(ShimHandler(shim)), after)
    if stage is Stage.LEGACY:
        # The portal's own answers, headers and all; but the id that is not one, which every
        # stage answers without a request, as the portal answers it (its headers are the shim's).
        assert got[:2] + got[3:] == expected[:2] + expected[3:]
    assert _content_types(got) == _content_types(expected)
    assert [kind for kind, *_ in got] == ["answer", "HTTPError", "HTTPError", "answer", "answer"]
    assert json.loads(got[1][4]) == {"error": "ERROR_CORE", "error_description": "Item not found"}
    assert [after.lead_exists(n) for n in range(1, 4)] == [
        before.lead_exists(n) for n in range(1, 4)
    ]
    assert [before.lead_exists(n) for n in range(1, 4)] == [False, False, True]  # halted
    assert delete_methods(after) == stage_deletes(stage, 5)  # the bad id: no request


def test_other_urllib_calls_pass_through_untouched(b24_emulator: Emulator) -> None:
    lead = b24_emulator.add_lead({"TITLE": "kept"})
    shim = LeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None)
    opener = urllib.request.build_opener(ShimHandler(shim))
    with opener.open(f"{b24_emulator.admin_webhook}crm.lead.get.json?id={lead}") as response:
        assert json.loads(response.read())["result"]["TITLE"] == "kept"
    other = LeadShim("http://127.0.0.1:9/rest/1/another/", stage="item", rate_limit=None)
    opener = urllib.request.build_opener(ShimHandler(other))  # not this portal's shim
    request = urllib.request.Request(
        f"{b24_emulator.admin_webhook}crm.lead.delete", data=f"id={lead}".encode()
    )
    with opener.open(request) as response:
        assert json.loads(response.read())["result"] is True
    assert [r.method for r in b24_emulator.requests] == ["crm.lead.get", "crm.lead.delete"]


class _Stamp(urllib.request.BaseHandler):
    """A user's own handler: stamps every request and remembers what it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, str | None]] = []

    def http_request(self, request: urllib.request.Request) -> urllib.request.Request:
        request.add_unredirected_header("X-stamp", "user")
        self.seen.append(
            (request.full_url.rsplit("/", 1)[-1], request.get_header("X-integration"), request.data)
        )
        return request

    https_request = http_request


def _tables(opener: urllib.request.OpenerDirector) -> list[Any]:
    state = vars(opener)
    return [list(state["handlers"])] + [
        {key: list(chain) for key, chain in state[name].items()}
        for name in ("handle_open", "process_request", "process_response", "handle_error")
    ]


def test_install_keeps_the_users_opener_and_undo_restores_it_exactly(
    b24_emulator: Emulator,
) -> None:
    stamp = _Stamp()
    user_opener = urllib.request.build_opener(stamp)
    urllib.request.install_opener(user_opener)
    tables = _tables(user_opener)
    leads = [b24_emulator.add_lead() for _ in range(2)]
    undo = install(LeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None))

    def delete(lead: int) -> Any:
        request = urllib.request.Request(
            f"{b24_emulator.admin_webhook}crm.lead.delete",
            data=f"id={lead}".encode(),
            headers={"X-Integration": "legacy-42"},
        )
        with urllib.request.urlopen(request) as response:
            return json.loads(response.read())

    assert delete(leads[0])["result"] is True
    assert urllib.request._opener is user_opener  # type: ignore[attr-defined]
    undo()
    assert urllib.request._opener is user_opener  # type: ignore[attr-defined]
    assert _tables(user_opener) == tables
    assert delete(leads[1])["result"] is True
    assert delete_methods(b24_emulator) == ["crm.item.delete", "crm.lead.delete"]
    # The routed call went through the user's opener, with the caller's headers, as JSON.
    assert stamp.seen[:2] == [
        ("crm.lead.delete", "legacy-42", f"id={leads[0]}".encode()),
        ("crm.item.delete.json", "legacy-42", f'{{"entityTypeId":1,"id":{leads[0]}}}'.encode()),
    ]


def test_install_without_an_opener_installs_none_again_on_undo(b24_emulator: Emulator) -> None:
    lead = b24_emulator.add_lead()
    first = install(LeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None))
    second = install(LeadShim(b24_emulator.admin_webhook, stage="legacy", rate_limit=None))
    second()  # the first installation's shim routes again
    request = urllib.request.Request(
        f"{b24_emulator.admin_webhook}crm.lead.delete.json", data=f"id={lead}".encode()
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["result"] is True
    first()
    first()  # idempotent
    assert urllib.request._opener is None  # type: ignore[attr-defined]
    assert delete_methods(b24_emulator) == ["crm.item.delete"]


def _webhook_parts(portal: Emulator) -> tuple[str, str, str]:
    url = urlsplit(portal.admin_webhook)
    _, user, code = url.path.strip("/").split("/")
    return url.netloc, user, code


def pybitrix24_run(portal: Emulator) -> list[Any]:
    """A pybitrix24 integration's lead deletes, single and in batches, as it sees them."""
    domain, user, code = _webhook_parts(portal)
    bx = pybitrix24.Bitrix24(domain, user_id=int(user))
    one, two, three = (portal.add_lead({"TITLE": f"lead {n}"}) for n in range(3))
    return [
        bx.call_webhook(code, "crm.lead.delete", {"id": one}),
        bx.call_webhook(code, "crm.lead.delete", {"id": 424242}),
        bx.call_webhook(code, "crm.lead.delete", {"id": "abc"}),
        bx.call_batch_webhook(
            code, {"a": ("crm.lead.delete", {"id": two}), "b": ("crm.lead.delete", {"id": 424242})}
        ),
        bx.call_batch_webhook(
            code,
            {"a": ("crm.lead.delete", {"id": 424242}), "b": ("crm.lead.delete", {"id": three})},
            halt_on_error=True,
        ),
    ]


@pytest.mark.parametrize("stage", list(Stage))
def test_pybitrix24_deletes_leads_through_install_at_every_stage(
    b24_emulator_factory: Factory, stage: Stage, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after = twins(b24_emulator_factory, tls=True)
    monkeypatch.setenv("SSL_CERT_FILE", before.ca_bundle)
    expected = pybitrix24_run(before)  # no drop-in: what it saw before the migration
    monkeypatch.setenv("SSL_CERT_FILE", after.ca_bundle)
    undo = install(LeadShim(after.admin_webhook, stage=stage, rate_limit=None, retry=NO_RETRY))
    try:
        got = pybitrix24_run(after)
    finally:
        undo()
    assert got == expected
    assert got[0]["result"] is True
    assert got[1]["error_description"] == "Item not found"
    assert got[2] == {"error": "", "error_description": "ID is not defined or invalid."}
    assert [after.lead_exists(n) for n in range(1, 4)] == [False, False, True]
    assert delete_methods(after) == stage_deletes(stage, 6)  # the bad id: no request


def test_a_routed_call_without_an_answer_raises_urllibs_error_with_no_secret(
    b24_emulator_factory: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    portal = b24_emulator_factory(rate=0, faults=FaultConfig(rate=1.0, kinds=("reset",)))
    code = _webhook_parts(portal)[2]
    deletes: list[Any] = []

    class Recorder:
        def __call__(self, difference: object) -> None:
            pass

        def record_delete(self, result: Any, *, verified: bool, duration: float | None) -> None:
            deletes.append(result)

    shim = LeadShim(
        portal.admin_webhook,
        stage="item",
        rate_limit=None,
        retry=NO_RETRY,
        on_difference=Recorder(),
    )
    opener = urllib.request.build_opener(ShimHandler(shim))
    request = urllib.request.Request(f"{portal.admin_webhook}crm.lead.delete", data=b"id=5")
    with caplog.at_level(logging.DEBUG), pytest.raises(urllib.error.URLError) as caught:
        opener.open(request)
    assert "b24shim: crm.item.delete of lead 5 failed before an answer" in str(caught.value)
    assert code not in str(caught.value)
    assert code not in repr(caught.value.reason)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert caplog.records
    assert all(code not in record.getMessage() for record in caplog.records)
    (result,) = deletes
    assert (result.lead_id, result.outcome.value, result.error.code.value) == (
        5,
        "unknown",
        "TRANSPORT_ERROR",
    )
    assert code not in result.error.description
    assert [r.method for r in portal.requests] == ["crm.item.delete"]
