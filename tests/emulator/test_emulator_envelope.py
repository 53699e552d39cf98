"""Envelope (spec 1.1-1.3) and request parsing (spec 1.4)."""

from __future__ import annotations

import pytest

from b24shim.emulator import Emulator, ManualClock


def test_success_envelope_has_the_full_time_block(portal: Emulator, call, clock: ManualClock):
    lead_id = portal.add_lead({"TITLE": "x"})
    response = call(portal.admin_webhook, "crm.lead.get", json={"id": lead_id})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"result", "time"}
    assert body["result"]["ID"] == str(lead_id)
    assert body["result"]["TITLE"] == "x"
    assert body["time"] == {
        "start": clock.time(),
        "finish": clock.time(),
        "duration": 0,
        "processing": 0,
        "date_start": "2023-11-14T22:13:20+00:00",
        "date_finish": "2023-11-14T22:13:20+00:00",
        # present even when nothing is counted yet, as on real portals: now + 10 minutes
        "operating_reset_at": 1_700_000_600,
        "operating": 0,
    }


def test_processing_time_moves_finish_but_not_the_clock(make_portal, call, clock: ManualClock):
    portal = make_portal(processing_time={"crm.lead.get": 2.5})
    lead_id = portal.add_lead()
    time = call(portal.admin_webhook, "crm.lead.get", json={"id": lead_id}).json()["time"]
    assert time["finish"] - time["start"] == 2.5
    assert time["processing"] == 2.5
    assert time["duration"] == 2.5
    assert time["date_finish"] == "2023-11-14T22:13:22+00:00"
    assert clock.time() == 1_700_000_000.0


def test_error_body_has_no_time_block(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.lead.delete", json={})
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {"error": "", "error_description": "ID is not defined or invalid."}


def test_unknown_method(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.lead.nope")
    assert response.status_code == 404
    assert response.json() == {
        "error": "ERROR_METHOD_NOT_FOUND",
        "error_description": "Method not found!",
    }


@pytest.mark.parametrize("name", ["CRM.LEAD.GET", "Crm.Lead.Get.json", "crm.lead.get.json"])
def test_method_name_is_case_insensitive_and_takes_json_suffix(portal: Emulator, call, name):
    lead_id = portal.add_lead()
    response = call(portal.admin_webhook, name, json={"id": lead_id})
    assert response.status_code == 200
    assert portal.requests[-1].method == "crm.lead.get"


def test_query_string_get(portal: Emulator, call):
    lead_id = portal.add_lead()
    response = call(portal.admin_webhook, "crm.lead.get", http_method="GET", params={"id": lead_id})
    assert response.status_code == 200
    assert portal.requests[-1].http_method == "GET"


def test_form_body_with_brackets(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.lead.add", data={"fields[TITLE]": "from form"})
    lead_id = response.json()["result"]
    assert isinstance(lead_id, int)
    assert portal.get_lead(lead_id)["TITLE"] == "from form"
    assert portal.requests[-1].params == {"fields": {"TITLE": "from form"}}


def test_query_brackets_make_nested_params(portal: Emulator, call):
    call(portal.admin_webhook, "crm.lead.add?fields[TITLE]=q&fields[PHONE][0][VALUE]=1")
    assert portal.requests[-1].params == {"fields": {"TITLE": "q", "PHONE": [{"VALUE": "1"}]}}


def test_body_keys_override_query_keys(portal: Emulator, call):
    first, second = portal.add_lead(), portal.add_lead()
    call(portal.admin_webhook, f"crm.lead.delete?id={first}", json={"id": second})
    assert portal.lead_exists(first)
    assert not portal.lead_exists(second)


def test_query_and_body_are_united(portal: Emulator, call):
    response = call(
        portal.admin_webhook, "crm.item.get?entityTypeId=1", json={"id": portal.add_lead()}
    )
    assert response.status_code == 200


def test_invalid_json_becomes_empty_params(portal: Emulator, call):
    response = call(
        portal.admin_webhook,
        "crm.lead.delete",
        data=b'{"id": 1',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error_description"] == "ID is not defined or invalid."
    assert portal.requests[-1].params == {}


def test_auth_start_state_are_not_seen_by_the_method(portal: Emulator, call):
    access, _ = portal.issue_tokens()
    response = call(
        portal.base_url + "/rest/",
        "crm.lead.list",
        json={"auth": access, "start": 0, "state": "s", "filter": {"TITLE": "none"}},
    )
    assert response.status_code == 200
    assert portal.requests[-1].params == {"start": 0, "state": "s", "filter": {"TITLE": "none"}}


def test_list_pages_with_next_and_total(portal: Emulator, call):
    for number in range(120):
        portal.add_lead({"TITLE": f"lead {number}"})
    first = call(portal.admin_webhook, "crm.lead.list", json={}).json()
    assert list(first) == ["result", "next", "total", "time"]
    assert (len(first["result"]), first["next"], first["total"]) == (50, 50, 120)
    last = call(portal.admin_webhook, "crm.lead.list", json={"start": 100}).json()
    assert len(last["result"]) == 20
    assert "next" not in last
    assert last["result"][0]["TITLE"] == "lead 100"


def test_list_filter_order_select(portal: Emulator, call):
    for title in ("a", "b", "c"):
        portal.add_lead({"TITLE": title, "SOURCE_ID": "WEB" if title != "b" else "CALL"})
    body = call(
        portal.admin_webhook,
        "crm.lead.list",
        json={"filter": {"SOURCE_ID": "WEB"}, "order": {"ID": "DESC"}, "select": ["TITLE"]},
    ).json()
    assert body["result"] == [{"ID": "3", "TITLE": "c"}, {"ID": "1", "TITLE": "a"}]
    assert body["total"] == 2


def test_other_paths_are_plain_404(portal: Emulator, session):
    response = session.get(portal.base_url + "/index.php", timeout=10)
    assert response.status_code == 404
    assert portal.requests == []
