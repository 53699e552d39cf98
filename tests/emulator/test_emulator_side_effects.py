"""Side effects of deletes (spec 2.5, 3.5) and consistency under concurrent requests."""

from __future__ import annotations

import threading

import pytest
import requests

from b24shim.emulator import Emulator, ManualClock

DELETES = {
    "crm.lead.delete": lambda lead_id: {"id": lead_id},
    "crm.item.delete": lambda lead_id: {"entityTypeId": 1, "id": lead_id},
}


@pytest.mark.parametrize("method", sorted(DELETES))
def test_delete_moves_lead_and_activities_to_the_bin(
    portal: Emulator, call, clock: ManualClock, method
):
    keep = portal.add_lead({"TITLE": "keep"})
    lead_id = portal.add_lead({"TITLE": "gone"})
    portal.add_activity(keep, {"SUBJECT": "stays"})
    first = portal.add_activity(lead_id, {"SUBJECT": "call"})
    added = call(
        portal.admin_webhook,
        "crm.activity.add",
        json={"fields": {"OWNER_TYPE_ID": 1, "OWNER_ID": lead_id, "SUBJECT": "mail"}},
    ).json()["result"]
    clock.advance(5)

    assert call(portal.admin_webhook, method, json=DELETES[method](lead_id)).status_code == 200

    assert portal.events == [
        {"event": "ONCRMLEADDELETE", "data": {"FIELDS": {"ID": str(lead_id)}}, "ts": 1_700_000_005}
    ]
    [entry] = portal.recycle_bin
    assert (entry.entity_type_id, entry.id, entry.method, entry.deleted_by) == (
        1,
        lead_id,
        method,
        1,
    )
    assert entry.fields["TITLE"] == "gone"
    assert [activity["ID"] for activity in entry.activities] == [first, added]
    listed = call(
        portal.admin_webhook, "crm.activity.list", json={"filter": {"OWNER_ID": lead_id}}
    ).json()
    assert (listed["result"], listed["total"]) == ([], 0)
    remaining = call(portal.admin_webhook, "crm.activity.list").json()["result"]
    assert [activity["SUBJECT"] for activity in remaining] == ["stays"]


@pytest.mark.parametrize("method", sorted(DELETES))
def test_failed_delete_has_no_side_effects(portal: Emulator, call, method):
    lead_id = portal.add_lead()
    call(portal.restricted_webhook, method, json=DELETES[method](lead_id))
    call(portal.admin_webhook, method, json=DELETES[method](lead_id + 1))
    assert portal.events == []
    assert portal.recycle_bin == []


def test_activity_needs_an_existing_owner(portal: Emulator, call):
    response = call(
        portal.admin_webhook,
        "crm.activity.add",
        json={"fields": {"OWNER_TYPE_ID": 1, "OWNER_ID": 3}},
    )
    assert (response.status_code, response.json()) == (
        400,
        {"error": "", "error_description": "The field OWNER_ID is not defined or invalid."},
    )
    with pytest.raises(LookupError):
        portal.add_activity(3, {})


def test_deal_delete_fires_its_own_event(portal: Emulator, call):
    deal_id = portal.add_item(2, {"TITLE": "d"})
    call(portal.admin_webhook, "crm.item.delete", json={"entityTypeId": 2, "id": deal_id})
    assert [event["event"] for event in portal.events] == ["ONCRMDEALDELETE"]


def test_concurrent_adds_and_deletes_keep_the_store_consistent(portal: Emulator):
    preexisting = [portal.add_lead() for _ in range(40)]
    added: list[int] = []
    outcomes: list[int] = []
    lock = threading.Lock()

    def adder() -> None:
        with requests.Session() as http:
            for _ in range(25):
                body = http.post(portal.admin_webhook + "crm.lead.add", json={}, timeout=10).json()
                with lock:
                    added.append(body["result"])

    def deleter(method: str) -> None:
        with requests.Session() as http:
            for lead_id in preexisting:
                response = http.post(
                    portal.admin_webhook + method, json=DELETES[method](lead_id), timeout=10
                )
                with lock:
                    outcomes.append(response.status_code)

    threads = [threading.Thread(target=adder) for _ in range(4)]
    threads += [threading.Thread(target=deleter, args=(method,)) for method in sorted(DELETES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(added) == len(set(added)) == 100
    assert all(portal.lead_exists(lead_id) for lead_id in added)
    assert not any(portal.lead_exists(lead_id) for lead_id in preexisting)
    # every lead was deleted exactly once, whichever method got there first
    assert outcomes.count(200) == 40
    assert outcomes.count(400) == 40
    assert len(portal.events) == len(portal.recycle_bin) == 40
    assert sorted(entry.id for entry in portal.recycle_bin) == preexisting
    assert len(portal.requests) == 100 + 80
