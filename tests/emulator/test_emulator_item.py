"""`crm.item.*` per spec section 3."""

from __future__ import annotations

import pytest

from b24shim.emulator import Emulator

NOT_FOUND = {"error": "NOT_FOUND", "error_description": "Item not found"}
ACCESS_DENIED = {"error": "ACCESS_DENIED", "error_description": "Access denied"}


def _delete(call, portal: Emulator, params, webhook: str | None = None):
    return call(webhook or portal.admin_webhook, "crm.item.delete", json=params)


def test_delete_success(portal: Emulator, call):
    lead_id = portal.add_lead()
    response = _delete(call, portal, {"entityTypeId": 1, "id": lead_id})
    assert response.status_code == 200
    body = response.json()
    assert body["result"] == []
    assert set(body) == {"result", "time"}
    assert not portal.lead_exists(lead_id)


@pytest.mark.parametrize(
    ("params", "description"),
    [
        ({}, "Could not find value for parameter {entityTypeId}"),
        ({"id": 1}, "Could not find value for parameter {entityTypeId}"),
        ({"entityTypeId": 1}, "Could not find value for parameter {id}"),
        ({"entityTypeId": 1, "ID": 1}, "Could not find value for parameter {id}"),
        ({"ENTITYTYPEID": 1, "id": 1}, "Could not find value for parameter {entityTypeId}"),
        ({"entityTypeId": 1, "id": None}, "Could not find value for parameter {id}"),
        (
            {"entityTypeId": 1, "id": "abc"},
            "Invalid value {abc} to match with parameter {id}. Should be value of type int.",
        ),
        (
            {"entityTypeId": 1, "id": "5abc"},
            "Invalid value {5abc} to match with parameter {id}. Should be value of type int.",
        ),
        (
            {"entityTypeId": 1, "id": ""},
            "Invalid value {} to match with parameter {id}. Should be value of type int.",
        ),
        (
            {"entityTypeId": "x", "id": "abc"},
            "Invalid value {x} to match with parameter {entityTypeId}. "
            "Should be value of type int.",
        ),
        (
            {"entityTypeId": 999, "id": "abc"},
            "Invalid value {abc} to match with parameter {id}. Should be value of type int.",
        ),
    ],
)
def test_binder_errors(portal: Emulator, call, params, description):
    response = _delete(call, portal, params)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "100", "error_description": description},
    )


def test_binder_rejects_arrays_from_the_query(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.item.delete?entityTypeId=1&id[]=5")
    assert response.json()["error_description"] == (
        "Invalid value {Array} to match with parameter {id}. Should be value of type int."
    )


def test_binder_code_as_number(make_portal, call):
    portal = make_portal(binder_code_as_number=True)
    response = _delete(call, portal, {"entityTypeId": 1})
    assert response.json() == {
        "error": 100,
        "error_description": "Could not find value for parameter {id}",
    }


@pytest.mark.parametrize("raw_id", ["7", " 7", "7.0", "7 ", 7.0, "0.7e1"])
def test_is_numeric_ids_pass_the_binder(portal: Emulator, call, raw_id):
    for _ in range(7):
        portal.add_lead()
    response = _delete(call, portal, {"entityTypeId": "1", "id": raw_id})
    assert response.status_code == 200
    assert not portal.lead_exists(7)


@pytest.mark.parametrize("raw_id", [0, "0", -3, "-3", "1e3", 99])
def test_zero_negative_missing_are_not_found(portal: Emulator, call, raw_id):
    portal.add_lead()
    response = _delete(call, portal, {"entityTypeId": 1, "id": raw_id})
    assert (response.status_code, response.json()) == (400, NOT_FOUND)


def test_unknown_entity_type(portal: Emulator, call):
    response = _delete(call, portal, {"entityTypeId": 999, "id": 1})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "NOT_FOUND", "error_description": "SPA not found"},
    )


def test_restricted_user_existence_before_permission(portal: Emulator, call):
    lead_id = portal.add_lead()
    missing = _delete(call, portal, {"entityTypeId": 1, "id": 99}, portal.restricted_webhook)
    assert (missing.status_code, missing.json()) == (400, NOT_FOUND)
    existing = _delete(call, portal, {"entityTypeId": 1, "id": lead_id}, portal.restricted_webhook)
    assert (existing.status_code, existing.json()) == (400, ACCESS_DENIED)
    assert portal.lead_exists(lead_id)


def test_access_denied_status_403(make_portal, call):
    portal = make_portal(access_denied_status=403)
    lead_id = portal.add_lead()
    response = _delete(call, portal, {"entityTypeId": 1, "id": lead_id}, portal.restricted_webhook)
    assert (response.status_code, response.json()) == (403, ACCESS_DENIED)


@pytest.mark.parametrize("status", [400, 403])
def test_extranet_user_is_refused_by_the_prefilter(make_portal, call, status):
    portal = make_portal(access_denied_status=status)
    response = _delete(call, portal, {}, portal.extranet_webhook)
    assert (response.status_code, response.json()) == (
        status,
        {
            "error": "allowed_only_intranet_user",
            "error_description": "Action is allowed only to intranet users",
        },
    )


def test_russian_texts(make_portal, call):
    portal = make_portal(language="ru")
    lead_id = portal.add_lead()
    assert _delete(call, portal, {"entityTypeId": 1, "id": 9}).json() == {
        "error": "NOT_FOUND",
        "error_description": "Элемент не найден",
    }
    denied = _delete(call, portal, {"entityTypeId": 1, "id": lead_id}, portal.restricted_webhook)
    assert denied.json() == {"error": "ACCESS_DENIED", "error_description": "Доступ запрещен"}


def test_old_portal_has_no_item_api(make_portal, call):
    portal = make_portal(item_api=False)
    for method in ("crm.item.delete", "crm.item.get", "crm.item.list", "crm.item.add"):
        response = call(portal.admin_webhook, method, json={"entityTypeId": 1, "id": 1})
        assert (response.status_code, response.json()) == (
            404,
            {"error": "ERROR_METHOD_NOT_FOUND", "error_description": "Method not found!"},
        )
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 200
    portal.item_api = True
    assert call(portal.admin_webhook, "crm.item.list", json={"entityTypeId": 1}).ok


def test_get_is_camel_case_and_shared_with_leads(portal: Emulator, call):
    lead_id = portal.add_lead({"TITLE": "shared", "ASSIGNED_BY_ID": "7", "STATUS_ID": "IN_PROCESS"})
    response = call(
        portal.restricted_webhook, "crm.item.get", json={"entityTypeId": 1, "id": lead_id}
    )
    item = response.json()["result"]["item"]
    assert item["id"] == lead_id
    assert item["title"] == "shared"
    assert item["assignedById"] == 7
    assert item["stageId"] == "IN_PROCESS"
    assert item["entityTypeId"] == 1
    assert item["createdBy"] == 1


def test_get_not_found(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.item.get", json={"entityTypeId": 1, "id": 5})
    assert (response.status_code, response.json()) == (400, NOT_FOUND)


def test_add_then_legacy_get(portal: Emulator, call):
    response = call(
        portal.admin_webhook,
        "crm.item.add",
        json={"entityTypeId": 1, "fields": {"title": "via item", "sourceId": "WEB"}},
    )
    item = response.json()["result"]["item"]
    legacy = call(portal.admin_webhook, "crm.lead.get", json={"id": item["id"]}).json()["result"]
    assert legacy["TITLE"] == "via item"
    assert legacy["SOURCE_ID"] == "WEB"


def test_add_requires_fields(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.item.add", json={"entityTypeId": 2})
    assert response.json() == {
        "error": "100",
        "error_description": "Could not find value for parameter {fields}",
    }


@pytest.mark.parametrize("entity_type_id", [2, 3, 4])
def test_other_entity_types(portal: Emulator, call, entity_type_id):
    created = call(
        portal.admin_webhook,
        "crm.item.add",
        json={"entityTypeId": entity_type_id, "fields": {"title": "t"}},
    ).json()["result"]["item"]
    assert created["entityTypeId"] == entity_type_id
    assert not portal.lead_exists(created["id"])
    listed = call(
        portal.admin_webhook, "crm.item.list", json={"entityTypeId": entity_type_id}
    ).json()
    assert [item["id"] for item in listed["result"]["items"]] == [created["id"]]
    deleted = _delete(call, portal, {"entityTypeId": entity_type_id, "id": created["id"]})
    assert deleted.status_code == 200


def test_list_items_pages(portal: Emulator, call):
    for number in range(55):
        portal.add_lead({"TITLE": f"n{number}"})
    body = call(
        portal.admin_webhook,
        "crm.item.list",
        json={"entityTypeId": 1, "filter": {">id": 50}, "select": ["id", "title"]},
    ).json()
    # with select: the selected fields only, no entityTypeId (as real portals answer)
    assert body["result"]["items"] == [
        {"id": lead_id, "title": f"n{lead_id - 1}"} for lead_id in range(51, 56)
    ]
    assert body["total"] == 5
    assert "next" not in body
    first = call(portal.admin_webhook, "crm.item.list", json={"entityTypeId": 1}).json()
    assert (first["next"], first["total"], len(first["result"]["items"])) == (50, 55, 50)
