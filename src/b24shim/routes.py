"""The two routes: which method each calls, with which parameters, and how to read its answer.

- Legacy route: ``crm.lead.delete`` with ``id``; reads with ``crm.lead.get``. Success is
  ``true``.
- Item route: ``crm.item.delete`` with ``entityTypeId=1`` and ``id``; reads with
  ``crm.item.get``. Success is ``[]``.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterable, Mapping

import attrs

from b24shim._describe import describe
from b24shim._envelope import Reply, protocol_error
from b24shim.codes import ErrorCode
from b24shim.errors import InvalidLeadId
from b24shim.ids import parse_lead_id
from b24shim.result import Outcome, Route
from b24shim.transport import Command

__all__ = ["ITEM", "LEGACY", "LeadRoute", "Read", "ReadState", "answer_of"]

LEAD_ENTITY_TYPE_ID = 1
_LEGACY_ROUTE = Route.LEGACY  # read once: check_delete runs for every delete of a bulk job


@attrs.frozen
class LeadRoute:
    """One method family for leads."""

    route: Route
    delete_method: str
    get_method: str
    entity_type_id: int | None  # sent as entityTypeId by the item family only

    def _params(self, lead_id: int) -> dict[str, int]:
        if self.entity_type_id is None:
            return {"id": lead_id}
        return {"entityTypeId": self.entity_type_id, "id": lead_id}

    def delete(self, lead_id: int) -> Command:
        """The delete call for ``lead_id``."""
        return self.delete_method, self._params(lead_id)

    def get(self, lead_id: int) -> Command:
        """The read-only call that shows whether this family sees ``lead_id``."""
        return self.get_method, self._params(lead_id)

    def list_ids(self, lead_ids: list[int]) -> Command:
        """One read-only call that shows which of ``lead_ids`` this family sees (<= 50)."""
        if self.entity_type_id is None:
            return "crm.lead.list", {"filter": {"@ID": lead_ids}, "select": ["ID"]}
        return "crm.item.list", {
            "entityTypeId": self.entity_type_id,
            "filter": {"@id": lead_ids},
            "select": ["id"],
        }

    def check_delete(self, reply: Reply) -> Reply:
        """Refuse a success whose result is not this method's: it cannot be trusted.

        ``crm.lead.delete`` succeeds with ``true``; ``crm.item.delete`` with ``[]`` (PHP's empty
        array, which a JSON encoder may also write as ``{}``). Anything else in ``result``
        (``{"error": "ACCESS_DENIED"}``, ``[false]``, ``true`` from the item method) is not the
        method's success, so it is an ambiguous protocol error: the delete may or may not have
        happened.
        """
        if reply.error is not None:
            return reply
        result = reply.result
        if self.route is _LEGACY_ROUTE:
            accepted = result is True
        else:
            accepted = isinstance(result, (list, dict)) and not result
        if accepted:
            return reply
        bad = protocol_error(
            f"{self.delete_method} answered result={describe(result)} where it answers "
            f"{'true' if self.route is Route.LEGACY else '[]'} on success",
            reply.http_status,
            ambiguous=True,
        )
        return attrs.evolve(bad, raw=reply.raw, time=reply.time)

    @staticmethod
    def outcome(reply: Reply) -> Outcome:
        """The delete's outcome from its (checked) reply."""
        if reply.ok:
            return Outcome.DELETED
        return Outcome.UNKNOWN if reply.ambiguous else Outcome.FAILED


LEGACY = LeadRoute(Route.LEGACY, "crm.lead.delete", "crm.lead.get", None)
ITEM = LeadRoute(Route.ITEM, "crm.item.delete", "crm.item.get", LEAD_ENTITY_TYPE_ID)


class ReadState(str, enum.Enum):
    """How a read family sees a lead."""

    EXISTS = "exists"
    NOT_FOUND = "not_found"
    DENIED = "denied"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Read:
    """One family's view of one lead, from a read-only call.

    Attributes:
        state: what the read showed; None when the read itself failed.
        failure: the failed read's answer (code, text, status), for the difference log.
    """

    state: ReadState | None
    failure: Mapping[str, object] | None = None

    @classmethod
    def from_get(cls, reply: Reply) -> Read:
        """The view a ``crm.lead.get`` / ``crm.item.get`` reply shows."""
        if reply.ok:
            return cls(ReadState.EXISTS)
        if reply.code is ErrorCode.NOT_FOUND:
            return cls(ReadState.NOT_FOUND)
        if reply.code is ErrorCode.ACCESS_DENIED:
            return cls(ReadState.DENIED)
        return cls(None, answer_of(reply))

    @classmethod
    def from_list(cls, reply: Reply, lead_ids: Iterable[int]) -> dict[int, Read]:
        """The views a ``crm.lead.list`` / ``crm.item.list`` reply filtered by id shows.

        A list shows only the leads the user may read, so absent means not found or denied.
        """
        ids = list(lead_ids)
        if not reply.ok:
            failed = cls(None, answer_of(reply))
            return dict.fromkeys(ids, failed)
        rows = reply.result
        if isinstance(rows, Mapping):  # crm.item.list: {"items": [...]}
            rows = rows.get("items")
        if not isinstance(rows, list):
            bad = cls(None, {"error": "PROTOCOL_ERROR", "error_description": "not a list"})
            return dict.fromkeys(ids, bad)
        seen = set()
        for row in rows:
            if isinstance(row, Mapping):
                value = row.get("ID", row.get("id"))
                if isinstance(value, (int, str)):
                    # A row whose id is not a lead id ("²", 5,000 digits) shows no lead.
                    with contextlib.suppress(InvalidLeadId):
                        seen.add(parse_lead_id(value))
        return {i: cls(ReadState.EXISTS if i in seen else ReadState.NOT_FOUND) for i in ids}


def answer_of(reply: Reply) -> dict[str, object]:
    """A reply as a small JSON-ready dict, for the difference log."""
    if reply.error is None:
        return {"result": reply.result}
    return {
        "status": reply.error.http_status,
        "error": reply.error.raw_code,
        "error_description": reply.error.description,
    }
