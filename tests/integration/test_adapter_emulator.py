"""The adapter against the emulator over real HTTP: byte-identical legacy answers.

Each test runs the legacy call twice, on twin portals (same data, same manual clock): once
straight to the portal, as the legacy code did before, and once through the adapter at a
stage. The legacy code must not be able to tell the two answers apart.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests

from b24shim import Difference, LeadShim, Stage
from b24shim import adapters as adapters_module
from b24shim.adapters import ShimAdapter, ShimHandler, ShimTransport, install
from b24shim.emulator import Emulator, ManualClock
from b24shim.retry import NO_RETRY
from facades import halting_batch
from urllib_client import UrllibSession

Factory = Callable[..., Emulator]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "legacy_script_with_adapter.py"


@pytest.fixture(autouse=True)
def _no_leftover_installation() -> Iterator[None]:
    yield
    adapters_module._reset_for_tests()


@pytest.fixture
def twins(b24_emulator_factory: Factory) -> Callable[..., tuple[Emulator, Emulator]]:
    """Two portals with the same settings and clock, to compare answers byte for byte."""

    def make(**settings: Any) -> tuple[Emulator, Emulator]:
        settings.setdefault("rate", 0)
        settings.setdefault("legacy_not_found", "docs")
        return (
            b24_emulator_factory(clock=ManualClock(), **settings),
            b24_emulator_factory(clock=ManualClock(), **settings),
        )

    return make


_DROP_IN = {"library": "requests"}


@pytest.fixture(autouse=True, params=["requests", "httpx", "urllib"])
def drop_in(request: pytest.FixtureRequest) -> Iterator[str]:
    """The behaviour suite runs over the requests adapter, the httpx transport, urllib's handler."""
    _DROP_IN["library"] = request.param
    yield request.param
    _DROP_IN["library"] = "requests"


def adapted(webhook: str, stage: Stage | str, **kwargs: Any) -> Any:
    """A session whose crm.lead.delete calls go through the drop-in under test."""
    shim = LeadShim(webhook, stage=stage, rate_limit=None, retry=NO_RETRY, **kwargs)
    if _DROP_IN["library"] == "httpx":
        return httpx.Client(transport=ShimTransport(shim))
    if _DROP_IN["library"] == "urllib":
        return UrllibSession(ShimHandler(shim))  # urllib code: opener.open(Request(...))
    session = requests.Session()
    session.mount("http://", ShimAdapter(shim))
    return session


def answer(response: requests.Response) -> tuple[int, bytes, str]:
    return response.status_code, response.content, response.headers["Content-Type"]


def delete_request(
    portal: Emulator, user: str, lead_id: object
) -> Callable[[requests.Session], requests.Response]:
    webhook = portal.admin_webhook if user == "admin" else portal.restricted_webhook
    return lambda session: session.post(webhook + "crm.lead.delete.json", json={"id": lead_id})


#: The emulator's legacy not-found styles and the shim setting that names each.
NOT_FOUND_SETTING = {"docs": "docs", "source": "core"}


@pytest.mark.parametrize("portal_form", list(NOT_FOUND_SETTING))
@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize(
    ("condition", "user", "exists"),
    [
        ("deleted", "admin", True),
        ("not_found", "admin", False),
        ("access_denied", "restricted", True),
    ],
)
def test_single_deletes_answer_byte_for_byte_like_crm_lead_delete(
    twins: Callable[..., tuple[Emulator, Emulator]],
    stage: Stage,
    condition: str,
    user: str,
    exists: bool,
    portal_form: str,
) -> None:
    before, after = twins(legacy_not_found=portal_form)
    leads = [p.add_lead({"TITLE": "x"}) if exists else 424242 for p in (before, after)]
    assert leads[0] == leads[1]
    with requests.Session() as plain:
        expected = answer(delete_request(before, user, leads[0])(plain))
    webhook = after.admin_webhook if user == "admin" else after.restricted_webhook
    setting = NOT_FOUND_SETTING[portal_form]
    with adapted(webhook, stage, legacy_not_found=setting) as session:
        got = answer(delete_request(after, user, leads[1])(session))
    assert got == expected
    assert before.lead_exists(leads[0]) is after.lead_exists(leads[1])
    assert expected[0] == (200 if condition == "deleted" else 400)


def test_at_an_item_stage_a_coercible_id_is_refused_and_deletes_nothing(
    twins: Callable[..., tuple[Emulator, Emulator]],
) -> None:
    before, after = twins()
    with requests.Session() as plain:
        expected = answer(delete_request(before, "admin", 0)(plain))
    lead = after.add_lead({"TITLE": "lead 1, which PHP's (int) would pick for ['1']"})
    after.reset_counters()
    with adapted(after.admin_webhook, Stage.ITEM) as session:
        for bad in (f"{lead}abc", [lead], True, f"{lead}.9"):
            assert answer(delete_request(after, "admin", bad)(session)) == expected
    assert after.lead_exists(lead)
    assert after.requests == []  # refused without a request


@pytest.mark.parametrize("bad", ["{lead}abc", "[lead]", "{lead}.9"])
def test_at_the_legacy_stage_a_coercible_id_does_what_the_portal_does(
    twins: Callable[..., tuple[Emulator, Emulator]], bad: str
) -> None:
    # DESIGN 6: legacy stages behave as legacy: "1abc" reaches crm.lead.delete unchanged.
    before, after = twins()
    leads = [p.add_lead({"TITLE": "x"}) for p in (before, after)]
    value: object = [leads[0]] if bad == "[lead]" else bad.format(lead=leads[0])
    with requests.Session() as plain:
        expected = answer(delete_request(before, "admin", value)(plain))
    with adapted(after.admin_webhook, Stage.LEGACY) as session:
        assert answer(delete_request(after, "admin", value)(session)) == expected
    assert before.lead_exists(leads[0]) is after.lead_exists(leads[1]) is False


def test_the_legacy_route_passes_the_portals_own_not_found_through(
    twins: Callable[..., tuple[Emulator, Emulator]],
) -> None:
    before, after = twins(legacy_not_found="source")
    with requests.Session() as plain:
        expected = answer(delete_request(before, "admin", 424242)(plain))
    with adapted(after.admin_webhook, Stage.LEGACY) as session:
        assert answer(delete_request(after, "admin", 424242)(session)) == expected
    assert json.loads(expected[1])["error"] == "ERROR_CORE"


def test_before_seeing_the_portal_the_item_route_assumes_the_current_not_found(
    b24_emulator_factory: Factory,
) -> None:
    # legacy_not_found="auto": a shim that has seen no legacy answer yet assumes the current
    # portals' form, even on a portal that answers as documented.
    portal = b24_emulator_factory(legacy_not_found="docs")
    with adapted(portal.admin_webhook, Stage.ITEM) as session:
        response = delete_request(portal, "admin", 424242)(session)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "ERROR_CORE", "error_description": "Item not found"},
    )


@pytest.mark.parametrize("portal_form", list(NOT_FOUND_SETTING))
@pytest.mark.parametrize("item_stage", [Stage.ITEM_VERIFIED, Stage.ITEM])
def test_the_item_route_answers_the_not_found_it_learnt_from_this_portal(
    twins: Callable[..., tuple[Emulator, Emulator]], portal_form: str, item_stage: Stage
) -> None:
    # One shim, first at legacy_verified (as every migration starts), then at an item stage:
    # what the legacy route saw for a missing lead is what the item route answers from then on.
    before, after = twins(legacy_not_found=portal_form)
    with requests.Session() as plain:
        expected = answer(delete_request(before, "admin", 424242)(plain))
    stage = {"now": Stage.LEGACY_VERIFIED}
    seen: list[Difference] = []
    flag = lambda _lead: stage["now"]  # noqa: E731 - a flag provider the test moves on
    with adapted(after.admin_webhook, flag, on_difference=seen.append) as session:
        assert answer(delete_request(after, "admin", 424243)(session)) == expected
        stage["now"] = item_stage
        got = answer(delete_request(after, "admin", 424242)(session))
    assert got == expected
    # The second delete really went through crm.item.delete: its raw answer differs in format.
    (shape,) = [d for d in seen if d.stage is item_stage]
    assert shape.kind == "error_format"
    assert shape.item["error"] == "NOT_FOUND"  # type: ignore[index]


def test_a_portal_without_the_item_api_still_answers_like_legacy(
    twins: Callable[..., tuple[Emulator, Emulator]],
) -> None:
    before, after = twins(item_api=False)
    leads = [p.add_lead({"TITLE": "x"}) for p in (before, after)]
    seen: list[Difference] = []
    with requests.Session() as plain:
        expected = answer(delete_request(before, "admin", leads[0])(plain))
    with adapted(after.admin_webhook, Stage.ITEM, on_difference=seen.append) as session:
        assert answer(delete_request(after, "admin", leads[1])(session)) == expected
    assert [d.kind for d in seen] == ["fallback"]
    assert not after.lead_exists(leads[1])


def test_other_methods_pass_through_unchanged(
    twins: Callable[..., tuple[Emulator, Emulator]],
) -> None:
    before, after = twins()
    for portal in (before, after):
        portal.add_lead({"TITLE": "Ünïcödé"})
    with requests.Session() as plain:
        expected = answer(
            plain.get(before.admin_webhook + "crm.lead.list", params={"select[]": "TITLE"})
        )
    with adapted(after.admin_webhook, Stage.ITEM) as session:
        got = answer(
            session.get(after.admin_webhook + "crm.lead.list", params={"select[]": "TITLE"})
        )
    assert got == expected
    assert [r.method for r in after.requests] == ["crm.lead.list"]


BATCH_CASES: dict[str, Callable[[list[int]], dict[str, Any]]] = {
    "mixed": lambda ids: {
        "halt": 0,
        "cmd": {
            "add": "crm.lead.add?fields[TITLE]=new",
            "del_new": "crm.lead.delete?id=$result[add]",
            "del_one": f"crm.lead.delete?id={ids[0]}",
            "get_one": f"crm.lead.get?id={ids[0]}",
            "del_missing": "crm.lead.delete?ID=424242",
            "del_two": f"CRM.LEAD.DELETE?id={ids[1]}",
            "list": "crm.lead.list?select[]=ID",
        },
    },
    "list": lambda ids: {
        "cmd": [
            f"crm.lead.delete?id={ids[0]}",
            "crm.lead.list?select[]=ID",
            f"crm.lead.delete?id={ids[1]}",
        ],
    },
    "halt": lambda ids: {
        "halt": 1,
        "cmd": {
            "one": f"crm.lead.delete?id={ids[0]}",
            "missing": "crm.lead.delete?id=424242",
            "two": f"crm.lead.delete?id={ids[1]}",
        },
    },
}


@pytest.mark.parametrize("portal_form", list(NOT_FOUND_SETTING))
@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("case", list(BATCH_CASES))
def test_batches_answer_byte_for_byte_like_the_legacy_batch(
    twins: Callable[..., tuple[Emulator, Emulator]], stage: Stage, case: str, portal_form: str
) -> None:
    before, after = twins(legacy_not_found=portal_form)
    ids = [before.add_lead({"TITLE": f"lead {n}"}) for n in range(2)]
    assert ids == [after.add_lead({"TITLE": f"lead {n}"}) for n in range(2)]
    payload = BATCH_CASES[case](ids)
    with requests.Session() as plain:
        expected = answer(plain.post(before.admin_webhook + "batch", json=payload))
    setting = NOT_FOUND_SETTING[portal_form]
    with adapted(after.admin_webhook, stage, legacy_not_found=setting) as session:
        got = answer(session.post(after.admin_webhook + "batch.json", json=payload))
    assert got == expected
    assert [before.lead_exists(i) for i in ids] == [after.lead_exists(i) for i in ids]
    assert b"b24shim" not in got[1]
    assert len([r for r in after.requests if r.method == "batch"]) == 1  # never split


def test_a_batch_sent_as_a_form_is_routed_too(b24_emulator: Emulator) -> None:
    lead = b24_emulator.add_lead({"TITLE": "x"})
    with adapted(b24_emulator.admin_webhook, Stage.ITEM) as session:
        response = session.post(
            b24_emulator.admin_webhook + "batch",
            data={"cmd[a]": f"crm.lead.delete?id={lead}", "cmd[b]": "crm.lead.list"},
        )
    assert response.json()["result"]["result"]["a"] is True
    (sent,) = [r for r in b24_emulator.requests if r.method == "batch"]
    assert sent.params["cmd"]["a"] == f"crm.item.delete?entityTypeId=1&id={lead}"
    assert not b24_emulator.lead_exists(lead)


def test_install_routes_a_legacy_scripts_own_requests(b24_emulator: Emulator) -> None:
    lead = b24_emulator.add_lead({"TITLE": "x"})
    undo = install(LeadShim(b24_emulator.admin_webhook, stage="item", rate_limit=None))
    try:
        response = requests.post(
            b24_emulator.admin_webhook + "crm.lead.delete.json", json={"id": lead}
        )
    finally:
        undo()
    assert response.json()["result"] is True
    assert [r.method for r in b24_emulator.requests] == ["crm.item.delete"]


def test_the_example_script_migrates_with_the_adapter_alone() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("B24SHIM_")}
    env["B24SHIM_LEAD_DELETE_STAGE"] = "item"
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "crm.lead.delete answered 200" in done.stdout
    assert "deleted through crm.item.delete" in done.stdout


# Every drop-in sends again the commands a halted batch did not run (the aiohttp middleware:
# tests/integration/test_aiohttp_clients_emulator.py).
@pytest.mark.parametrize("stage", [Stage.ITEM, Stage.ITEM_VERIFIED])
def test_a_halting_batch_on_a_portal_without_the_item_api_runs_every_command(
    twins: Callable[..., tuple[Emulator, Emulator]], stage: Stage
) -> None:
    # The routed crm.item.delete fails with ERROR_METHOD_NOT_FOUND and the portal halts; the
    # legacy batch would have gone on, so the commands after it must run too.
    before, after = twins(item_api=False)
    ids, payload = halting_batch(before, after)
    with requests.Session() as plain:
        expected = answer(plain.post(before.admin_webhook + "batch", json=payload))
    found: list[Difference] = []
    with adapted(after.admin_webhook, stage, on_difference=found.append) as session:
        got = answer(session.post(after.admin_webhook + "batch", json=payload))
    assert got == expected
    assert set(json.loads(got[1])["result"]["result"]) == {"one", "add", "two"}
    assert not after.lead_exists(ids[0])
    assert not after.lead_exists(ids[1])
    added = json.loads(got[1])["result"]["result"]["add"]
    assert after.lead_exists(int(added))
    assert {d.kind for d in found} == {"fallback"}
