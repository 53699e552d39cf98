"""Bulk deletes through ``batch``: up to 50 commands a request, results kept per id.

A job is cut into chunks as it is read (a generator of a million ids is never held in memory).
Each chunk is one ``batch`` request: one delete command per lead and, when a verified stage
applies to any of them, up to four list reads that cover the whole chunk (the two families
before the deletes, and each other family after them). The portal runs a batch's commands in
order, so verification costs no extra request: a verified chunk carries 46 deletes instead of
50.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from b24shim._envelope import Reply
from b24shim._plan import Plan
from b24shim.differences import VerificationReads
from b24shim.result import Route
from b24shim.routes import ITEM, LEGACY, Read
from b24shim.transport import Command

__all__ = ["BATCH_LIMIT", "VERIFY_READS", "batch_for", "chunk_capacity", "split_answer"]

#: Commands the portal runs in one batch (CRestUtil::BATCH_MAX_LENGTH).
BATCH_LIMIT = 50
#: List reads a chunk with verified deletes carries.
VERIFY_READS = 4

_LEGACY_BEFORE, _ITEM_BEFORE = "lead_before", "item_before"
_LEGACY_AFTER, _ITEM_AFTER = "lead_after", "item_after"


def chunk_capacity(verified: bool) -> int:
    """How many deletes a chunk may carry."""
    return BATCH_LIMIT - VERIFY_READS if verified else BATCH_LIMIT


def batch_for(plans: list[Plan]) -> dict[str, Command]:
    """The commands of one chunk, in the order the portal must run them."""
    verified = [p for p in plans if p.verified]
    commands: dict[str, Command] = {}
    if verified:
        ids = [p.lead_id for p in verified]
        commands[_LEGACY_BEFORE] = LEGACY.list_ids(ids)
        commands[_ITEM_BEFORE] = ITEM.list_ids(ids)
    for plan in plans:
        commands[plan.key] = plan.route.delete(plan.lead_id)
    if verified:
        # After the deletes: each family that did not delete a lead reads it again.
        by_legacy = [p.lead_id for p in verified if p.route.route is Route.LEGACY]
        by_item = [p.lead_id for p in verified if p.route.route is Route.ITEM]
        if by_legacy:
            commands[_ITEM_AFTER] = ITEM.list_ids(by_legacy)
        if by_item:
            commands[_LEGACY_AFTER] = LEGACY.list_ids(by_item)
    return commands


def split_answer(
    plans: list[Plan], replies: dict[str, Reply]
) -> dict[int, tuple[Reply, VerificationReads | None]]:
    """Each plan's delete reply and, for verified plans, its reads; keyed by plan index."""
    verified = [p for p in plans if p.verified]
    views: dict[str, dict[int, Read]] = {}
    for key in (_LEGACY_BEFORE, _ITEM_BEFORE, _LEGACY_AFTER, _ITEM_AFTER):
        if key in replies:
            views[key] = Read.from_list(replies[key], [p.lead_id for p in verified])
    answer: dict[int, tuple[Reply, VerificationReads | None]] = {}
    for plan in plans:
        reads = None
        if plan.verified:
            after_key = _ITEM_AFTER if plan.route.route is Route.LEGACY else _LEGACY_AFTER
            reads = VerificationReads(
                legacy_before=views[_LEGACY_BEFORE][plan.lead_id],
                item_before=views[_ITEM_BEFORE][plan.lead_id],
                other_after=views.get(after_key, {}).get(plan.lead_id),
            )
        answer[plan.index] = (replies[plan.key], reads)
    return answer


@attrs.define
class Chunker:
    """Cuts a stream of plans (and rejected inputs) into chunks for one batch each."""

    pending: list[Plan] = attrs.field(factory=list)
    verified: bool = False

    def add(self, plan: Plan) -> list[Plan] | None:
        """Add ``plan``; returns a full chunk when adding it would overflow the current one."""
        verified = self.verified or plan.verified
        if len(self.pending) + 1 > chunk_capacity(verified):
            full, self.pending, self.verified = self.pending, [plan], plan.verified
            return full
        self.pending.append(plan)
        self.verified = verified
        return None

    def drain(self) -> Iterator[list[Plan]]:
        """The last, partial chunk."""
        if self.pending:
            full, self.pending, self.verified = self.pending, [], False
            yield full
