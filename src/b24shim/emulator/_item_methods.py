"""The universal methods `crm.item.{add,update,get,list,delete,fields}` (spec 3), as
`Controller\\Item` runs them, for entityTypeId 1 lead, 2 deal, 3 contact, 4 company.

Order of checks, as the D7 controller has it: the intranet-user prefilter, then the binder
(`entityTypeId` before `id`, exact-case names, `is_numeric` then an int coercion; a JSON null
counts as missing), then the factory (`NOT_FOUND` "SPA not found" for entityTypeId other than
1 lead, 2 deal, 3 contact, 4 company), then the item (`NOT_FOUND` "Item not found" for 0,
negative or missing ids), then the permission (`ACCESS_DENIED`, restricted user deleting).
The restricted user may read, add and update. Results: `get`/`add`/`update` ->
`{"item": {...}}`, `list` -> `{"items": [...]}` with top-level `total`/`next`, `delete` -> `[]`,
`fields` -> `{"fields": {...}}`. One store serves both API families: a deal added by
`crm.deal.add` is read by `crm.item.get` with entityTypeId=2, and the other way round.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from b24shim._php import is_numeric, to_int, to_string

from ._context import CallContext, Page
from ._errors import RestError
from ._fields import field_value, item_changes, item_view
from ._listing import filter_field, filter_rows, order_rows, page, select_list
from ._schema import FM, SCHEMAS, EntitySchema, Field
from ._store import ENTITY_NAMES

__all__ = ["ITEM_METHODS"]


def _missing(ctx: CallContext, name: str) -> RestError:
    return RestError(f"Could not find value for parameter {{{name}}}", ctx.binder_code)


def _bind_int(ctx: CallContext, params: Mapping[str, Any], name: str) -> int:
    value = params.get(name)
    if value is None:
        raise _missing(ctx, name)
    if not is_numeric(value):
        raise RestError(
            f"Invalid value {{{to_string(value)}}} to match with parameter {{{name}}}. "
            "Should be value of type int.",
            ctx.binder_code,
        )
    return to_int(value)


def _bind_array(ctx: CallContext, params: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = params.get(name)
    if value is None:
        raise _missing(ctx, name)
    if isinstance(value, list):
        value = {str(index): item for index, item in enumerate(value)}
    if not isinstance(value, Mapping):
        raise RestError(
            f"Invalid value {{{to_string(value)}}} to match with parameter {{{name}}}. "
            "Should be value of type array.",
            ctx.binder_code,
        )
    return value


def _prefilter(ctx: CallContext) -> None:
    if ctx.is_extranet:
        raise RestError(
            ctx.text("intranet_only"),
            "allowed_only_intranet_user",
            ctx.settings.access_denied_status,
        )


def _factory(ctx: CallContext, entity_type_id: int) -> int:
    if entity_type_id not in ENTITY_NAMES:
        raise RestError(ctx.text("type_not_found"), "NOT_FOUND")
    return entity_type_id


def _item_not_found(ctx: CallContext) -> RestError:
    return RestError(ctx.text("item_not_found"), "NOT_FOUND")


def item_delete(ctx: CallContext, params: Mapping[str, Any]) -> list[Any]:
    """`crm.item.delete`: existence is checked before permission (spec 3.4)."""
    _prefilter(ctx)
    entity_type_id = _bind_int(ctx, params, "entityTypeId")
    item_id = _bind_int(ctx, params, "id")
    _factory(ctx, entity_type_id)
    if item_id <= 0 or not ctx.store.exists(entity_type_id, item_id):
        raise _item_not_found(ctx)
    if not ctx.may_delete:
        raise ctx.access_denied_item()
    if not ctx.store.delete(entity_type_id, item_id, ctx.auth.user_id, ctx.method, ctx.now):
        raise _item_not_found(ctx)  # deleted by a concurrent request meanwhile
    return []


def _entity(ctx: CallContext, params: Mapping[str, Any]) -> EntitySchema:
    return SCHEMAS[_factory(ctx, _bind_int(ctx, params, "entityTypeId"))]


def item_get(ctx: CallContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.item.get`: `{"item": {...camelCase fields...}}`."""
    _prefilter(ctx)
    entity_type_id = _bind_int(ctx, params, "entityTypeId")
    item_id = _bind_int(ctx, params, "id")
    schema = SCHEMAS[_factory(ctx, entity_type_id)]
    record = ctx.store.record(entity_type_id, item_id) if item_id > 0 else None
    if record is None:
        raise _item_not_found(ctx)
    return {"item": item_view(schema, record)}


def item_add(ctx: CallContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.item.add`: create from camelCase `fields`; `{"item": {...}}`."""
    _prefilter(ctx)
    entity_type_id = _bind_int(ctx, params, "entityTypeId")
    fields = _bind_array(ctx, params, "fields")
    schema = SCHEMAS[_factory(ctx, entity_type_id)]
    changes = item_changes(schema, fields)
    created = ctx.store.add(entity_type_id, changes, ctx.auth.user_id, ctx.now)
    return {"item": item_view(schema, created)}


def item_update(ctx: CallContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.item.update`: change the given camelCase `fields`; `{"item": {...}}`.

    Binder order `entityTypeId`, `id`, `fields`; then the factory, then the item. Multi-field
    values in `fm` are added, never replaced (the documentation says so).
    """
    _prefilter(ctx)
    entity_type_id = _bind_int(ctx, params, "entityTypeId")
    item_id = _bind_int(ctx, params, "id")
    fields = _bind_array(ctx, params, "fields")
    schema = SCHEMAS[_factory(ctx, entity_type_id)]
    if item_id <= 0 or not ctx.store.exists(entity_type_id, item_id):
        raise _item_not_found(ctx)
    changes = item_changes(schema, fields)
    updated = ctx.store.update(entity_type_id, item_id, changes, ctx.auth.user_id, ctx.now)
    if updated is None:
        raise _item_not_found(ctx)  # deleted by a concurrent request meanwhile
    return {"item": item_view(schema, updated)}


def item_list(ctx: CallContext, params: Mapping[str, Any]) -> Page:
    """`crm.item.list`: `{"items": [...]}` in pages of 50 with `filter`/`order`/`select`.

    With `select`, the items carry `id` and the selected fields only: no `entityTypeId` (it
    comes only when `select` is omitted or `["*"]`, as the documentation and recorded real
    answers show).
    """
    _prefilter(ctx)
    schema = _entity(ctx, params)
    _check_list_arguments(schema, params.get("filter"), params.get("order"))
    rows = ctx.store.all(schema.entity_type_id)
    rows = filter_rows(rows, params.get("filter"), schema.upper_of, field_value)
    rows = order_rows(rows, params.get("order"), schema.upper_of)
    select = select_list(params.get("select"))
    chunk = page(rows, ctx.start)
    items = [item_view(schema, row, select) for row in chunk.result]
    return Page({"items": items}, chunk.total, chunk.next)


def _listable(schema: EntitySchema, name: str) -> bool:
    if name.startswith("ufCrm") or name.startswith("UF_"):
        return True  # user fields are not defined in the emulator: any may be asked for
    field = schema.by_camel(name)
    return field is not None


def _check_list_arguments(schema: EntitySchema, filter_: Any, order: Any) -> None:
    """`INVALID_ARG_VALUE` for a field the item API cannot filter or sort by (documented)."""
    for key in filter_ if isinstance(filter_, Mapping) else ():
        name = filter_field(str(key))
        if not _listable(schema, name):
            raise RestError(
                f"Invalid filter: field '{name}' is not allowed in filter", "INVALID_ARG_VALUE"
            )
    for key, direction in order.items() if isinstance(order, Mapping) else ():
        if not _listable(schema, str(key)):
            raise RestError(
                f"Invalid order: field '{key}' is not allowed in order", "INVALID_ARG_VALUE"
            )
        if to_string(direction).upper() not in ("ASC", "DESC"):
            raise RestError(
                "Invalid order: allowed sort directions are ASC, DESC. "
                f"But got '{to_string(direction)}' for field '{key}'",
                "INVALID_ARG_VALUE",
            )


def item_fields(ctx: CallContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.item.fields`: `{"fields": {camelName: {..., "upperName": ...}}}`."""
    _prefilter(ctx)
    schema = _entity(ctx, params)
    described = {
        field.camel: field.describe(camel=True)
        for field in schema.fields
        if field.camel is not None
    }
    if schema.has_fm:
        multi = Field(FM, "fm", "crm_multifield", multiple=True, title="Multifields")
        described["fm"] = multi.describe(camel=True)
    return {"fields": described}


ITEM_METHODS = {
    "crm.item.add": item_add,
    "crm.item.update": item_update,
    "crm.item.get": item_get,
    "crm.item.list": item_list,
    "crm.item.delete": item_delete,
    "crm.item.fields": item_fields,
}
