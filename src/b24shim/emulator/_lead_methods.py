"""The legacy methods `crm.lead.add/get/list/delete` (spec 2), as `CCrmLeadRestProxy` runs them.

Decisions where the spec is silent:

- `crm.lead.get` of a missing lead answers 400 `{"error": "", "error_description": "Not found"}`
  in both `legacy_not_found` styles: the proxy's `innerGet` appends `'Not found'` itself and no
  application exception is involved (source S1; the docs show the same body). The read
  permission check runs before the existence check, but the restricted user may read, so only
  the extranet user sees "Access denied.".
- `crm.lead.add` takes `fields`/`FIELDS`/`Fields` (a missing or non-array value creates a lead
  with default fields) and returns the new id as an integer.
- `crm.lead.list` pages by 50 with `start`, and supports `filter` (with `=`, `!`, `>`, `<`,
  `>=`, `<=`, `@` prefixes), `order` and `select`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from b24shim._php import to_int

from ._context import CallContext, Page
from ._errors import RestError
from ._fields import legacy_view
from ._listing import filter_rows, order_rows, page, select_list

__all__ = ["LEAD_METHODS", "resolve_array", "resolve_id"]

LEAD = 1


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


def check_crm_access(ctx: CallContext) -> None:
    """`CCrmPerms::IsAccessEnabled`: the extranet user has no CRM access at all."""
    if ctx.is_extranet:
        raise RestError("Access denied.")


def _checked_id(params: Mapping[str, Any]) -> int:
    entity_id = resolve_id(params)
    if entity_id <= 0:
        raise RestError("ID is not defined or invalid.")
    return entity_id


def _not_found_on_delete(ctx: CallContext) -> RestError:
    if ctx.settings.legacy_not_found == "docs":
        return RestError("Not found", "")
    # Factory mode: CCrmLead::Delete sets an application exception -> ERROR_CORE (spec 2.4).
    return RestError(ctx.text("item_not_found"), "ERROR_CORE")


def lead_delete(ctx: CallContext, params: Mapping[str, Any]) -> bool:
    """`crm.lead.delete`: id check, then the delete permission, then existence (spec 2.2-2.4)."""
    check_crm_access(ctx)
    lead_id = _checked_id(params)
    if not ctx.may_delete:
        raise RestError("Access denied.")
    if not ctx.store.delete(LEAD, lead_id, ctx.auth.user_id, ctx.method, ctx.now):
        raise _not_found_on_delete(ctx)
    return True


def lead_get(ctx: CallContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """`crm.lead.get`: the lead's fields in UPPER_CASE with string values."""
    check_crm_access(ctx)
    lead_id = _checked_id(params)
    fields = ctx.store.get(LEAD, lead_id)
    if fields is None:
        raise RestError("Not found")
    return legacy_view(fields)


def lead_add(ctx: CallContext, params: Mapping[str, Any]) -> int:
    """`crm.lead.add`: create a lead from UPPER_CASE `fields`; return its id."""
    check_crm_access(ctx)
    fields = resolve_array(params, "fields")
    if not isinstance(fields, Mapping):
        fields = {}
    created = ctx.store.add(LEAD, {str(k): v for k, v in fields.items()}, ctx.auth.user_id, ctx.now)
    return int(created["ID"])


def lead_list(ctx: CallContext, params: Mapping[str, Any]) -> Page:
    """`crm.lead.list`: filtered, ordered pages of 50 leads."""
    check_crm_access(ctx)
    rows = ctx.store.all(LEAD)
    rows = filter_rows(rows, resolve_array(params, "filter"), str.upper)
    rows = order_rows(rows, resolve_array(params, "order"), str.upper)
    select = select_list(resolve_array(params, "select"))
    chunk = page(rows, ctx.start)
    return Page([legacy_view(row, select) for row in chunk.result], chunk.total, chunk.next)


LEAD_METHODS = {
    "crm.lead.add": lead_add,
    "crm.lead.get": lead_get,
    "crm.lead.list": lead_list,
    "crm.lead.delete": lead_delete,
}
