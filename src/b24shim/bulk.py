"""Bulk deletes through ``batch``: up to 50 commands a request, results kept per id.

A job is cut into chunks as it is read (a generator of a million ids is never held in memory).
Each chunk is one ``batch`` request: one delete command per lead and, when a verified stage
applies to any of them, up to four list reads that cover the whole chunk (the two families
before the deletes, and each other family after them). The portal runs a batch's commands in
order, so verification usually costs no extra request: a verified chunk of one route carries
47 deletes and 3 reads (two lists before, one after), 50 commands in all.

A list shows only the leads the user may read, so it cannot tell a lead the user may not read
from a missing one, where a get can (``Access denied.`` against ``Not found``). When a verified
delete in a chunk failed and a list left that lead unexplained (absent), the lead is read again
with gets, so bulk verification finds the same kinds of difference as single verification: one
extra ``batch`` request for the chunk, carrying at most 50 gets, and only when a delete in it
failed (a failed delete changed nothing, so the gets after it see what was there before). A
lead whose gets do not fit into that one request is recorded as not verified, never guessed. A
list the portal refuses with an access error means the user may read no lead: every id is
then denied, as each get would say.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator

import attrs

from b24shim._envelope import Reply
from b24shim._plan import Plan
from b24shim.codes import ErrorCode
from b24shim.differences import VerificationReads
from b24shim.result import Route
from b24shim.retry import RetryPolicy
from b24shim.routes import ITEM, LEGACY, Read, ReadState
from b24shim.transport import Command

__all__ = [
    "BATCH_LIMIT",
    "VERIFY_READS",
    "Reread",
    "batch_for",
    "chunk_capacity",
    "reread_for",
    "split_answer",
]

#: Commands the portal runs in one batch (CRestUtil::BATCH_MAX_LENGTH).
BATCH_LIMIT = 50
#: List reads a chunk with verified deletes carries.
VERIFY_READS = 4

_LEGACY_BEFORE, _ITEM_BEFORE = "lead_before", "item_before"
# any(map(_verified, plans)): the test every chunk makes, without a generator step per plan.
_verified = operator.attrgetter("verified")
_LEGACY_AFTER, _ITEM_AFTER = "lead_after", "item_after"


def chunk_capacity(verified: bool, routes: int = 2) -> int:
    """How many deletes a chunk may carry.

    Args:
        verified: some delete in the chunk gets the checks.
        routes: how many routes its verified deletes take (each gets its own list after).
    """
    return BATCH_LIMIT - (2 + min(routes, 2)) if verified else BATCH_LIMIT


def batch_for(plans: list[Plan]) -> dict[str, Command]:
    """The commands of one chunk, in the order the portal must run them."""
    verified = [p for p in plans if p.verified]
    if not verified:  # a plain chunk: its deletes only
        return {plan.key: plan.route.delete(plan.lead_id) for plan in plans}
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


def _views(plans: list[Plan], replies: dict[str, Reply]) -> dict[str, dict[int, Read]]:
    ids = [p.lead_id for p in plans if p.verified]
    views: dict[str, dict[int, Read]] = {}
    for key in (_LEGACY_BEFORE, _ITEM_BEFORE, _LEGACY_AFTER, _ITEM_AFTER):
        if key not in replies:
            continue
        if replies[key].code is ErrorCode.ACCESS_DENIED:
            views[key] = dict.fromkeys(ids, Read(ReadState.DENIED))
        else:
            views[key] = Read.from_list(replies[key], ids)
    return views


@attrs.frozen
class Reread:
    """The gets that explain what a chunk's lists could not, and the leads left out.

    Attributes:
        commands: at most :data:`BATCH_LIMIT` gets, for one extra ``batch`` request.
        keys: per plan index, the keys of its legacy and item gets (None: the list stands).
        dropped: plan indexes whose gets did not fit; they count as not verified.
    """

    commands: dict[str, Command] = attrs.field(factory=dict)
    keys: dict[int, tuple[str | None, str | None]] = attrs.field(factory=dict)
    dropped: frozenset[int] = frozenset()


_NO_REREAD = Reread()


def _unexplained(plan: Plan, reply: Reply, views: dict[str, dict[int, Read]]) -> list[bool]:
    """Which of (legacy, item) list views of a failed verified delete need a get."""
    if not plan.verified or reply.ok or reply.ambiguous:
        return [False, False]
    if RetryPolicy.is_safe(reply.code, ambiguous=reply.ambiguous):
        return [False, False]  # it will be sent again, with fresh lists
    return [
        views.get(key, {}).get(plan.lead_id) == Read(ReadState.NOT_FOUND)
        for key in (_LEGACY_BEFORE, _ITEM_BEFORE)
    ]


def reread_for(plans: list[Plan], replies: dict[str, Reply]) -> Reread:
    """The gets for the failed verified deletes that the chunk's lists left unexplained."""
    if not any(map(_verified, plans)):
        return _NO_REREAD  # nothing to explain: no list was read
    views = _views(plans, replies)
    commands: dict[str, Command] = {}
    keys: dict[int, tuple[str | None, str | None]] = {}
    dropped: set[int] = set()
    for plan in plans:
        wanted = _unexplained(plan, replies[plan.key], views)
        if not any(wanted):
            continue
        if len(commands) + sum(wanted) > BATCH_LIMIT:
            dropped.add(plan.index)
            continue
        pair: list[str | None] = [None, None]
        for n, (family, need) in enumerate(zip((LEGACY, ITEM), wanted, strict=True)):
            if need:
                pair[n] = f"{('lg', 'ig')[n]}{plan.index}"
                commands[pair[n]] = family.get(plan.lead_id)  # type: ignore[index]
        keys[plan.index] = (pair[0], pair[1])
    return Reread(commands, keys, frozenset(dropped))


def split_answer(
    plans: list[Plan],
    replies: dict[str, Reply],
    reread: Reread | None = None,
    reread_replies: dict[str, Reply] | None = None,
) -> dict[int, tuple[Reply, VerificationReads | None]]:
    """Each plan's delete reply and, for verified plans, its reads; keyed by plan index.

    Args:
        reread: the gets sent after the chunk (:func:`reread_for`), and their replies.
    """
    if not any(map(_verified, plans)):  # a plain chunk: no reads to hand over
        return {plan.index: (replies[plan.key], None) for plan in plans}
    views = _views(plans, replies)
    reread = reread or Reread()
    again = reread_replies or {}
    answer: dict[int, tuple[Reply, VerificationReads | None]] = {}
    for plan in plans:
        reads = None
        if plan.verified and plan.index not in reread.dropped:
            after_key = _ITEM_AFTER if plan.route.route is Route.LEGACY else _LEGACY_AFTER
            legacy_key, item_key = reread.keys.get(plan.index, (None, None))
            reads = VerificationReads(
                legacy_before=Read.from_get(again[legacy_key])
                if legacy_key is not None
                else views[_LEGACY_BEFORE][plan.lead_id],
                item_before=Read.from_get(again[item_key])
                if item_key is not None
                else views[_ITEM_BEFORE][plan.lead_id],
                other_after=views.get(after_key, {}).get(plan.lead_id),
            )
        answer[plan.index] = (replies[plan.key], reads)
    return answer


_NO_ROUTES: frozenset[Route] = frozenset()


@attrs.define
class Chunker:
    """Cuts a stream of plans (and rejected inputs) into chunks for one batch each.

    A chunk is full when one more delete would not fit with the reads its verified deletes
    need (two lists before, one after per route they take): 50 commands in all.
    """

    pending: list[Plan] = attrs.field(factory=list)
    routes: frozenset[Route] = frozenset()  # the routes of the verified plans pending

    @property
    def verified(self) -> bool:
        """Whether some pending plan gets the checks."""
        return bool(self.routes)

    def add(self, plan: Plan) -> list[Plan] | None:
        """Add ``plan``; returns a full chunk when adding it would overflow the current one."""
        if plan.verified:
            mine = frozenset({plan.route.route})
            routes = self.routes | mine
        else:  # no new route to read: the set stays as it is
            mine, routes = _NO_ROUTES, self.routes
        if len(self.pending) + 1 > chunk_capacity(bool(routes), len(routes)):
            full, self.pending, self.routes = self.pending, [plan], mine
            return full
        self.pending.append(plan)
        self.routes = routes
        return None

    def drain(self) -> Iterator[list[Plan]]:
        """The last, partial chunk."""
        if self.pending:
            full, self.pending, self.routes = self.pending, [], frozenset()
            yield full
