"""The portal's JSON envelope, parsed in one place (spec 1.1-1.3, 6).

Nothing past this module looks at a raw body again: a response becomes a :class:`Reply`, and a
``batch`` answer becomes one :class:`Reply` per command.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Mapping
from typing import Any

import attrs

from b24shim.codes import ErrorCode, classify
from b24shim.result import CallTime, ErrorInfo

__all__ = ["Reply", "decode_json", "decode_text", "parse_batch", "parse_response", "protocol_error"]


# Not frozen, for the reason Plan is not: one is built for every command of every batch, and a
# frozen class pays an object.__setattr__ call per field. Nothing assigns to a reply once built.
@attrs.define
class Reply:
    """One call's answer (treat it as immutable: ``attrs.evolve`` makes a changed copy).

    Attributes:
        result: the ``result`` value (None when the call failed).
        error: why it failed; None on success.
        time: the ``time`` block, when sent.
        raw: the JSON body (for a batch command: its own result/time or error body).
        http_status: the HTTP status; None inside a batch or without an answer.
        ambiguous: true when the call may have run although it failed (timeout or reset after
            sending, 5xx, garbage with status 200): a delete's outcome is then unknown.
    """

    result: object = None
    error: ErrorInfo | None = None
    time: CallTime | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict)
    http_status: int | None = None
    ambiguous: bool = False

    @property
    def ok(self) -> bool:
        """True when the portal answered with a result."""
        return self.error is None

    @property
    def code(self) -> ErrorCode | None:
        """The canonical error code, or None on success."""
        return None if self.error is None else self.error.code


def protocol_error(description: str, http_status: int | None, *, ambiguous: bool) -> Reply:
    """A reply for a body that is not the portal's envelope."""
    code = ErrorCode.PROTOCOL_ERROR
    if http_status is not None and http_status >= 500:
        code = ErrorCode.INTERNAL_SERVER_ERROR  # DESIGN 5: any 5xx without a known code
    return Reply(
        error=ErrorInfo(code, "", description, http_status),
        http_status=http_status,
        ambiguous=ambiguous,
    )


def _is_ambiguous(status: int | None, code: ErrorCode) -> bool:
    """Could the method have run although this answer is an error?"""
    if code in (ErrorCode.QUERY_LIMIT_EXCEEDED, ErrorCode.OPERATION_TIME_LIMIT):
        return False  # refusals: the method did not run
    return status is not None and status >= 500


def _error_reply(body: Mapping[str, Any], status: int | None) -> Reply | None:
    raw = body.get("error")
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        return None
    description = body.get("error_description", "")
    if not isinstance(description, str):
        description = "" if description is None else str(description)
    raw_code = str(raw)  # the binder's 100 comes as a number on older portals (spec 3.4)
    code = classify(raw_code, description, status)
    return Reply(
        error=ErrorInfo(code, raw_code, description, status),
        raw=body,
        http_status=status,
        ambiguous=_is_ambiguous(status, code),
    )


def _time_of(block: object) -> CallTime | None:
    # type() first: a decoded block is a dict, and isinstance() of an ABC is slow per command.
    if type(block) is dict or isinstance(block, Mapping):
        return CallTime.from_json(block)
    return None


def parse_body(body: object, status: int | None) -> Reply:
    """Turn a decoded JSON value into a reply."""
    success = status is None or 200 <= status < 300
    if not isinstance(body, dict):
        return protocol_error(
            f"expected a JSON object, got {type(body).__name__}", status, ambiguous=success
        )
    if "error" in body:
        reply = _error_reply(body, status)
        if reply is not None:
            return reply
        return protocol_error("the 'error' field is not a string", status, ambiguous=success)
    if "result" in body and success:
        # Positional (result, error, time, raw, http_status): this is every answer's path.
        return Reply(body["result"], None, _time_of(body.get("time")), body, status)
    return protocol_error(
        f"neither 'result' nor 'error' in the answer (HTTP {status})",
        status,
        ambiguous=success or (status is not None and status >= 500),
    )


#: The stdlib's scanner (its C one) with json.loads's default settings: a default
#: JSONDecoder carries them (the scanner reads its hooks and flags from it).
_default_settings: Any = json.JSONDecoder()
_scan = json.scanner.make_scanner(_default_settings)


def decode_text(text: str) -> object:
    """``json.loads(text)``, the value handed straight to the stdlib's scanner when it is the
    whole text (json.loads reads or raises everything else, exactly as before)."""
    try:
        value, end = _scan(text, 0)
    except (StopIteration, ValueError):
        return json.loads(text)  # the same error, worded by json
    if end == len(text):
        return value
    return json.loads(text)  # trailing whitespace is fine, anything else an error


def decode_json(content: bytes) -> object:
    """``json.loads(content)``, with less work for the portal's usual answer.

    The portal answers in UTF-8: an object's ``{`` first, not followed by the NUL byte a UTF-16
    or UTF-32 body would have there. Such a body is decoded here and handed straight to the
    stdlib's scanner, sparing ``json.loads`` its encoding sniffing and its whitespace checks,
    which cost about as much as reading a small answer. Anything else (a BOM, another
    encoding, an empty body, trailing text, an error in the JSON) goes to ``json.loads``,
    which reads it or raises exactly as before.
    """
    if content[:1] == b"{" and content[1:2] != b"\x00":
        # Not UTF-8: UnicodeDecodeError, as json.loads raises.
        return decode_text(content.decode("utf-8"))
    return json.loads(content)


def parse_response(status: int, content: bytes) -> Reply:
    """Turn an HTTP response into a reply."""
    try:
        body = decode_json(content)
    except RecursionError:
        # json nests by recursion: a body of 100,000 "[" exhausts the stack. No portal answer
        # nests like that.
        return protocol_error(
            f"the portal sent JSON nested too deeply to read (HTTP {status})",
            status,
            ambiguous=200 <= status < 300 or status >= 500,
        )
    except (ValueError, UnicodeDecodeError):
        ambiguous = 200 <= status < 300 or status >= 500
        shown = "an empty body" if not content.strip() else "a body that is not JSON"
        return protocol_error(
            f"the portal sent {shown} (HTTP {status})", status, ambiguous=ambiguous
        )
    return parse_body(body, status)


_ABSENT = object()


def _mapping(value: object) -> Mapping[str, Any]:
    # PHP serializes a map whose keys are 0..n-1 (a list-style cmd, or an empty map) as a
    # JSON array (spec 6): its keys are the positions.
    if isinstance(value, Mapping):
        return value
    if isinstance(value, list):
        return {str(i): item for i, item in enumerate(value)}
    return {}


def parse_batch(envelope: Reply, keys: list[str]) -> dict[str, Reply]:
    """Split a ``batch`` reply into one reply per command key.

    A failed batch gives every command the batch's own error. A command missing from both
    ``result`` and ``result_error`` may or may not have run: it gets an ambiguous
    ``PROTOCOL_ERROR``.
    """
    if not envelope.ok:
        return dict.fromkeys(keys, envelope)
    payload = envelope.result
    if not isinstance(payload, Mapping):
        bad = protocol_error(
            "the batch result is not an object", envelope.http_status, ambiguous=True
        )
        return dict.fromkeys(keys, bad)
    results = _mapping(payload.get("result"))
    errors = _mapping(payload.get("result_error"))
    times = _mapping(payload.get("result_time"))
    replies: dict[str, Reply] = {}
    for key in keys:
        if key in results and key not in errors:  # the common case first: one per command
            result = results[key]
            block = times.get(key, _ABSENT)
            if block is _ABSENT:
                replies[key] = Reply(result, raw={"result": result})
            else:
                # Each command's time block is read once, here; everything after (the pacer,
                # the result) uses this CallTime.
                raw = {"result": result, "time": block}
                replies[key] = Reply(result, None, _time_of(block), raw)
        elif key in errors and key in results:
            # The portal puts a command in one map or the other; in both, the answer
            # contradicts itself and the command may or may not have run.
            replies[key] = protocol_error(
                f"command {key!r} is in both result and result_error of the batch answer",
                None,
                ambiguous=True,
            )
        elif key in errors and isinstance(errors[key], Mapping):
            error_body = dict(errors[key])
            replies[key] = _error_reply(error_body, None) or protocol_error(
                f"command {key!r}: the 'error' field is not a string", None, ambiguous=True
            )
        else:
            replies[key] = protocol_error(
                f"command {key!r} is missing from the batch answer", None, ambiguous=True
            )
    return replies
