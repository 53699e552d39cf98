"""A ``batch`` with its ``crm.lead.delete`` commands routed, and its answer mapped back.

Each ``crm.lead.delete?id=N`` command of a legacy batch is planned by the facade's engine and
rewritten to the route its stage picks (``crm.item.delete``, with the read checks of the
verified stages next to it while the batch has room), every other command kept as it came, in
its place. The answer is turned back into what the legacy batch would have answered: the shim's
own reads taken out, each routed delete's entry in the legacy shape, the maps in the legacy
request's command order. Plain values in and out (parameters, status and bytes): each drop-in
sends the rewritten batch with its own HTTP library.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

import attrs

from b24shim._describe import describe
from b24shim._envelope import Reply, parse_batch, parse_body, parse_response
from b24shim._php import array_key, json_shape, parse_str, to_bool
from b24shim._plan import Plan
from b24shim.adapters._calls import (
    DELETE,
    Call,
    coerced_passes,
    encode_json,
    pick_id,
)
from b24shim.async_shim import AsyncLeadShim
from b24shim.codes import ErrorCode
from b24shim.differences import VerificationReads
from b24shim.errors import InvalidLeadId
from b24shim.ids import parse_lead_id
from b24shim.result import DeleteResult
from b24shim.routes import ITEM, LEGACY, Read
from b24shim.shim import LeadShim
from b24shim.transport import encode_query

__all__ = ["BATCH_LIMIT", "BatchRewrite", "Decoded", "merged"]

logger = logging.getLogger("b24shim.adapters")

#: Commands the portal runs in one batch (``CRestUtil::BATCH_MAX_LENGTH``).
BATCH_LIMIT = 50
_DELETE = DELETE
# A batch parameter that refers to an earlier command's answer (CRestUtil::ParseBatchQuery).
_REFERENCE = re.compile(r"\$(result|next|total|time|error)\[", re.IGNORECASE)
_READS_PER_DELETE = 3  # both families before, the other family after
_BATCH_MAPS = ("result", "result_error", "result_total", "result_next", "result_time")


class _Delete:
    """One ``crm.lead.delete`` command of a batch, planned."""

    def __init__(self, key: str, plan: Plan, reads: tuple[str, str, str] | None) -> None:
        self.key = key
        self.plan = plan
        self.reads = reads  # keys of (legacy before, item before, other after)


@attrs.frozen
class Decoded:
    """A batch's answer, decoded once (see :meth:`BatchRewrite.decode`).

    Attributes:
        status: the HTTP status.
        body: the decoded JSON object; None when the body is none.
        payload: ``body["result"]`` when it is an object (per-command results), else None.
        maps: the five per-command maps of ``payload`` as dicts, else None.
        envelope: the reply the answer makes, its maps as dicts when there are any.
    """

    status: int
    body: dict[str, Any] | None
    payload: dict[str, Any] | None
    maps: dict[str, dict[str, Any]] | None
    envelope: Reply


class BatchRewrite:
    """A batch with its ``crm.lead.delete`` commands routed, and how to map the answer back."""

    def __init__(
        self,
        commands: dict[str, object],
        deletes: list[_Delete],
        changed: bool,
        halt: object,
        original: list[tuple[str, object]],
    ) -> None:
        self.commands = commands  # what to send, read commands included
        self.deletes = deletes
        self.changed = changed  # False: the legacy request can be sent as it is
        self.halt = halt  # the legacy request's own value, passed on as it was
        self.original = original  # the legacy request's commands, as they came
        self.ours = {key for d in deletes if d.reads for key in d.reads}
        self.order = [key for key in commands if key not in self.ours]

    @classmethod
    def plan(cls, shim: LeadShim | AsyncLeadShim, call: Call) -> BatchRewrite | None:
        """The rewrite of ``call``, or None when it holds no delete to route."""
        upper: dict[str, Any] = {}
        for key, value in call.params.items():
            upper[key.upper()] = value  # array_change_key_case: the later key wins
        cmd = upper.get("CMD")
        if isinstance(cmd, Mapping):
            original = [(str(key), value) for key, value in cmd.items()]
        elif isinstance(cmd, list):
            original = [(str(index), value) for index, value in enumerate(cmd)]
        else:
            return None
        halt = upper.get("HALT")
        halting = to_bool(halt)
        texts = [v for _, v in original if isinstance(v, str)]
        budget = BATCH_LIMIT - len(original)
        taken = {key for key, _ in original}
        commands: dict[str, object] = {}
        deletes: list[_Delete] = []
        changed = False
        portal = shim.transport.portal
        for position, (key, value) in enumerate(original):
            if position >= BATCH_LIMIT or not isinstance(value, str):
                commands[key] = value
                continue
            target, _, query = value.partition("#")[0].partition("?")
            if target.strip().lower() != _DELETE:
                commands[key] = value
                continue
            params = parse_str(query)
            raw_id = pick_id(params)
            if raw_id is None:
                commands[key] = value  # the portal answers the missing id itself
                continue
            if isinstance(raw_id, str) and _REFERENCE.search(raw_id):
                logger.info(
                    "%s batch command %r: the id refers to another command's answer, so it "
                    "stays on crm.lead.delete, unchanged",
                    portal,
                    key,
                )
                commands[key] = value
                continue
            try:
                lead_id = parse_lead_id(raw_id)
            except InvalidLeadId as exc:
                if coerced_passes(shim.engine, raw_id):
                    commands[key] = value  # unchanged, as this legacy stage sends it
                    continue
                logger.info(
                    "%s batch command %r: id %s is not a lead id (%s); sent as id=0, which the "
                    "portal answers as an invalid id, so no lead is deleted",
                    portal,
                    key,
                    describe(raw_id),
                    exc.reason,
                )
                commands[key] = f"{_DELETE}?id=0"
                changed = True
                continue
            if _referenced(key, texts):
                logger.info(
                    "%s batch command %r: other commands refer to its answer, so it stays on "
                    "crm.lead.delete, unchanged",
                    portal,
                    key,
                )
                commands[key] = value
                continue
            plan = shim.engine.plan(lead_id, position)
            routed = plan.route is not LEGACY
            reads: tuple[str, str, str] | None = None
            if plan.verified:
                if halting:
                    logger.info(
                        "%s batch command %r: halt is set, so the delete of lead %s runs "
                        "without verification reads (a failed read would stop the batch)",
                        portal,
                        key,
                        lead_id,
                    )
                elif budget < _READS_PER_DELETE:
                    logger.info(
                        "%s batch command %r: no room for verification reads within %d "
                        "commands; the delete of lead %s runs unverified",
                        portal,
                        key,
                        BATCH_LIMIT,
                        lead_id,
                    )
                else:
                    budget -= _READS_PER_DELETE
                    reads = _read_keys(position, taken)
                    taken.update(reads)
            if reads is not None:
                commands[reads[0]] = _command(*LEGACY.get(lead_id))
                commands[reads[1]] = _command(*ITEM.get(lead_id))
            commands[key] = _command(*plan.route.delete(lead_id)) if routed else value
            if reads is not None:
                other = ITEM if plan.route is LEGACY else LEGACY
                commands[reads[2]] = _command(*other.get(lead_id))
            changed = changed or routed or reads is not None
            deletes.append(_Delete(key, plan, reads))
        if not deletes and not changed:
            return None
        return cls(commands, deletes, changed, halt, original)

    def sent_body(self, call: Call) -> dict[str, Any]:
        """The batch's parameters to send: the caller's others, ``cmd``, and its ``halt``."""
        body: dict[str, Any] = {
            key: value for key, value in call.body.items() if key.upper() not in ("CMD", "HALT")
        }
        body["cmd"] = self.commands
        if self.halt is not None:
            body["halt"] = self.halt
        return body

    def rest(
        self, shim: LeadShim | AsyncLeadShim, call: Call, rest: list[tuple[str, object]]
    ) -> tuple[BatchRewrite, Call]:
        """The batch of the commands a halted batch did not run, and the call it makes."""
        kept = {k: v for k, v in call.body.items() if k.upper() not in ("CMD", "HALT")}
        more = Call(call.method, {}, {**kept, "cmd": dict(rest), "halt": self.halt})
        follow = BatchRewrite.plan(shim, more)
        if follow is None:  # no delete among them: sent as they are
            follow = BatchRewrite(dict(rest), [], True, self.halt, rest)
        return follow, more

    def decode(self, status: int, content: bytes) -> Decoded:
        """The answer to this batch, decoded once for :meth:`fallbacks` and :meth:`read`."""
        body = _json_object(content)
        payload = body.get("result") if body is not None else None
        if body is None:  # not a JSON object: the envelope says why
            return Decoded(status, None, None, None, parse_response(status, content))
        envelope = parse_body(body, status)
        if not isinstance(payload, dict):
            return Decoded(status, body, None, None, envelope)
        # The maps as dicts (PHP sends 0..n-1 keys as a list), edited in place by read().
        maps = {name: _as_map(payload.get(name)) for name in _BATCH_MAPS}
        return Decoded(
            status, body, payload, maps, attrs.evolve(envelope, result={**payload, **maps})
        )

    def read(
        self,
        shim: LeadShim | AsyncLeadShim,
        answer: Decoded,
        done: Mapping[str, DeleteResult],
    ) -> tuple[bytes | None, list[tuple[str, object]]]:
        """Conclude each routed delete and turn the answer back into the legacy one.

        Args:
            answer: what :meth:`decode` made of the answer.
            done: the results of the :meth:`fallbacks`, deleted through the facade.

        Returns:
            The legacy commands still to run: with ``halt`` set, a portal without
            ``crm.item.*`` stops the batch at the first routed delete; the shim deletes that
            lead through ``crm.lead.delete`` instead, and the commands after it, which the
            legacy batch would have run, come back here to be sent. Usually empty.
        """
        body, payload, maps = answer.body, answer.payload, answer.maps
        if body is None or payload is None or maps is None:
            logger.info(
                "%s batch answered without per-command results (HTTP %s); passed on unchanged",
                shim.transport.portal,
                answer.status,
            )
            return None, []
        # From here the answer is shaped like a batch answer. If its status or envelope says
        # the batch failed, every routed command gets that failure (parse_batch), in the
        # legacy shape; the shim's own reads are taken out either way.
        keys = [key for d in self.deletes for key in (d.key, *(d.reads or ()))]
        replies = parse_batch(answer.envelope, keys)
        edited = self.changed
        halted: str | None = None
        for delete in self.deletes:
            if delete.key not in maps["result"] and delete.key not in maps["result_error"]:
                continue  # not run (halt): the legacy answer would not have it either
            result = done.get(delete.key) or self._result_of(shim, delete, replies)
            if delete.plan.route is LEGACY:
                continue  # the portal's own crm.lead.delete answer stays as it is
            _put_legacy(maps, delete.key, result)
            edited = True
            missing = replies[delete.key].code is ErrorCode.METHOD_NOT_FOUND
            if halted is None and missing and to_bool(self.halt) and result.ok:
                # Legacy would have gone on after this delete (it would have halted after
                # one that failed).
                halted = delete.key
        rest: list[tuple[str, object]] = []
        if halted is not None:
            after = [key for key, _ in self.original].index(halted) + 1
            ran = maps["result"].keys() | maps["result_error"].keys()
            rest = [(key, value) for key, value in self.original[after:] if key not in ran]
        written = self._write(body, payload, maps) if edited else None
        return written, rest

    def fallbacks(self, answer: Decoded) -> list[tuple[str, int]]:
        """The routed deletes the portal answered ``ERROR_METHOD_NOT_FOUND`` (key, lead id).

        A portal without ``crm.item.*``: each of them is deleted through the facade (which
        learns it and uses ``crm.lead.delete``) before :meth:`read` is given the answer.
        """
        keys = [d.key for d in self.deletes if d.plan.route is ITEM]
        if not keys:
            return []
        replies = parse_batch(answer.envelope, keys)
        return [
            (d.key, d.plan.lead_id)
            for d in self.deletes
            if d.key in replies and replies[d.key].code is ErrorCode.METHOD_NOT_FOUND
        ]

    def _write(
        self,
        body: dict[str, Any],
        payload: dict[str, Any],
        maps: dict[str, dict[str, Any]],
    ) -> bytes:
        """The answer with the edited maps, in the legacy request's command order."""
        for name, mapping in maps.items():
            ordered = {k: mapping[k] for k in self.order if k in mapping}
            ordered.update(
                (k, v) for k, v in mapping.items() if k not in ordered and k not in self.ours
            )
            payload[name] = _map_shape(ordered)
        return encode_json(body)

    @staticmethod
    def _result_of(
        shim: LeadShim | AsyncLeadShim, delete: _Delete, replies: dict[str, Reply]
    ) -> DeleteResult:
        plan = delete.plan
        reply = replies[delete.key]
        reads = None
        if delete.reads is not None:
            legacy_before, item_before, other_after = delete.reads
            reads = VerificationReads(
                legacy_before=Read.from_get(replies[legacy_before]),
                item_before=Read.from_get(replies[item_before]),
                other_after=Read.from_get(replies[other_after]),
            )
        result: DeleteResult = shim.engine.conclude(plan, reply, reads=reads)
        return result


def merged(first: bytes, tail: bytes) -> bytes:
    """``first`` (a batch answer) with the answers of the commands sent after its halt added.

    When ``tail`` is no batch answer (the rest failed as a whole), its commands stay
    unanswered in ``first``, as not run.
    """
    one, two = _json_object(first), _json_object(tail)
    payload = one.get("result") if one is not None else None
    extra = two.get("result") if two is not None else None
    if one is None or not isinstance(payload, dict) or not isinstance(extra, dict):
        return first
    for name in _BATCH_MAPS:
        mapping = _as_map(payload.get(name))
        mapping.update(_as_map(extra.get(name)))
        payload[name] = _map_shape(mapping)
    return encode_json(one)


def _command(method: str, params: Mapping[str, Any]) -> str:
    return f"{method}?{encode_query(params)}"


def _referenced(key: str, texts: list[str]) -> bool:
    """Does any command refer to ``key``'s answer (``$result[key]``, ``$error[key]``)?"""
    pattern = re.compile(r"\$(result|error)\[" + re.escape(key) + r"\]", re.IGNORECASE)
    return any(pattern.search(text) for text in texts)


def _read_keys(position: int, taken: set[str]) -> tuple[str, str, str]:
    suffix = 0
    while True:
        stem = f"b24shim_{position}" + (f"_{suffix}" if suffix else "")
        keys = (f"{stem}_lead_before", f"{stem}_item_before", f"{stem}_other_after")
        if not taken.intersection(keys):
            return keys
        suffix += 1


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        decoded = json.loads(content)
    except (ValueError, RecursionError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _map_shape(mapping: dict[str, Any]) -> list[Any] | dict[str, Any]:
    """One batch map as PHP ``json_encode`` shapes it: ``[]`` empty, a list for 0..n-1."""
    return json_shape({array_key(key): value for key, value in mapping.items()})


def _as_map(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):  # PHP sends a 0..n-1 array as a list
        return {str(i): v for i, v in enumerate(value)}
    return {}


def _put_legacy(maps: dict[str, dict[str, Any]], key: str, result: DeleteResult) -> None:
    """Put what ``crm.lead.delete`` would have answered for ``key`` into the batch maps."""
    status, body = result.to_legacy()
    if status == 200 and body.get("result") is True:
        maps["result"][key] = True
        maps["result_error"].pop(key, None)
        if key not in maps["result_time"] and isinstance(body.get("time"), Mapping):
            maps["result_time"][key] = body["time"]
        return
    maps["result_error"][key] = {
        "error": body.get("error", ""),
        "error_description": body.get("error_description", ""),
    }
    for name in ("result", "result_time", "result_total", "result_next"):
        maps[name].pop(key, None)
