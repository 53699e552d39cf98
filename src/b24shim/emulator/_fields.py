"""Field naming: legacy `UPPER_CASE` (crm.lead.*) versus item `camelCase` (crm.item.*).

The store keeps `UPPER_CASE`; these helpers translate names both ways and render the two views.
Legacy views return scalars as strings, as the PHP proxy does (`"ID": "5"`); item views return
ids and user ids as integers (`"id": 5`) and add `entityTypeId`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["activity_view", "item_view", "legacy_view", "to_camel", "to_upper"]

_COMMON = {
    "DATE_CREATE": "createdTime",
    "DATE_MODIFY": "updatedTime",
    "CREATED_BY_ID": "createdBy",
    "MODIFY_BY_ID": "updatedBy",
    "MOVED_BY_ID": "movedBy",
}
_LEAD = {"STATUS_ID": "stageId", "STATUS_SEMANTIC_ID": "stageSemanticId"}
_UPPER = re.compile(r"[A-Z0-9_]+\Z")
_INT_FIELDS = re.compile(r"(ID|_ID|_BY|_BY_ID)\Z")


def _special(entity_type_id: int) -> dict[str, str]:
    return {**_COMMON, **_LEAD} if entity_type_id == 1 else dict(_COMMON)


def to_camel(name: str, entity_type_id: int) -> str:
    """`ASSIGNED_BY_ID` -> `assignedById`, `UF_CRM_1` -> `ufCrm_1`, lead `STATUS_ID` -> `stageId`.

    Args:
        name: The UPPER_CASE field name.
        entity_type_id: The CRM type (leads name their stage `STATUS_ID`).
    """
    special = _special(entity_type_id)
    if name in special:
        return special[name]
    if name.startswith("UF_CRM_"):
        return "ufCrm_" + name[len("UF_CRM_") :]
    head, *rest = name.lower().split("_")
    return head + "".join(part.capitalize() for part in rest)


def to_upper(name: str, entity_type_id: int) -> str:
    """The inverse of `to_camel`; names already in UPPER_CASE are kept."""
    if _UPPER.match(name):
        return name
    for upper, camel in _special(entity_type_id).items():
        if camel == name:
            return upper
    if name.startswith("ufCrm_"):
        return "UF_CRM_" + name[len("ufCrm_") :]
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).upper()


def _legacy_scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return "Y" if value else "N"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def legacy_view(fields: Mapping[str, Any], select: list[str] | None = None) -> dict[str, Any]:
    """Render stored fields the way `crm.lead.get` / `crm.lead.list` do."""
    names = _selected(fields, select, id_name="ID")
    return {name: _legacy_scalar(fields.get(name)) for name in names}


def activity_view(fields: Mapping[str, Any], select: list[str] | None = None) -> dict[str, Any]:
    """Render an activity the way `crm.activity.list` does (strings, UPPER_CASE)."""
    return legacy_view(fields, select)


def _item_scalar(name: str, value: Any) -> Any:
    if _INT_FIELDS.search(name) and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def item_view(
    fields: Mapping[str, Any], entity_type_id: int, select: list[str] | None = None
) -> dict[str, Any]:
    """Render stored fields the way `crm.item.get` / `crm.item.list` do (camelCase)."""
    upper_select = None if select is None else [to_upper(name, entity_type_id) for name in select]
    names = _selected(fields, upper_select, id_name="ID")
    view = {to_camel(name, entity_type_id): _item_scalar(name, fields.get(name)) for name in names}
    view["entityTypeId"] = entity_type_id
    return view


def _selected(fields: Mapping[str, Any], select: list[str] | None, id_name: str) -> list[str]:
    if not select or "*" in select:
        return list(fields)
    names = [id_name] if id_name in fields else []
    names += [name for name in select if name != id_name and name in fields]
    return names
