"""`batch` per spec section 6."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from b24shim.emulator import Emulator


def _batch(call, portal: Emulator, webhook: str | None = None, **body):
    response = call(webhook or portal.admin_webhook, "batch", json=body)
    assert response.status_code == 200
    return response.json()


def test_references_to_earlier_results(portal: Emulator, call):
    body = _batch(
        call,
        portal,
        cmd={
            "add": "crm.item.add?" + urlencode({"entityTypeId": 1, "fields[title]": "ref"}),
            "get": "crm.lead.get?id=$result[add][item][id]",
            "del": "crm.lead.delete?id=$result[get][ID]",
            "title": "crm.lead.add?fields[TITLE]=copy+of+$result[get][TITLE]",
        },
    )
    result = body["result"]
    assert result["result"]["add"]["item"]["title"] == "ref"
    assert result["result"]["get"]["ID"] == "1"
    assert result["result"]["del"] is True
    assert result["result_error"] == []
    assert set(result["result_time"]) == {"add", "get", "del", "title"}
    assert portal.get_lead(2)["TITLE"] == "copy of ref"
    assert set(body["time"]) >= {"start", "finish", "duration", "processing", "operating"}


def test_failed_commands_only_in_result_error(portal: Emulator, call):
    lead_id = portal.add_lead()
    result = _batch(
        call,
        portal,
        cmd={
            "a": f"crm.lead.delete?id={lead_id}",
            "b": f"crm.item.delete?entityTypeId=1&id={lead_id}",
            "c": "crm.lead.delete?id=abc",
            "d": "crm.nothing",
        },
    )["result"]
    assert result["result"] == {"a": True}
    assert result["result_error"] == {
        "b": {"error": "NOT_FOUND", "error_description": "Item not found"},
        "c": {"error": "", "error_description": "ID is not defined or invalid."},
        "d": {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
    }
    assert list(result["result_time"]) == ["a"]
    assert result["result_total"] == []
    assert result["result_next"] == []


def test_list_style_cmd_gives_arrays(portal: Emulator, call):
    first, second = portal.add_lead(), portal.add_lead()
    result = _batch(
        call,
        portal,
        cmd=[f"crm.lead.delete?id={first}", f"crm.item.delete?entityTypeId=1&id={second}"],
    )["result"]
    assert result["result"] == [True, []]
    assert isinstance(result["result_time"], list)
    assert result["result_error"] == []


def test_list_style_with_a_failure_gives_objects(portal: Emulator, call):
    lead_id = portal.add_lead()
    result = _batch(call, portal, cmd=["crm.lead.delete?id=99", f"crm.lead.delete?id={lead_id}"])[
        "result"
    ]
    # PHP json_encode: keys {1} make an object, keys {0} make an array
    assert result["result"] == {"1": True}
    assert result["result_error"] == [
        {"error": "ERROR_CORE", "error_description": "Item not found"}
    ]


def test_totals_and_next_of_list_commands(portal: Emulator, call):
    for _ in range(60):
        portal.add_lead()
    result = _batch(call, portal, cmd={"l": "crm.lead.list", "i": "crm.item.list?entityTypeId=1"})[
        "result"
    ]
    assert result["result_total"] == {"l": 60, "i": 60}
    assert result["result_next"] == {"l": 50, "i": 50}
    assert len(result["result"]["l"]) == 50
    assert len(result["result"]["i"]["items"]) == 50


@pytest.mark.parametrize(
    ("halt", "stops"),
    [(0, False), ("0", False), ("", False), (1, True), ("false", True), (True, True)],
)
def test_halt_is_a_php_bool(portal: Emulator, call, halt, stops):
    result = _batch(
        call, portal, halt=halt, cmd={"bad": "crm.lead.delete?id=0", "add": "crm.lead.add"}
    )["result"]
    assert list(result["result_error"]) == ["bad"]
    assert result["result"] == ([] if stops else {"add": 1})


def test_keys_are_case_insensitive(portal: Emulator, call):
    result = _batch(call, portal, CMD={"x": "crm.lead.add"}, HALT=0)["result"]
    assert result["result"] == {"x": 1}


def test_form_encoded_batch(portal: Emulator, call):
    response = call(
        portal.admin_webhook,
        "batch",
        data={"cmd[a]": "crm.lead.add?fields[TITLE]=f", "cmd[b]": "crm.lead.get?id=$result[a]"},
    )
    assert response.json()["result"]["result"]["b"]["TITLE"] == "f"


def test_max_fifty_commands(portal: Emulator, call):
    result = _batch(call, portal, cmd=["crm.lead.add"] * 53)["result"]
    assert len(result["result"]) == 50
    exceeded = {
        "error": "ERROR_BATCH_LENGTH_EXCEEDED",
        "error_description": "Max batch length exceeded",
    }
    assert result["result_error"] == {"50": exceeded, "51": exceeded, "52": exceeded}
    assert len(portal.get_lead(50) or {}) > 0
    assert portal.get_lead(51) is None


def test_max_fifty_with_halt_stops_at_the_first_excess(portal: Emulator, call):
    result = _batch(call, portal, halt=1, cmd=["crm.lead.add"] * 53)["result"]
    assert list(result["result_error"]) == ["50"]


def test_non_string_commands_are_skipped(portal: Emulator, call):
    result = _batch(call, portal, cmd={"a": 5, "b": "crm.lead.add"})["result"]
    assert result["result"] == {"b": 1}
    assert result["result_error"] == []


@pytest.mark.parametrize("method", ["batch", "download", "upload"])
def test_refused_methods(portal: Emulator, call, method):
    result = _batch(call, portal, cmd={"n": f"{method}?cmd[x]=crm.lead.add"})["result"]
    assert result["result_error"] == {
        "n": {
            "error": "ERROR_BATCH_METHOD_NOT_ALLOWED",
            "error_description": "Method is not allowed for batch usage",
        }
    }
    assert portal.get_lead(1) is None


def test_missing_cmd_gives_empty_arrays(portal: Emulator, call):
    assert _batch(call, portal)["result"] == {
        "result": [],
        "result_error": [],
        "result_total": [],
        "result_next": [],
        "result_time": [],
    }


def test_commands_run_with_the_parent_auth(portal: Emulator, call):
    lead_id = portal.add_lead()
    result = _batch(
        call,
        portal,
        webhook=portal.restricted_webhook,
        cmd={"get": f"crm.lead.get?id={lead_id}", "del": f"crm.lead.delete?id={lead_id}"},
    )["result"]
    assert list(result["result"]) == ["get"]
    assert result["result_error"] == {"del": {"error": "", "error_description": "Access denied."}}
    assert portal.requests[-1].method == "batch"
    assert portal.requests[-1].user_id == 2


def test_old_portal_inside_batch(make_portal, call):
    portal = make_portal(item_api=False)
    result = _batch(call, portal, cmd={"i": "crm.item.delete?entityTypeId=1&id=1"})["result"]
    assert result["result_error"]["i"]["error"] == "ERROR_METHOD_NOT_FOUND"
