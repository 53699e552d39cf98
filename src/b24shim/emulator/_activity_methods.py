"""`crm.activity.add` and `crm.activity.list` (just enough to give leads activities).

Decisions where the spec is silent: `OWNER_TYPE_ID` must be 1..4 and `OWNER_ID` an existing
entity of that type, else 400 `""` "The field OWNER_TYPE_ID is not defined or invalid." /
"The field OWNER_ID is not defined or invalid."; other fields are stored as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from b24shim._php import to_int

from ._context import CallContext, Page
from ._errors import RestError
from ._fields import activity_view
from ._legacy_methods import check_crm_access, resolve_array
from ._listing import filter_rows, order_rows, page, select_list
from ._store import ENTITY_NAMES

__all__ = ["ACTIVITY_METHODS"]


def activity_add(ctx: CallContext, params: Mapping[str, Any]) -> int:
    """`crm.activity.add`: create an activity owned by a CRM entity; return its id."""
    check_crm_access(ctx)
    fields = resolve_array(params, "fields")
    if not isinstance(fields, Mapping):
        raise RestError("The parameter 'fields' must be array.")
    fields = {str(k): v for k, v in fields.items()}
    owner_type = to_int(fields.get("OWNER_TYPE_ID"))
    owner_id = to_int(fields.get("OWNER_ID"))
    if owner_type not in ENTITY_NAMES:
        raise RestError("The field OWNER_TYPE_ID is not defined or invalid.")
    fields.update(OWNER_TYPE_ID=owner_type, OWNER_ID=owner_id)
    try:
        return ctx.store.add_activity(fields, ctx.auth.user_id, ctx.now)
    except LookupError:
        raise RestError("The field OWNER_ID is not defined or invalid.") from None


def activity_list(ctx: CallContext, params: Mapping[str, Any]) -> Page:
    """`crm.activity.list`: filtered, ordered pages of 50 activities."""
    check_crm_access(ctx)
    rows = ctx.store.activities()
    rows = filter_rows(rows, resolve_array(params, "filter"), str.upper)
    rows = order_rows(rows, resolve_array(params, "order"), str.upper)
    select = select_list(resolve_array(params, "select"))
    chunk = page(rows, ctx.start)
    return Page([activity_view(row, select) for row in chunk.result], chunk.total, chunk.next)


ACTIVITY_METHODS = {"crm.activity.add": activity_add, "crm.activity.list": activity_list}
