"""The legacy methods `crm.{lead,deal,contact,company}.{add,update,get,list,delete,fields}`.

They run as `CCrmRestProxyBase` runs them for every entity (spec 2): `ID` wins over `id` with a
PHP `(int)` cast, errors carry an empty code and a hard-coded English text, answers carry
UPPER_CASE names and string values. The extranet user has no CRM access ("Access denied."); the
restricted user may read, add and update but not delete.

Decisions where the spec is silent (each from the method's page in the official REST
documentation unless said otherwise):

- get of a missing entity: 400 `""` "Not found" for every entity, whatever
  `legacy_not_found` says (the proxy's `innerGet` text; no application exception).
- update of a missing entity: 400 `""` "Not found" (lead, deal), "Contact is not found",
  "Company is not found".
- delete of a missing entity: with `legacy_not_found="source"` (the default) 400 `ERROR_CORE`
  "Item not found" for every entity (current portals delete through the factory operation,
  spec 2.4; contacts and companies always do); with "docs" each page's documented form: lead
  and deal `""` "Not found", contact `ERROR_CORE` "Element not found", company `""`
  "Company is not found".
- add: `fields` missing makes an entity with default fields; `fields` (or `params`) given but
  not an array: "Parameter 'fields' must be array." (`'params'`). Returns the new id (int).
- update: `fields` missing or not an array: "Parameter 'fields' must be array.". Returns true.
- list: `filter`/`order` given but not arrays: "Parameter 'filter' must be array." /
  "Parameter 'order' must be array."; pages of 50 with `start` (`-1`: no count, see
  `_listing.page`); without `select` the standard fields, multi-fields only when selected.
- fields: the standard fields with their types and flags (user fields are not emulated).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from b24shim._php import to_int

from ._context import CallContext, Handler, Page
from ._errors import RestError
from ._fields import field_value, legacy_changes, legacy_list_view, legacy_view
from ._listing import filter_rows, order_rows, page, select_list
from ._schema import MULTIFIELD_TYPES, SCHEMAS, EntitySchema, Field

__all__ = ["LEGACY_METHODS", "check_crm_access", "resolve_array", "resolve_id"]

_UPDATE_NOT_FOUND = {1: "Not found", 2: "Not found", 3: "Contact is not found"}
_UPDATE_NOT_FOUND[4] = "Company is not found"
_DOCS_DELETE_NOT_FOUND: dict[int, tuple[str, str]] = {
    1: ("", "Not found"),
    2: ("", "Not found"),
    3: ("ERROR_CORE", "Element not found"),
    4: ("", "Company is not found"),
}


def resolve_id(params: Mapping[str, Any]) -> int:
    """`CCrmRestHelper::resolveEntityID`: `ID` wins over `id`, PHP `(int)` cast, null is unset."""
    for name in ("ID", "id"):
        value = params.get(name)
        if value is not None:
            return to_int(value)
    return 0


def resolve_array(params: Mapping[str, Any], name: str) -> Any:
    """`CCrmRestHelper::resolveArrayParam`: `FIELDS`, then `fields`, then `Fields`."""
    for spelling in (name.upper(), name.lower(), name.capitalize()):
        value = params.get(spelling)
        if value is not None:
            return value
    return None


def _array(params: Mapping[str, Any], name: str, *, required: bool = False) -> Any:
    """An array parameter (a list counts, as a PHP array), or None when absent and optional."""
    value = resolve_array(params, name)
    if value is None and not required:
        return None
    if isinstance(value, list):
        value = {str(index): item for index, item in enumerate(value)}
    if not isinstance(value, Mapping):
        raise RestError(f"Parameter '{name}' must be array.")
    return value


def check_crm_access(ctx: CallContext) -> None:
    """`CCrmPerms::IsAccessEnabled`: the extranet user has no CRM access at all."""
    if ctx.is_extranet:
        raise RestError("Access denied.")


def _checked_id(params: Mapping[str, Any]) -> int:
    entity_id = resolve_id(params)
    if entity_id <= 0:
        raise RestError("ID is not defined or invalid.")
    return entity_id


def _not_found_on_delete(ctx: CallContext, schema: EntitySchema) -> RestError:
    if ctx.settings.legacy_not_found == "docs":
        code, text = _DOCS_DELETE_NOT_FOUND[schema.entity_type_id]
        return RestError(text, code)
    # Factory mode: the delete operation sets an application exception -> ERROR_CORE (spec 2.4).
    return RestError(ctx.text("item_not_found"), "ERROR_CORE")


def legacy_delete(schema: EntitySchema, ctx: CallContext, params: Mapping[str, Any]) -> bool:
    """`crm.<entity>.delete`: id check, then the delete permission, then existence."""
    check_crm_access(ctx)
    entity_id = _checked_id(params)
    if not ctx.may_delete:
        raise RestError("Access denied.")
    if not ctx.store.delete(
        schema.entity_type_id, entity_id, ctx.auth.user_id, ctx.method, ctx.now
    ):
        raise _not_found_on_delete(ctx, schema)
    return True


def legacy_get(schema: EntitySchema, ctx: CallContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.<entity>.get`: every field in UPPER_CASE with string values."""
    check_crm_access(ctx)
    entity_id = _checked_id(params)
    record = ctx.store.record(schema.entity_type_id, entity_id)
    if record is None:
        raise RestError("Not found")
    return legacy_view(schema, record)


def legacy_add(schema: EntitySchema, ctx: CallContext, params: Mapping[str, Any]) -> int:
    """`crm.<entity>.add`: create from UPPER_CASE `fields`; return the new id."""
    check_crm_access(ctx)
    fields = _array(params, "fields") or {}
    _array(params, "params")
    created = ctx.store.add(
        schema.entity_type_id, legacy_changes(schema, fields), ctx.auth.user_id, ctx.now
    )
    return int(created["ID"])


def legacy_update(schema: EntitySchema, ctx: CallContext, params: Mapping[str, Any]) -> bool:
    """`crm.<entity>.update`: change the given UPPER_CASE `fields`; return true."""
    check_crm_access(ctx)
    entity_id = _checked_id(params)
    fields = _array(params, "fields", required=True)
    _array(params, "params")
    changes = legacy_changes(schema, fields)
    updated = ctx.store.update(schema.entity_type_id, entity_id, changes, ctx.auth.user_id, ctx.now)
    if updated is None:
        raise RestError(_UPDATE_NOT_FOUND[schema.entity_type_id])
    return True


def legacy_list(schema: EntitySchema, ctx: CallContext, params: Mapping[str, Any]) -> Page:
    """`crm.<entity>.list`: filtered, ordered pages of 50."""
    check_crm_access(ctx)
    filter_ = _array(params, "filter")
    order = _array(params, "order")
    rows = ctx.store.all(schema.entity_type_id)
    rows = filter_rows(rows, filter_, str.upper, field_value)
    rows = order_rows(rows, order, str.upper)
    select = select_list(resolve_array(params, "select"))
    chunk = page(rows, ctx.start)
    return Page(
        [legacy_list_view(schema, row, select) for row in chunk.result], chunk.total, chunk.next
    )


def legacy_fields(
    schema: EntitySchema, ctx: CallContext, params: Mapping[str, Any]
) -> dict[str, Any]:
    """`crm.<entity>.fields`: the standard fields, as the documentation's sample lists them."""
    check_crm_access(ctx)
    described = {field.upper: field.describe(camel=False) for field in schema.fields}
    if schema.has_fm:
        for type_id in MULTIFIELD_TYPES:
            multi = Field(type_id, None, "crm_multifield", multiple=True, title=type_id)
            described[type_id] = multi.describe(camel=False)
    return described


_OPERATIONS = {
    "add": legacy_add,
    "update": legacy_update,
    "get": legacy_get,
    "list": legacy_list,
    "delete": legacy_delete,
    "fields": legacy_fields,
}

LEGACY_METHODS: dict[str, Handler] = {
    f"crm.{schema.name}.{operation}": partial(handler, schema)
    for schema in SCHEMAS.values()
    for operation, handler in _OPERATIONS.items()
}
