"""The two routes: which method each calls, with which parameters, and how to read its answer.

- Legacy route: ``crm.lead.delete`` with ``id``; reads with ``crm.lead.get``. Success is
  ``true``.
- Item route: ``crm.item.delete`` with ``entityTypeId=1`` and ``id``; reads with
  ``crm.item.get``. Success is ``[]``.
"""

from __future__ import annotations

import enum

import attrs

from b24shim._envelope import Reply, protocol_error
from b24shim.codes import ErrorCode
from b24shim.result import Outcome, Route
from b24shim.transport import Command

__all__ = ["ITEM", "LEGACY", "ROUTES", "LeadRoute", "ReadState", "read_state"]

LEAD_ENTITY_TYPE_ID = 1


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

    def check_delete(self, reply: Reply) -> Reply:
        """Refuse a success whose result is not this method's: it cannot be trusted."""
        if not reply.ok:
            return reply
        result = reply.result
        if self.route is Route.LEGACY:
            accepted = result is True
        else:
            # [] in REST scope; an object (an AJAX-style redirectUrl) is success too.
            accepted = result is True or isinstance(result, (list, dict))
        if accepted:
            return reply
        bad = protocol_error(
            f"{self.delete_method} answered result={result!r}", reply.http_status, ambiguous=True
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
ROUTES = {Route.LEGACY: LEGACY, Route.ITEM: ITEM}


class ReadState(str, enum.Enum):
    """How a read family sees a lead."""

    EXISTS = "exists"
    NOT_FOUND = "not_found"
    DENIED = "denied"

    def __str__(self) -> str:
        return self.value


def read_state(reply: Reply) -> ReadState | None:
    """The state a ``*.get`` reply shows, or None when the read itself failed."""
    if reply.ok:
        return ReadState.EXISTS
    if reply.code is ErrorCode.NOT_FOUND:
        return ReadState.NOT_FOUND
    if reply.code is ErrorCode.ACCESS_DENIED:
        return ReadState.DENIED
    return None
