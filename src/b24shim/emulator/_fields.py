"""Reading writes and rendering answers for the two API families over one stored record.

A record is a dict keyed by UPPER_CASE names holding typed values (see `_schema`); it is never
changed in place once stored (an update builds a new dict), so list methods can filter, sort
and render the stored records themselves without copying the store.

- Writes: `legacy_changes` reads `crm.<entity>.add/update` fields (UPPER_CASE, `PHONE`/`EMAIL`
  ... as lists of `{"VALUE", "VALUE_TYPE"[, "ID"][, "DELETE"]}`), `item_changes` reads
  `crm.item.add/update` fields (camelCase, `fm` as a list of `{"typeId", "valueType",
  "value"}`). Read-only and unknown standard fields are ignored, as the portal ignores them;
  user fields (`UF_CRM_...` / `ufCrm...`) are stored as given.
- Multi-fields: legacy writes add values without an `ID`, change the value with that `ID`, and
  remove it when its `VALUE` is empty or `DELETE` is "Y"; item writes only add (the
  documentation: "`crm.item.update` only adds values").
- Answers: `legacy_view` (strings, `PHONE`: `[{"ID": "1", "VALUE_TYPE": "WORK", "VALUE": ...,
  "TYPE_ID": "PHONE"}]`), `item_view` (typed, `fm`: `[{"id": 1, "valueType": ..., "value":
  ..., "typeId": ...}]`, `entityTypeId` only when `select` is omitted or `["*"]`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from b24shim._php import to_string

from ._clock import iso_date
from ._schema import FM, MULTIFIELD_TYPES, EntitySchema

__all__ = [
    "Changes",
    "activity_view",
    "apply_changes",
    "field_value",
    "item_changes",
    "item_view",
    "legacy_changes",
    "legacy_view",
]

_DEFAULT_TITLES = {1: ("TITLE", "Lead"), 2: ("TITLE", "Deal"), 4: ("TITLE", "Company")}
_SEMANTIC_FINAL = {"CONVERTED": "S", "JUNK": "F", "WON": "S", "LOSE": "F"}


@attrs.frozen
class Changes:
    """What one add or update writes.

    Attributes:
        values: Typed values by stored name.
        fm_add: New multi-field values, each `{"TYPE_ID", "VALUE_TYPE", "VALUE"}`.
        fm_edit: Changed multi-field values by id; None removes the value.
    """

    values: dict[str, Any] = attrs.Factory(dict)
    fm_add: list[dict[str, Any]] = attrs.Factory(list)
    fm_edit: dict[int, dict[str, Any] | None] = attrs.Factory(dict)


def _fm_entry(type_id: str, value_type: Any, value: Any) -> dict[str, Any]:
    return {
        "TYPE_ID": type_id,
        "VALUE_TYPE": to_string(value_type) or "WORK",
        "VALUE": to_string(value),
    }


def _legacy_multifield(changes: Changes, type_id: str, given: Any) -> None:
    entries = list(given.values()) if isinstance(given, Mapping) else given
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        value = entry.get("VALUE", "")
        raw_id = entry.get("ID")
        if raw_id not in (None, "", 0, "0"):
            deleted = to_string(entry.get("DELETE")).upper() == "Y" or to_string(value) == ""
            entity_id = int(to_string(raw_id)) if to_string(raw_id).isdigit() else 0
            new = None if deleted else _fm_entry(type_id, entry.get("VALUE_TYPE"), value)
            changes.fm_edit[entity_id] = new
        elif to_string(value):
            changes.fm_add.append(_fm_entry(type_id, entry.get("VALUE_TYPE"), value))


def legacy_changes(schema: EntitySchema, fields: Mapping[str, Any]) -> Changes:
    """Read the `fields` of `crm.<entity>.add/update` (UPPER_CASE names)."""
    changes = Changes()
    for raw_name, value in fields.items():
        name = str(raw_name).upper()
        if name in MULTIFIELD_TYPES and schema.has_fm:
            _legacy_multifield(changes, name, value)
            continue
        field = schema.by_upper(name)
        if field is not None:
            if not field.read_only:
                changes.values[name] = field.coerce(value)
        elif name.startswith("UF_"):
            changes.values[name] = value
    return changes


def item_changes(schema: EntitySchema, fields: Mapping[str, Any]) -> Changes:
    """Read the `fields` of `crm.item.add/update` (camelCase names; UPPER_CASE also works)."""
    changes = Changes()
    for raw_name, value in fields.items():
        name = str(raw_name)
        if name == "fm" and schema.has_fm:
            entries = list(value.values()) if isinstance(value, Mapping) else value
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, Mapping) and entry.get("typeId") in MULTIFIELD_TYPES:
                    changes.fm_add.append(
                        _fm_entry(str(entry["typeId"]), entry.get("valueType"), entry.get("value"))
                    )
            continue
        field = schema.by_camel(name) or schema.by_upper(name)
        if field is not None:
            if not field.read_only and field.camel is not None:
                changes.values[field.upper] = field.coerce(value)
        elif name.startswith(("ufCrm", "UF_")):
            changes.values[schema.upper_of(name)] = value
    return changes


def _defaults(schema: EntitySchema, new_id: int, user_id: int, stamp: str) -> dict[str, Any]:
    record: dict[str, Any] = {"ID": new_id, "ASSIGNED_BY_ID": user_id, "OPENED": "Y"}
    if schema.entity_type_id in (1, 2):
        record.update(CURRENCY_ID="USD", OPPORTUNITY=0.0, IS_MANUAL_OPPORTUNITY="N")
        record.update(MOVED_BY_ID=user_id, MOVED_TIME=stamp)
    if schema.entity_type_id == 1:
        record.update(STATUS_ID="NEW", IS_RETURN_CUSTOMER="N")
    elif schema.entity_type_id == 2:
        record.update(STAGE_ID="NEW", CATEGORY_ID=0, CLOSED="N", IS_NEW="Y")
    elif schema.entity_type_id == 3:
        record.update(EXPORT="Y")
    elif schema.entity_type_id == 4:
        record.update(IS_MY_COMPANY="N")
    record.update(CREATED_BY_ID=user_id, DATE_CREATE=stamp)
    return record


def _stage_of(schema: EntitySchema) -> str | None:
    return {1: "STATUS_ID", 2: "STAGE_ID"}.get(schema.entity_type_id)


def _merge_fm(
    current: list[dict[str, Any]], changes: Changes, next_fm_id: Callable[[], int]
) -> list[dict[str, Any]]:
    merged: list[dict[str, Any]] = []
    for entry in current:
        if entry["ID"] in changes.fm_edit:
            edited = changes.fm_edit[entry["ID"]]
            if edited is not None:
                merged.append({"ID": entry["ID"], **edited, "TYPE_ID": entry["TYPE_ID"]})
        else:
            merged.append(entry)
    merged.extend({"ID": next_fm_id(), **entry} for entry in changes.fm_add)
    return merged


def apply_changes(
    schema: EntitySchema,
    record: Mapping[str, Any] | None,
    changes: Changes,
    *,
    new_id: int,
    user_id: int,
    now: float,
    next_fm_id: Callable[[], int],
) -> dict[str, Any]:
    """Build the new stored record of an add (`record` None) or an update."""
    stamp = iso_date(now)
    built = _defaults(schema, new_id, user_id, stamp) if record is None else dict(record)
    stage = _stage_of(schema)
    old_stage = built.get(stage) if stage else None
    for name, value in changes.values.items():
        field = schema.by_upper(name)
        if record is not None and field is not None and field.immutable:
            continue
        built[name] = value
    if schema.has_fm:
        built[FM] = _merge_fm(list(built.get(FM, ())), changes, next_fm_id)
        kinds = {entry["TYPE_ID"] for entry in built[FM]}
        built["HAS_PHONE"] = "Y" if "PHONE" in kinds else "N"
        built["HAS_EMAIL"] = "Y" if "EMAIL" in kinds else "N"
        built["HAS_IMOL"] = "Y" if any(e["VALUE_TYPE"] == "OPENLINE" for e in built[FM]) else "N"
    if record is None and schema.entity_type_id in _DEFAULT_TITLES:
        name, word = _DEFAULT_TITLES[schema.entity_type_id]
        if not built.get(name):
            built[name] = f"{word} #{new_id}"
    if (
        record is None
        and schema.entity_type_id == 3
        and not (built.get("NAME") or built.get("LAST_NAME"))
    ):
        built["LAST_NAME"] = f"Contact #{new_id}"
    if stage:
        current = to_string(built.get(stage))
        semantic = _SEMANTIC_FINAL.get(current.rpartition(":")[2], "P")
        built[f"{stage.removesuffix('_ID')}_SEMANTIC_ID"] = semantic
        if schema.entity_type_id == 2:
            built["CLOSED"] = "N" if semantic == "P" else "Y"
        if record is not None and built.get(stage) != old_stage:
            built.update(MOVED_BY_ID=user_id, MOVED_TIME=stamp)
    built.update(ID=built["ID"], MODIFY_BY_ID=user_id, DATE_MODIFY=stamp)
    return built


def field_value(row: Mapping[str, Any], name: str) -> Any:
    """A stored value for filtering and sorting; a multi-field type gives its values."""
    if name in MULTIFIELD_TYPES:
        return [entry["VALUE"] for entry in row.get(FM, ()) if entry["TYPE_ID"] == name]
    return row.get(name)


def _legacy_fm(row: Mapping[str, Any], type_id: str) -> list[dict[str, str]]:
    return [
        {
            "ID": str(entry["ID"]),
            "VALUE_TYPE": entry["VALUE_TYPE"],
            "VALUE": entry["VALUE"],
            "TYPE_ID": type_id,
        }
        for entry in row.get(FM, ())
        if entry["TYPE_ID"] == type_id
    ]


def _legacy_value(schema: EntitySchema, row: Mapping[str, Any], name: str) -> Any:
    field = schema.by_upper(name)
    value = row.get(name)
    return field.legacy(value) if field is not None else value


def legacy_view(
    schema: EntitySchema, row: Mapping[str, Any], select: list[str] | None = None
) -> dict[str, Any]:
    """Render a record as `crm.<entity>.get` (no `select`) or `crm.<entity>.list` does.

    Without `select`: every standard field, the multi-fields present and the user fields (as
    `crm.<entity>.get` answers). With `select`: `"*"` for the standard fields, `"UF_*"` for
    every user field, other names one by one; multi-fields only when named.
    """
    names = _legacy_names(schema, row, select)
    view: dict[str, Any] = {}
    for name in names:
        if name in MULTIFIELD_TYPES:
            entries = _legacy_fm(row, name)
            if entries or select is not None:
                view[name] = entries
        else:
            view[name] = _legacy_value(schema, row, name)
    return view


def _legacy_names(
    schema: EntitySchema, row: Mapping[str, Any], select: list[str] | None
) -> list[str]:
    standard = [field.upper for field in schema.fields]
    user_fields = [name for name in row if name.startswith("UF_")]
    if select is None:
        return standard + (list(MULTIFIELD_TYPES) if schema.has_fm else []) + user_fields
    wanted = [name.upper() for name in select]
    names = ["ID"]
    for name in wanted:
        if name == "*":
            names += standard
        elif name == "UF_*":
            names += user_fields
        elif (name in MULTIFIELD_TYPES and schema.has_fm) or schema.by_upper(name) or name in row:
            names.append(name)
    return list(dict.fromkeys(names))


def legacy_list_view(
    schema: EntitySchema, row: Mapping[str, Any], select: list[str] | None
) -> dict[str, Any]:
    """Render a record as `crm.<entity>.list` does: without `select`, the standard fields."""
    return legacy_view(schema, row, select if select is not None else ["*"])


def _item_fm(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": entry["ID"],
            "valueType": entry["VALUE_TYPE"],
            "value": entry["VALUE"],
            "typeId": entry["TYPE_ID"],
        }
        for entry in row.get(FM, ())
    ]


# Response-only item fields derived from the multi-fields (object-fields.md, leads, contacts
# and companies): the first value of a type, and the first value of a type and value type.
_DERIVED = (
    ("phone", "PHONE", None),
    ("phoneMobile", "PHONE", "MOBILE"),
    ("phoneWork", "PHONE", "WORK"),
    ("phoneMailing", "PHONE", "MAILING"),
    ("email", "EMAIL", None),
    ("emailHome", "EMAIL", "HOME"),
    ("emailWork", "EMAIL", "WORK"),
    ("emailMailing", "EMAIL", "MAILING"),
    ("imol", "IM", "OPENLINE"),
)


def _item_contact_fields(row: Mapping[str, Any]) -> dict[str, str]:
    entries = row.get(FM, ())
    derived = {}
    for name, type_id, value_type in _DERIVED:
        derived[name] = next(
            (
                entry["VALUE"]
                for entry in entries
                if entry["TYPE_ID"] == type_id
                and (value_type is None or entry["VALUE_TYPE"] == value_type)
            ),
            "",
        )
    return derived


def item_view(
    schema: EntitySchema, row: Mapping[str, Any], select: list[str] | None = None
) -> dict[str, Any]:
    """Render a record as `crm.item.get` / `crm.item.list` do (camelCase, typed values)."""
    everything = select is None or "*" in select
    view: dict[str, Any] = {}
    if everything:
        for field in schema.fields:
            if field.camel is not None:
                view[field.camel] = field.item(row.get(field.upper))
        if schema.has_fm:
            view.update(_item_contact_fields(row))
            view["fm"] = _item_fm(row)
        for name, value in row.items():
            if name.startswith("UF_"):
                view[schema.camel_of(name)] = value
        view["entityTypeId"] = schema.entity_type_id
        return view
    view["id"] = row["ID"]
    for name in select or ():
        if name in ("entityTypeId", "fm", "id"):
            continue  # the documentation: dropped from select, fm only with "*"
        upper = schema.upper_of(name)
        known = schema.by_upper(upper)
        if known is not None and known.camel is not None:
            view[known.camel] = known.item(row.get(upper))
        elif upper.startswith("UF_") and upper in row:
            view[schema.camel_of(upper)] = row[upper]
    return view


def _activity_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def activity_view(fields: Mapping[str, Any], select: list[str] | None = None) -> dict[str, Any]:
    """Render an activity the way `crm.activity.list` does (strings, UPPER_CASE)."""
    if not select or "*" in select:
        names = list(fields)
    else:
        names = ["ID"] + [name for name in select if name != "ID" and name in fields]
    return {name: _activity_scalar(fields.get(name)) for name in names}
