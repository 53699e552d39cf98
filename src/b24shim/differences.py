"""Finding, attaching and logging the differences between the two routes.

Kinds (stable strings): ``result_shape`` and ``error_format`` (not behavioural: only the shape
of the answer differs), ``visibility``, ``outcome``, ``still_visible``, ``fallback`` and
``verification_error`` and ``id_coercion`` (behavioural). Each difference is logged once on
the logger
``b24shim.differences`` (WARNING when behavioural, DEBUG otherwise) with the
:class:`~b24shim.Difference` on the record as ``b24shim_difference``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import attrs

from b24shim import telemetry
from b24shim._describe import describe
from b24shim._envelope import Reply
from b24shim._not_found import CORE, NotFoundForm
from b24shim.codes import ErrorCode
from b24shim.flags import Stage
from b24shim.result import LEGACY_ERROR_TEXT, DeleteResult, Difference, Outcome, Route
from b24shim.routes import Read, ReadState, answer_of

__all__ = [
    "DifferenceReporter",
    "VerificationReads",
    "fallback_difference",
    "id_coercion_difference",
    "shape_differences",
    "verification_differences",
]

logger = logging.getLogger("b24shim.differences")

DifferenceCallback = Callable[[Difference], object]


_SHAPE_DETAIL = {
    shown: f"crm.item.delete answered {shown} where crm.lead.delete answers true"
    for shown in ("[]", "{}")
}


def shape_differences(
    lead_id: int, stage: Stage, reply: Reply, not_found: NotFoundForm = CORE
) -> list[Difference]:
    """The non-behavioural differences of an item-route delete answer from legacy's.

    Args:
        not_found: this portal's legacy not-found answer (learnt or set).
    """
    if reply.error is None:
        result = reply.result
        # Every delete of a bulk job at an item stage has one: the usual two details are made
        # once (a checked success is [] or {}).
        detail = _SHAPE_DETAIL.get(repr(result)) if not result else None
        if detail is None:
            detail = f"crm.item.delete answered {result!r} where crm.lead.delete answers true"
        return [Difference("result_shape", lead_id, stage, False, True, result, detail)]
    error = reply.error
    if error is None or error.code not in LEGACY_ERROR_TEXT:
        return []
    form = NotFoundForm(400, "", LEGACY_ERROR_TEXT[error.code])
    if error.code is ErrorCode.NOT_FOUND:
        form = not_found
    legacy = form.answer()
    status = f" (HTTP {error.http_status})" if error.http_status is not None else ""
    item = answer_of(reply)
    if item == legacy:
        return []
    return [
        Difference(
            kind="error_format",
            lead_id=lead_id,
            stage=stage,
            behavioral=False,
            legacy=legacy,
            item=item,
            detail=f"{error.code.value}: crm.item.delete answered error {error.raw_code!r} "
            f"{error.description!r}{status} where crm.lead.delete answers "
            f"{form.error!r} {form.description!r} (HTTP {form.status})",
        )
    ]


def fallback_difference(lead_id: int, stage: Stage, item_reply: Reply | None) -> Difference:
    """The item route was unavailable and legacy was used."""
    item = answer_of(item_reply) if item_reply is not None else "remembered as unavailable"
    return Difference(
        kind="fallback",
        lead_id=lead_id,
        stage=stage,
        behavioral=True,
        legacy="crm.lead.delete",
        item=item,
        detail="crm.item.delete is not available on this portal (ERROR_METHOD_NOT_FOUND); "
        "the lead was deleted through crm.lead.delete",
    )


def id_coercion_difference(lead_id: int, stage: Stage, value: object, *, sent: bool) -> Difference:
    """The caller sent an id that PHP's ``(int)`` turns into ``lead_id``.

    Args:
        lead_id: the lead ``crm.lead.delete`` acts on for ``value``.
        value: what the caller sent (``"12abc"``, ``[5]``, ``1.9``...).
        sent: true when it went to the portal unchanged (a legacy stage), false when it was
            refused as an invalid id (an item stage).
    """
    shown = describe(value)
    what = (
        "sent to crm.lead.delete unchanged, as this legacy stage does"
        if sent
        else "refused as an invalid id, as crm.item.delete does"
    )
    return Difference(
        kind="id_coercion",
        lead_id=lead_id,
        stage=stage,
        behavioral=True,
        legacy=f"deletes lead {lead_id}",
        item={
            "status": 400,
            "error": "",
            "error_description": LEGACY_ERROR_TEXT[ErrorCode.INVALID_ID],
        },
        detail=f"id {shown} is not a lead id: crm.lead.delete casts it to {lead_id} and "
        f"deletes that lead, crm.item.delete refuses it; {what}. Fix the caller to send "
        f"{lead_id} if that lead is meant.",
    )


def _delete_state(reply: Reply, outcome: Outcome) -> ReadState | str | None:
    if outcome is Outcome.DELETED:
        return "deleted"
    if reply.code is ErrorCode.NOT_FOUND:
        return ReadState.NOT_FOUND
    if reply.code is ErrorCode.ACCESS_DENIED:
        return ReadState.DENIED
    return None


def _contradicts(deleted: ReadState | str | None, other: ReadState | None) -> bool:
    """Does the other family's read predict something else than this delete's outcome?"""
    if deleted == "deleted":
        return other in (ReadState.NOT_FOUND, ReadState.DENIED)
    if deleted is ReadState.NOT_FOUND:
        return other is ReadState.EXISTS
    if deleted is ReadState.DENIED:
        # Legacy checks permissions before existence; the item family finds nothing first.
        return other is ReadState.NOT_FOUND
    return False


@attrs.frozen
class VerificationReads:
    """The reads around one verified delete.

    Attributes:
        legacy_before: the legacy family's view before the delete.
        item_before: the item family's view before the delete.
        other_after: the view, after the delete, of the family that did not delete.
    """

    legacy_before: Read
    item_before: Read
    other_after: Read | None


def verification_differences(
    lead_id: int,
    stage: Stage,
    route: Route,
    reads: VerificationReads,
    delete: Reply,
    outcome: Outcome,
) -> list[Difference]:
    """Compare the reads around a verified delete with each other and with its outcome.

    Args:
        route: the route that performed the delete; the other family is the one checked
            against its outcome and read again after it.
    """
    found: list[Difference] = []

    def add(kind: str, legacy: object, item: object, detail: str) -> None:
        found.append(Difference(kind, lead_id, stage, True, legacy, item, detail))

    other_name = "crm.item" if route is Route.LEGACY else "crm.lead"
    named = [
        ("crm.lead before", reads.legacy_before),
        ("crm.item before", reads.item_before),
        (f"{other_name} after", reads.other_after),
    ]
    failed = {name: read.failure for name, read in named if read is not None and read.state is None}
    if failed:
        codes = sorted({str((f or {}).get("error")) for f in failed.values()})
        legacy_side = {k: v for k, v in failed.items() if k.startswith("crm.lead")} or None
        item_side = {k: v for k, v in failed.items() if k.startswith("crm.item")} or None
        add(
            "verification_error",
            legacy_side,
            item_side,
            f"verification read failed: {', '.join(failed)} (error {', '.join(codes)})",
        )

    legacy_state, item_state = reads.legacy_before.state, reads.item_before.state
    if legacy_state is not None and item_state is not None and legacy_state != item_state:
        add(
            "visibility",
            legacy_state.value,
            item_state.value,
            f"before the delete the legacy family saw {legacy_state.value} and the item "
            f"family saw {item_state.value}",
        )

    other_before = item_state if route is Route.LEGACY else legacy_state
    deleted = _delete_state(delete, outcome)
    if other_before is not None and _contradicts(deleted, other_before):
        shown = deleted.value if isinstance(deleted, ReadState) else str(deleted)
        seen = other_before.value
        sides = (shown, seen) if route is Route.LEGACY else (seen, shown)
        add(
            "outcome", *sides, f"{route.method} gave {shown} but the other family's read saw {seen}"
        )

    after = reads.other_after.state if reads.other_after is not None else None
    if outcome is Outcome.DELETED and after is ReadState.EXISTS:
        sides = ("deleted", "exists") if route is Route.LEGACY else ("exists", "deleted")
        add(
            "still_visible",
            *sides,
            f"after {route.method} succeeded the other family still returns the lead",
        )
    return found


class DifferenceReporter:
    """Logs each difference once and passes it to the user's callback; records every delete.

    Every difference and every concluded delete also goes to OpenTelemetry
    (:mod:`b24shim.telemetry`). When ``on_difference`` has a ``record_delete`` method (as
    :class:`~b24shim.sinks.JsonlDifferenceSink` has), it is called for every delete too, so the
    evidence log counts the clean deletes as well as the differences.
    """

    def __init__(self, on_difference: DifferenceCallback | None = None) -> None:
        self.on_difference = on_difference
        self._record_delete: Callable[..., object] | None = getattr(
            on_difference, "record_delete", None
        )

    def concluded(
        self, result: DeleteResult, *, verified: bool, started: float | None, finished: float
    ) -> None:
        """Report a concluded delete's differences, then record the delete (the evidence).

        One call per delete, with OpenTelemetry asked once for the delete and its differences:
        a bulk job concludes every lead through here. A failing callback or sink is logged,
        never raised.
        """
        if result.differences:
            self._hand_over(result.differences)
        telemetry.record_delete(result, verified=verified, started=started, finished=finished)
        if self._record_delete is None:
            return
        duration = None if started is None else max(0.0, finished - started)
        try:
            self._record_delete(result, verified=verified, duration=duration)
        except Exception:
            logger.exception("recording the delete of lead %s failed", result.lead_id)

    def report(self, differences: Iterable[Difference]) -> None:
        """Log and hand over differences found outside a delete's result (and count them)."""
        differences = tuple(differences)
        self._hand_over(differences)
        for difference in differences:
            telemetry.record_difference(difference)

    def _hand_over(self, differences: Iterable[Difference]) -> None:
        """Log each difference and pass it to the callback (a failing one is logged)."""
        for difference in differences:
            level = logging.WARNING if difference.behavioral else logging.DEBUG
            # Asked first: a bulk job at an item stage has a DEBUG difference per delete,
            # usually not logged, and the record's arguments would be built for nothing.
            if logger.isEnabledFor(level):
                logger.log(
                    level,
                    "lead %s at stage %s: %s difference: %s",
                    difference.lead_id,
                    difference.stage.value,
                    difference.kind,
                    difference.detail,
                    extra={"b24shim_difference": difference},
                )
            if self.on_difference is None:
                continue
            try:
                self.on_difference(difference)
            except Exception:
                logger.exception(
                    "on_difference callback failed for a %s difference", difference.kind
                )
