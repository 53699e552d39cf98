"""`crm.lead.delete` / `crm.lead.get` / `crm.lead.add` per spec section 2."""

from __future__ import annotations

import pytest

from b24shim.emulator import Emulator

INVALID = {"error": "", "error_description": "ID is not defined or invalid."}
DENIED = {"error": "", "error_description": "Access denied."}


def _delete(call, portal: Emulator, **kwargs):
    return call(portal.admin_webhook, "crm.lead.delete", **kwargs)


def test_delete_success(portal: Emulator, call):
    lead_id = portal.add_lead()
    response = _delete(call, portal, json={"id": lead_id})
    assert response.status_code == 200
    body = response.json()
    assert body["result"] is True
    assert set(body) == {"result", "time"}
    assert not portal.lead_exists(lead_id)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"id": 0},
        {"id": "0"},
        {"id": -5},
        {"id": "-5"},
        {"id": ""},
        {"id": "abc"},
        {"id": None},
        {"ID": None},
        {"id": []},
        {"id": False},
        {"Id": 1},
        {"iD": 1},
    ],
)
def test_delete_invalid_id(portal: Emulator, call, params):
    portal.add_lead()
    response = _delete(call, portal, json=params)
    assert (response.status_code, response.json()) == (400, INVALID)
    assert portal.lead_exists(1)


@pytest.mark.parametrize(
    ("params", "deleted"),
    [
        ({"id": "12abc"}, 12),
        ({"id": " 12"}, 12),
        ({"id": "1.9"}, 1),
        ({"id": 1.9}, 1),
        ({"id": "1e1"}, 10),
        ({"id": True}, 1),
        ({"id": ["5"]}, 1),  # a non-empty array casts to 1
        ({"id": {"x": 5}}, 1),
        ({"ID": 3, "id": 4}, 3),  # ID wins over id
        ({"ID": None, "id": 4}, 4),  # JSON null counts as not set
    ],
)
def test_delete_php_int_cast(portal: Emulator, call, params, deleted):
    for _ in range(12):
        portal.add_lead()
    response = _delete(call, portal, json=params)
    assert response.status_code == 200
    assert [lead for lead in range(1, 13) if not portal.lead_exists(lead)] == [deleted]


def test_delete_array_in_query_deletes_lead_one(portal: Emulator, call):
    for _ in range(5):
        portal.add_lead()
    response = _delete(call, portal, params={"id[]": "5"})
    assert response.status_code == 200
    assert not portal.lead_exists(1)
    assert portal.lead_exists(5)


def test_delete_not_found_source_style(portal: Emulator, call):
    response = _delete(call, portal, json={"id": 99})
    assert response.status_code == 400
    assert response.json() == {"error": "ERROR_CORE", "error_description": "Item not found"}


def test_delete_not_found_docs_style(make_portal, call):
    portal = make_portal(legacy_not_found="docs")
    response = _delete(call, portal, json={"id": 99})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "", "error_description": "Not found"},
    )


def test_delete_not_found_in_russian(make_portal, call):
    portal = make_portal(language="ru")
    response = _delete(call, portal, json={"id": 99})
    assert response.json() == {"error": "ERROR_CORE", "error_description": "Элемент не найден"}
    # the proxy's own messages stay English
    assert _delete(call, portal, json={}).json() == INVALID


def test_switch_changes_while_running(portal: Emulator, call):
    portal.legacy_not_found = "docs"
    assert _delete(call, portal, json={"id": 99}).json()["error_description"] == "Not found"
    with pytest.raises(ValueError, match="legacy_not_found"):
        portal.legacy_not_found = "other"


def test_restricted_user_is_denied_before_existence_check(portal: Emulator, call):
    lead_id = portal.add_lead()
    for target in (lead_id, 999):
        response = call(portal.restricted_webhook, "crm.lead.delete", json={"id": target})
        assert (response.status_code, response.json()) == (400, DENIED)
    assert portal.lead_exists(lead_id)
    assert portal.events == []


def test_restricted_user_invalid_id_comes_first(portal: Emulator, call):
    response = call(portal.restricted_webhook, "crm.lead.delete", json={"id": "abc"})
    assert response.json() == INVALID


def test_extranet_user_has_no_crm_access(portal: Emulator, call):
    response = call(portal.extranet_webhook, "crm.lead.delete", json={})
    assert (response.status_code, response.json()) == (400, DENIED)


def test_get_returns_upper_case_strings(portal: Emulator, call):
    lead_id = portal.add_lead({"TITLE": "t", "OPPORTUNITY": 10})
    result = call(portal.admin_webhook, "crm.lead.get", json={"ID": lead_id}).json()["result"]
    assert result["ID"] == str(lead_id)
    assert result["TITLE"] == "t"
    assert result["OPPORTUNITY"] == "10.00"  # a double, two decimals, as the portal answers
    assert result["STATUS_ID"] == "NEW"


def test_restricted_user_can_read(portal: Emulator, call):
    lead_id = portal.add_lead()
    response = call(portal.restricted_webhook, "crm.lead.get", json={"id": lead_id})
    assert response.status_code == 200


@pytest.mark.parametrize("style", ["source", "docs"])
def test_get_not_found_is_the_proxy_message_in_both_styles(make_portal, call, style):
    portal = make_portal(legacy_not_found=style)
    response = call(portal.admin_webhook, "crm.lead.get", json={"id": 42})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "", "error_description": "Not found"},
    )


def test_get_invalid_id(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.lead.get", json={"id": "x"})
    assert (response.status_code, response.json()) == (400, INVALID)


def test_add_returns_the_new_id(portal: Emulator, call):
    response = call(portal.admin_webhook, "crm.lead.add", json={"FIELDS": {"TITLE": "new"}})
    lead_id = response.json()["result"]
    assert portal.get_lead(lead_id)["TITLE"] == "new"
    assert portal.get_lead(lead_id)["CREATED_BY_ID"] == 1
