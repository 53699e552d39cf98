"""The flows of the drop-ins: what to send and how to answer, whatever the HTTP library.

A flow is a generator over plain values, in the sans-I/O style of h11: it yields an action
(:class:`Forward` the caller's request, :class:`Send` it re-aimed, :class:`Sleep`, or
:class:`DeleteLead` through the facade), is sent back what came of it (``(status, content)``
for a request), and returns the :class:`Answer` for the caller. When an action fails (the
connection broke), the driver throws the exception into the flow, which records what it means
and raises it again, or goes on. :func:`drive` and :func:`adrive` run a flow for a blocking and
an asyncio drop-in; each drop-in supplies only how its library performs an action.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import Any

import attrs

from b24shim._describe import describe
from b24shim._envelope import Reply
from b24shim.adapters._batch import BatchRewrite, merged
from b24shim.adapters._calls import (
    BATCH,
    DELETE,
    INVALID_ID_ANSWER,
    Call,
    coerced_passes,
    encode_json,
    pick_id,
)
from b24shim.async_shim import AsyncLeadShim
from b24shim.engine import Wait
from b24shim.errors import InvalidLeadId
from b24shim.ids import parse_lead_id
from b24shim.result import DeleteResult, Outcome, Route
from b24shim.routes import LEGACY
from b24shim.shim import LeadShim
from b24shim.transport import batch_params, not_answered

__all__ = [
    "Action",
    "Answer",
    "DeleteLead",
    "Flow",
    "Forward",
    "Send",
    "Sleep",
    "adrive",
    "drive",
    "flow_for",
]

logger = logging.getLogger("b24shim.adapters")


@attrs.frozen
class Forward:
    """Send the caller's request as it came; the flow gets ``(status, content)``."""


@attrs.frozen
class Send:
    """Send the caller's request aimed at ``method`` with ``params`` as JSON, its auth kept.

    ``keep_query``: keep the caller's query string (but ``cmd`` and ``halt``), for a batch
    sent with other commands; else the URL keeps only its ``auth`` / ``access_token``.
    """

    method: str
    params: Mapping[str, Any]
    keep_query: bool = False

    @property
    def what(self) -> str:
        """The call, for a message: ``crm.item.delete of lead 5``, ``batch``."""
        lead = self.params.get("id")
        return f"{self.method} of lead {lead}" if isinstance(lead, int) else self.method


@attrs.frozen
class Sleep:
    """Wait ``seconds`` (a retry's back-off), as the driver waits."""

    seconds: float


@attrs.frozen
class DeleteLead:
    """Delete ``lead_id`` through the facade (a portal found lacking ``crm.item.*``)."""

    lead_id: int


@attrs.frozen
class Answer:
    """The flow's end: answer the caller with the last response, or with this status and body.

    ``status`` None with ``content``: the last response with its body replaced (a batch).
    ``content`` None: the last response as it came.
    """

    status: int | None = None
    content: bytes | None = None


Action = Forward | Send | Sleep | DeleteLead
Flow = Generator[Action, Any, Answer]


def _advance(flow: Flow, value: object, failure: Exception | None) -> Action | Answer:
    """The flow's next action, given what came of the last one, or its answer at the end."""
    try:
        return flow.send(value) if failure is None else flow.throw(failure)
    except StopIteration as stop:
        answer: Answer = stop.value
        return answer


def drive(flow: Flow, shim: LeadShim, send: Callable[[Forward | Send], Any]) -> Answer:
    """Run ``flow`` for a blocking drop-in: ``send`` makes its requests, ``shim`` the rest.

    An exception of an action goes into the flow, which records it and raises it again (or
    goes on without it).
    """
    value: Any = None
    failure: Exception | None = None
    while not isinstance(action := _advance(flow, value, failure), Answer):
        failure = value = None
        try:
            if isinstance(action, Sleep):
                shim.transport.clock.sleep(action.seconds)
            elif isinstance(action, DeleteLead):
                value = shim.delete_lead(action.lead_id)
            else:
                value = send(action)
        except Exception as exc:
            failure = exc
    return action


async def adrive(
    flow: Flow, shim: AsyncLeadShim, send: Callable[[Forward | Send], Awaitable[Any]]
) -> Answer:
    """:func:`drive` for an asyncio drop-in: the same steps, awaited."""
    value: Any = None
    failure: Exception | None = None
    while not isinstance(action := _advance(flow, value, failure), Answer):
        failure = value = None
        try:
            if isinstance(action, Sleep):
                await shim.transport.sleep(action.seconds)
            elif isinstance(action, DeleteLead):
                value = await shim.delete_lead(action.lead_id)
            else:
                value = await send(action)
        except Exception as exc:
            failure = exc
    return action


def flow_for(shim: LeadShim | AsyncLeadShim, call: Call, *, alone: bool = True) -> Flow:
    """The flow of ``call``, a ``crm.lead.delete`` or a ``batch``.

    ``alone``: the driver can answer without sending anything (false for aiohttp, whose
    middleware answers only with a response it got).
    """
    if call.method == DELETE:
        return _delete_flow(shim, call, alone=alone)
    return _batch_flow(shim, call)


def _delete_flow(shim: LeadShim | AsyncLeadShim, call: Call, *, alone: bool) -> Flow:
    """One ``crm.lead.delete``, driven by the facade's engine."""
    engine = shim.engine
    portal = shim.transport.portal
    value = pick_id(call.params)
    try:
        lead_id = parse_lead_id(value)
    except InvalidLeadId as exc:
        if coerced_passes(engine, value):
            yield Forward()  # byte for byte, as legacy sends it
            return Answer()
        if alone:
            logger.info(
                "%s crm.lead.delete with id %s answered as an invalid id, not sent (%s)",
                portal,
                describe(value),
                exc.reason,
                extra={"b24shim_method": DELETE},
            )
            return Answer(INVALID_ID_ANSWER[0], encode_json(INVALID_ID_ANSWER[1]))
        logger.info(
            "%s crm.lead.delete with id %s sent as id=0, which the portal answers as an "
            "invalid id, so no lead is deleted (%s)",
            portal,
            describe(value),
            exc.reason,
            extra={"b24shim_method": DELETE},
        )
        yield Send(DELETE, {"id": 0})
        return Answer()
    plan = engine.plan(lead_id)
    if plan.route is LEGACY and not plan.verified and not plan.fell_back:
        try:
            status, content = yield Forward()  # the portal's own answer, byte for byte
        except Exception as exc:
            engine.delete(plan).give_up(_unanswered(shim, exc))
            raise
        engine.passed_through(plan, status, content)
        if logger.isEnabledFor(logging.DEBUG):  # asked first: the arguments cost more than it
            logger.debug(
                "%s crm.lead.delete of lead %s passed through (stage %s)",
                portal,
                lead_id,
                plan.stage.value,
                extra={"b24shim_lead_id": lead_id},
            )
        return Answer()
    deletes = engine.delete(plan)
    content = b""
    while (step := deletes.next_step()) is not None:
        if isinstance(step, Wait):
            yield Sleep(step.seconds)
            continue
        sent = step.request
        if sent.batch:
            action = Send(BATCH, batch_params(sent.commands))
        else:
            ((name, params),) = sent.commands.values()
            action = Send(name, params)
        try:
            status, content = yield action
        except Exception as exc:
            # No answer: the caller gets its library's exception, as legacy code would have;
            # the delete is recorded as unknown (it may have reached the portal).
            deletes.give_up(_unanswered(shim, exc))
            raise
        deletes.receive_response(status, content)
    (result,) = deletes.results.values()
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s crm.lead.delete of lead %s answered through %s (stage %s): %s",
            portal,
            lead_id,
            result.method,
            result.stage.value,
            result.outcome.value,
            extra={"b24shim_lead_id": lead_id},
        )
    return _legacy_answer(result, content)


#: How the portal's answer to a successful crm.item.delete opens, and crm.lead.delete's.
_ITEM_DELETED = b'{"result":[],"time":{'
_LEGACY_DELETED = b'{"result":true,"time":{'


def _legacy_answer(result: DeleteResult, content: bytes) -> Answer:
    """What ``crm.lead.delete`` would have answered, for a delete's result and last answer.

    A plain success (the portal's envelope ``{"result":[],"time":{...}}`` and nothing else) is
    the same envelope with ``true``: the rest is the portal's own bytes, as the legacy method
    writes them, not the time block encoded again. Anything else is ``to_legacy()`` as JSON.
    """
    raw = result.raw
    if (
        result.outcome is Outcome.DELETED
        and result.route is Route.ITEM
        and content.startswith(_ITEM_DELETED)
        and len(raw) == 2
        and type(raw.get("time")) is dict
    ):
        return Answer(200, _LEGACY_DELETED + content[len(_ITEM_DELETED) :])
    status, answer = result.to_legacy()
    return Answer(status, encode_json(answer))


def _unanswered(shim: LeadShim | AsyncLeadShim, exc: Exception) -> Reply:
    """The reply for a request that got no answer: ambiguous, the exception redacted."""
    description = shim.transport.credentials.redact(f"{type(exc).__name__}: {exc}")
    return not_answered(description, sent=True)


def _batch_flow(shim: LeadShim | AsyncLeadShim, call: Call) -> Flow:
    """A ``batch`` with its ``crm.lead.delete`` commands routed (see :class:`BatchRewrite`).

    With ``halt`` set, a portal without ``crm.item.*`` stops the batch at the first routed
    delete: that lead is deleted through ``crm.lead.delete`` by the facade, and the commands
    after it, which the legacy batch would have run, are sent as one more batch; their
    answers join the first ones, as the legacy batch would have answered.
    """
    rewrite = BatchRewrite.plan(shim, call)
    if rewrite is None:
        yield Forward()
        return Answer()
    if rewrite.changed:
        status, content = yield Send(BATCH, rewrite.sent_body(call), keep_query=True)
    else:
        status, content = yield Forward()
    first = content
    written, rest = yield from _concluded(shim, rewrite, status, content)
    while rest:
        follow, more = rewrite.rest(shim, call, rest)
        try:
            status, content = yield Send(BATCH, follow.sent_body(more), keep_query=True)
        except Exception as exc:
            logger.info(
                "%s batch: sending the commands after the halted one failed (%s); they are "
                "left unanswered, as not run",
                shim.transport.portal,
                shim.transport.credentials.redact(f"{type(exc).__name__}: {exc}"),
            )
            break
        tail, rest = yield from _concluded(shim, follow, status, content)
        written = merged(first if written is None else written, content if tail is None else tail)
    return Answer(None, written)


def _concluded(
    shim: LeadShim | AsyncLeadShim, rewrite: BatchRewrite, status: int, content: bytes
) -> Generator[Action, Any, tuple[bytes | None, list[tuple[str, object]]]]:
    """Delete the fallbacks through the facade, then read the answer (see BatchRewrite)."""
    done: dict[str, DeleteResult] = {}
    answer = rewrite.decode(status, content)
    for key, lead_id in rewrite.fallbacks(answer):
        done[key] = yield DeleteLead(lead_id)
    return rewrite.read(shim, answer, done)
