"""Four entity families in both API families over one store: names, types, maps, errors."""

from __future__ import annotations

import pytest

from b24shim.emulator import Emulator
from b24shim.emulator._schema import uf_to_camel, uf_to_upper

FAMILIES = [(1, "lead"), (2, "deal"), (3, "contact"), (4, "company")]


def _ok(response):
    assert response.status_code == 200, response.text
    return response.json()


def test_a_deal_added_by_crm_deal_add_reads_through_crm_item_get(portal: Emulator, call):
    hook = portal.admin_webhook
    deal_id = _ok(
        call(
            hook,
            "crm.deal.add",
            json={"fields": {"TITLE": "Supply", "OPPORTUNITY": "150000.5", "STAGE_ID": "WON"}},
        )
    )["result"]
    assert isinstance(deal_id, int)
    item = _ok(call(hook, "crm.item.get", json={"entityTypeId": 2, "id": deal_id}))["result"][
        "item"
    ]
    legacy = _ok(call(hook, "crm.deal.get", json={"id": deal_id}))["result"]
    assert (item["id"], item["title"], item["opportunity"]) == (deal_id, "Supply", 150000.5)
    assert (item["stageId"], item["stageSemanticId"], item["closed"]) == ("WON", "S", "Y")
    assert (item["createdBy"], item["assignedById"], item["categoryId"]) == (1, 1, 0)
    assert item["createdTime"] == legacy["DATE_CREATE"]
    assert item["updatedTime"] == legacy["DATE_MODIFY"]
    assert item["entityTypeId"] == 2
    assert (legacy["ID"], legacy["OPPORTUNITY"], legacy["CREATED_BY_ID"]) == (
        str(deal_id),
        "150000.50",
        "1",
    )
    assert "createdTime" not in legacy
    assert "DATE_CREATE" not in item


def test_a_lead_added_through_crm_item_reads_through_crm_lead_get(portal: Emulator, call):
    hook = portal.admin_webhook
    item = _ok(
        call(
            hook,
            "crm.item.add",
            json={
                "entityTypeId": 1,
                "fields": {"title": "Web", "stageId": "IN_PROCESS", "opportunity": 12, "x": 1},
            },
        )
    )["result"]["item"]
    legacy = _ok(call(hook, "crm.lead.get", json={"id": item["id"]}))["result"]
    assert (legacy["TITLE"], legacy["STATUS_ID"], legacy["OPPORTUNITY"]) == (
        "Web",
        "IN_PROCESS",
        "12.00",
    )
    assert legacy["STATUS_SEMANTIC_ID"] == "P"
    assert "X" not in legacy  # unknown standard fields are ignored, as the portal does
    assert legacy["BIRTHDATE"] == ""  # empty dates are "" in legacy answers, null in items
    assert item["birthdate"] is None


def test_company_type_maps_to_type_id(portal: Emulator, call):
    hook = portal.admin_webhook
    company_id = _ok(
        call(hook, "crm.company.add", json={"fields": {"TITLE": "Acme", "COMPANY_TYPE": "PARTNER"}})
    )["result"]
    item = _ok(call(hook, "crm.item.get", json={"entityTypeId": 4, "id": company_id}))["result"][
        "item"
    ]
    assert (item["title"], item["typeId"]) == ("Acme", "PARTNER")


@pytest.mark.parametrize(("entity_type_id", "name"), FAMILIES)
def test_legacy_crud_of_each_family(portal: Emulator, call, entity_type_id, name):
    hook = portal.admin_webhook
    new_id = _ok(call(hook, f"crm.{name}.add", json={"fields": {"COMMENTS": "first"}}))["result"]
    assert (
        _ok(call(hook, f"crm.{name}.update", json={"id": new_id, "fields": {"COMMENTS": "2"}}))[
            "result"
        ]
        is True
    )
    got = _ok(call(hook, f"crm.{name}.get", json={"id": new_id}))["result"]
    assert (got["ID"], got["COMMENTS"]) == (str(new_id), "2")
    listed = _ok(call(hook, f"crm.{name}.list", json={"select": ["ID", "COMMENTS"]}))
    assert listed["result"] == [{"ID": str(new_id), "COMMENTS": "2"}]
    assert listed["total"] == 1
    fields = _ok(call(hook, f"crm.{name}.fields"))["result"]
    assert fields["ID"]["type"] == "integer"
    assert fields["ID"]["isReadOnly"] is True
    assert _ok(call(hook, f"crm.{name}.delete", json={"id": new_id}))["result"] is True
    assert portal.get_item(entity_type_id, new_id) is None
    assert portal.recycle_bin[-1].method == f"crm.{name}.delete"


@pytest.mark.parametrize(("entity_type_id", "name"), FAMILIES)
def test_item_crud_of_each_family(portal: Emulator, call, entity_type_id, name):
    hook = portal.admin_webhook
    base = {"entityTypeId": entity_type_id}
    created = _ok(call(hook, "crm.item.add", json={**base, "fields": {"comments": "a"}}))
    item_id = created["result"]["item"]["id"]
    updated = _ok(
        call(hook, "crm.item.update", json={**base, "id": item_id, "fields": {"comments": "b"}})
    )["result"]["item"]
    assert updated["comments"] == "b"
    assert _ok(call(hook, f"crm.{name}.get", json={"id": item_id}))["result"]["COMMENTS"] == "b"
    fields = _ok(call(hook, "crm.item.fields", json=base))["result"]["fields"]
    assert fields["createdTime"] == {
        "type": "datetime",
        "isRequired": False,
        "isReadOnly": True,
        "isImmutable": False,
        "isMultiple": False,
        "isDynamic": False,
        "title": fields["createdTime"]["title"],
        "upperName": "DATE_CREATE",
    }
    assert fields["opened"]["type"] == "boolean"
    assert _ok(call(hook, "crm.item.delete", json={**base, "id": item_id}))["result"] == []
    assert not portal.get_item(entity_type_id, item_id)


def test_lead_fields_name_the_stage_as_each_family_does(portal: Emulator, call):
    legacy = _ok(call(portal.admin_webhook, "crm.lead.fields"))["result"]
    item = _ok(call(portal.admin_webhook, "crm.item.fields", json={"entityTypeId": 1}))["result"][
        "fields"
    ]
    assert legacy["STATUS_ID"]["type"] == "crm_status"
    assert item["stageId"]["upperName"] == "STATUS_ID"
    assert legacy["PHONE"]["type"] == "crm_multifield"
    assert legacy["PHONE"]["isMultiple"]
    assert item["fm"]["type"] == "crm_multifield"
    assert "ADDRESS_CITY" in legacy
    assert all(v["upperName"] != "ADDRESS_CITY" for v in item.values())


def test_multi_fields_against_fm(portal: Emulator, call):
    hook = portal.admin_webhook
    contact_id = _ok(
        call(
            hook,
            "crm.contact.add",
            json={
                "fields": {
                    "NAME": "Ann",
                    "PHONE": [{"VALUE": "+100", "VALUE_TYPE": "WORK"}],
                    "EMAIL": [{"VALUE": "ann@example.com", "VALUE_TYPE": "HOME"}],
                }
            },
        )
    )["result"]
    item = _ok(call(hook, "crm.item.get", json={"entityTypeId": 3, "id": contact_id}))["result"][
        "item"
    ]
    assert [(e["typeId"], e["valueType"], e["value"]) for e in item["fm"]] == [
        ("PHONE", "WORK", "+100"),
        ("EMAIL", "HOME", "ann@example.com"),
    ]
    assert (item["hasPhone"], item["hasEmail"]) == ("Y", "Y")
    # response-only fields derived from fm, as in the documentation's crm.item.get sample
    assert (item["phone"], item["phoneWork"], item["phoneMobile"]) == ("+100", "+100", "")
    assert (item["email"], item["emailHome"], item["emailWork"]) == ("ann@example.com",) * 2 + ("",)
    phone_id = item["fm"][0]["id"]
    assert isinstance(phone_id, int)
    # crm.item.update only adds multi-field values
    call(
        hook,
        "crm.item.update",
        json={
            "entityTypeId": 3,
            "id": contact_id,
            "fields": {"fm": [{"typeId": "PHONE", "valueType": "MOBILE", "value": "+200"}]},
        },
    )
    legacy = _ok(call(hook, "crm.contact.get", json={"id": contact_id}))["result"]
    assert [(e["VALUE_TYPE"], e["VALUE"], e["TYPE_ID"]) for e in legacy["PHONE"]] == [
        ("WORK", "+100", "PHONE"),
        ("MOBILE", "+200", "PHONE"),
    ]
    assert legacy["PHONE"][0]["ID"] == str(phone_id)
    # the legacy update changes a value by ID and removes one whose VALUE is empty
    second = legacy["PHONE"][1]["ID"]
    call(
        hook,
        "crm.contact.update",
        json={
            "id": contact_id,
            "fields": {"PHONE": [{"ID": phone_id, "VALUE": "+101"}, {"ID": second, "VALUE": ""}]},
        },
    )
    legacy = _ok(call(hook, "crm.contact.get", json={"id": contact_id}))["result"]
    assert [e["VALUE"] for e in legacy["PHONE"]] == ["+101"]
    # a list filter on a multi-field matches any of its values
    found = _ok(call(hook, "crm.contact.list", json={"filter": {"PHONE": "+101"}}))
    assert [row["ID"] for row in found["result"]] == [str(contact_id)]
    none = _ok(call(hook, "crm.contact.list", json={"filter": {"PHONE": "+100"}}))
    assert none["result"] == []
    assert none["total"] == 0
    # multi-fields come in a list only when selected
    row = _ok(call(hook, "crm.contact.list", json={"select": ["ID", "EMAIL"]}))["result"][0]
    assert set(row) == {"ID", "EMAIL"}


def test_item_list_filter_and_order_take_camel_case_names(portal: Emulator, call):
    for stage, amount in [("NEW", 5), ("IN_PROCESS", 7), ("NEW", 9)]:
        portal.add_lead({"STATUS_ID": stage, "OPPORTUNITY": amount})
    body = _ok(
        call(
            portal.admin_webhook,
            "crm.item.list",
            json={
                "entityTypeId": 1,
                "filter": {"=stageId": "NEW"},
                "order": {"opportunity": "DESC"},
                "select": ["opportunity", "stageId"],
            },
        )
    )
    assert body["result"]["items"] == [
        {"id": 3, "opportunity": 9.0, "stageId": "NEW"},
        {"id": 1, "opportunity": 5.0, "stageId": "NEW"},
    ]
    everything = _ok(call(portal.admin_webhook, "crm.item.list", json={"entityTypeId": 1}))
    assert everything["result"]["items"][0]["entityTypeId"] == 1
    assert everything["result"]["items"][0]["fm"] == []


@pytest.mark.parametrize(("method", "params"), [("crm.lead.list", {}), ("crm.item.list", None)])
def test_start_minus_one_is_the_fast_mode(portal: Emulator, call, method, params):
    for _ in range(60):
        portal.add_lead()
    body_params = {"start": -1, **({"entityTypeId": 1} if params is None else params)}
    body = _ok(call(portal.admin_webhook, method, json=body_params))
    rows = body["result"] if params is not None else body["result"]["items"]
    assert len(rows) == 50
    assert body["total"] == 0
    assert "next" not in body


def test_every_answer_carries_operating_and_its_reset(portal: Emulator, call, clock):
    hook = portal.admin_webhook
    lead_id = portal.add_lead()
    answers = [
        call(hook, "crm.lead.get", json={"id": lead_id}).json(),
        call(hook, "crm.item.list", json={"entityTypeId": 1}).json(),
        call(hook, "crm.deal.fields").json(),
    ]
    batch = call(
        hook, "batch", json={"cmd": {"a": "crm.lead.list", "b": "crm.contact.fields"}}
    ).json()
    blocks = [answer["time"] for answer in answers] + [batch["time"]]
    blocks += list(batch["result"]["result_time"].values())
    for block in blocks:
        assert block["operating"] == 0
        assert block["operating_reset_at"] == int(clock.time()) + 600


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("lead", "Not found"),
        ("deal", "Not found"),
        ("contact", "Contact is not found"),
        ("company", "Company is not found"),
    ],
)
def test_legacy_update_and_get_of_a_missing_entity(portal: Emulator, call, name, text):
    update = call(portal.admin_webhook, f"crm.{name}.update", json={"id": 9, "fields": {}})
    assert (update.status_code, update.json()) == (400, {"error": "", "error_description": text})
    get = call(portal.admin_webhook, f"crm.{name}.get", json={"id": 9})
    assert get.json() == {"error": "", "error_description": "Not found"}


@pytest.mark.parametrize(
    ("style", "name", "expected"),
    [
        ("source", "lead", ("ERROR_CORE", "Item not found")),
        ("source", "deal", ("ERROR_CORE", "Item not found")),
        ("source", "contact", ("ERROR_CORE", "Item not found")),
        ("source", "company", ("ERROR_CORE", "Item not found")),
        ("docs", "lead", ("", "Not found")),
        ("docs", "deal", ("", "Not found")),
        ("docs", "contact", ("ERROR_CORE", "Element not found")),
        ("docs", "company", ("", "Company is not found")),
    ],
)
def test_legacy_delete_of_a_missing_entity_in_both_forms(make_portal, call, style, name, expected):
    portal = make_portal(legacy_not_found=style)
    response = call(portal.admin_webhook, f"crm.{name}.delete", json={"id": 77})
    code, text = expected
    assert (response.status_code, response.json()) == (
        400,
        {"error": code, "error_description": text},
    )


@pytest.mark.parametrize(
    ("method", "params", "text"),
    [
        ("crm.deal.add", {"fields": "x"}, "Parameter 'fields' must be array."),
        ("crm.deal.add", {"fields": {}, "params": "x"}, "Parameter 'params' must be array."),
        ("crm.deal.update", {"id": 1}, "Parameter 'fields' must be array."),
        ("crm.deal.update", {"fields": {}}, "ID is not defined or invalid."),
        ("crm.contact.list", {"filter": "x"}, "Parameter 'filter' must be array."),
        ("crm.company.list", {"order": "x"}, "Parameter 'order' must be array."),
    ],
)
def test_legacy_parameter_errors(portal: Emulator, call, method, params, text):
    response = call(portal.admin_webhook, method, json=params)
    assert (response.status_code, response.json()) == (
        400,
        {"error": "", "error_description": text},
    )


def test_item_update_errors(portal: Emulator, call):
    hook = portal.admin_webhook
    missing = call(hook, "crm.item.update", json={"entityTypeId": 2, "id": 5, "fields": {}})
    assert (missing.status_code, missing.json()) == (
        400,
        {"error": "NOT_FOUND", "error_description": "Item not found"},
    )
    no_fields = call(hook, "crm.item.update", json={"entityTypeId": 2, "id": 5})
    assert no_fields.json() == {
        "error": "100",
        "error_description": "Could not find value for parameter {fields}",
    }
    spa = call(hook, "crm.item.fields", json={"entityTypeId": 999})
    assert spa.json() == {"error": "NOT_FOUND", "error_description": "SPA not found"}


def test_the_extranet_user_is_refused_by_both_families(portal: Emulator, call):
    legacy = call(portal.extranet_webhook, "crm.deal.update", json={"id": 1, "fields": {}})
    assert legacy.json() == {"error": "", "error_description": "Access denied."}
    item = call(portal.extranet_webhook, "crm.item.fields", json={"entityTypeId": 2})
    assert item.json()["error"] == "allowed_only_intranet_user"


def test_the_restricted_user_may_update_but_not_delete(portal: Emulator, call):
    deal_id = portal.add_item(2, {"TITLE": "x"})
    hook = portal.restricted_webhook
    assert call(hook, "crm.deal.update", json={"id": deal_id, "fields": {"TITLE": "y"}}).ok
    denied = call(hook, "crm.deal.delete", json={"id": deal_id})
    assert denied.json() == {"error": "", "error_description": "Access denied."}
    assert portal.get_item(2, deal_id)["TITLE"] == "y"


def test_user_fields_keep_their_values_in_both_families(portal: Emulator, call):
    hook = portal.admin_webhook
    lead_id = _ok(call(hook, "crm.lead.add", json={"fields": {"UF_CRM_1747309879": "metro"}}))[
        "result"
    ]
    item = _ok(call(hook, "crm.item.get", json={"entityTypeId": 1, "id": lead_id}))["result"][
        "item"
    ]
    assert item["ufCrm_1747309879"] == "metro"
    listed = _ok(call(hook, "crm.lead.list", json={"select": ["UF_*"]}))["result"]
    assert listed == [{"ID": str(lead_id), "UF_CRM_1747309879": "metro"}]


@pytest.mark.parametrize(
    ("upper", "camel"),
    [  # the conversion table of the documentation's universal-methods page
        ("UF_CRM_3_DIGIT", "ufCrm3Digit"),
        ("UF_CRM_3_DIGIT10", "ufCrm_3_DIGIT10"),
        ("UF_CRM_3_DIGIT_10", "ufCrm_3_DIGIT_10"),
        ("UF_CRM_3_1747309727", "ufCrm3_1747309727"),
        ("UF_CRM_1747309879", "ufCrm_1747309879"),
        ("UF_CRM_10_5186744711", "ufCrm10_5186744711"),
    ],
)
def test_user_field_names(upper, camel):
    assert uf_to_camel(upper) == camel
    assert uf_to_upper(camel) == upper


def test_list_does_not_copy_the_store(portal: Emulator, call):
    lead_id = portal.add_lead({"TITLE": "same"})
    store = portal._portal.store
    before = store.record(1, lead_id)
    call(portal.admin_webhook, "crm.lead.list")
    call(portal.admin_webhook, "crm.item.list", json={"entityTypeId": 1})
    assert store.all(1)[0] is before  # the stored record itself, not a copy
    call(portal.admin_webhook, "crm.lead.update", json={"id": lead_id, "fields": {"TITLE": "new"}})
    assert before["TITLE"] == "same"  # an update stores a new record; readers keep theirs


@pytest.mark.parametrize(
    ("params", "description"),
    [
        (
            {"filter": {"=STATUS_ID": "NEW"}},
            "Invalid filter: field 'STATUS_ID' is not allowed in filter",
        ),
        ({"filter": {">=nope": 1}}, "Invalid filter: field 'nope' is not allowed in filter"),
        ({"order": {"nope": "ASC"}}, "Invalid order: field 'nope' is not allowed in order"),
        (
            {"order": {"id": "UP"}},
            "Invalid order: allowed sort directions are ASC, DESC. But got 'UP' for field 'id'",
        ),
    ],
)
def test_item_list_refuses_fields_it_cannot_filter_or_sort_by(portal, call, params, description):
    response = call(portal.admin_webhook, "crm.item.list", json={"entityTypeId": 1, **params})
    assert (response.status_code, response.json()) == (
        400,
        {"error": "INVALID_ARG_VALUE", "error_description": description},
    )
