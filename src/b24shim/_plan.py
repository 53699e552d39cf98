"""What the shim decided to do for one lead: its stage and the route that will delete it."""

from __future__ import annotations

import attrs

from b24shim._envelope import Reply
from b24shim.flags import Stage
from b24shim.routes import LeadRoute

__all__ = ["Plan"]


# Not frozen, unlike the other values: an engine-internal one built for every delete of every
# bulk job, and a frozen class pays an object.__setattr__ call per field (about a microsecond a
# plan, a tenth of the engine's own work per delete). Nothing assigns to a plan once built:
# attrs.evolve makes the changed copy. Hashing is off, as for any mutable attrs class.
@attrs.define
class Plan:
    """One delete to perform (treat it as immutable).

    Attributes:
        index: the position in the job (a batch command key is built from it).
        lead_id: the validated lead id.
        stage: the stage that applies to the lead.
        route: the route that performs the delete.
        fell_back: the stage wanted the item route, but the portal lacks ``crm.item.*``.
        item_reply: the ``ERROR_METHOD_NOT_FOUND`` answer that showed it, when seen now.
        held_back: an item stage was configured and ``item_percent`` kept the lead on legacy.
        sampled: ``verify_percent`` picked this lead for the checks of a verified stage.
        started: when the shim began this delete (its clock's seconds), for the evidence log.
    """

    index: int
    lead_id: int
    stage: Stage
    route: LeadRoute
    fell_back: bool = False
    item_reply: Reply | None = None
    held_back: bool = False
    sampled: bool = True
    started: float | None = None
    #: Whether reads of both families belong around this delete (derived, once: a bulk job
    #: asks it of every plan at each step; ``attrs.evolve`` derives it again).
    verified: bool = attrs.field(init=False, eq=False, repr=False)
    #: The batch command key of the delete (derived from ``index``).
    key: str = attrs.field(init=False, eq=False, repr=False)

    @verified.default
    def _verified(self) -> bool:
        return self.stage.verified and self.sampled and not self.fell_back

    @key.default
    def _key(self) -> str:
        return f"d{self.index}"

    @property
    def legacy_by_choice(self) -> bool:
        """The legacy route because a legacy stage or the kill switch was chosen.

        Not for leads that ``item_percent`` keeps on legacy at an item stage, nor for a
        fallback from a portal without ``crm.item.*``: their users are already moving.
        """
        return not self.stage.uses_item and not self.held_back
