"""The one result type for both routes, and the legacy-shaped answer derived from it."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from typing import Any

import attrs

from b24shim import errors
from b24shim._not_found import CORE, NotFoundForm
from b24shim.codes import ErrorCode
from b24shim.flags import Stage

__all__ = ["CallTime", "DeleteResult", "Difference", "ErrorInfo", "Outcome", "Route"]


class Route(str, enum.Enum):
    """The method that performed a delete."""

    LEGACY = "legacy"
    ITEM = "item"

    def __init__(self, value: str) -> None:
        #: The portal method of this route (an attribute: every result's validator reads it).
        self.method: str = "crm.lead.delete" if value == "legacy" else "crm.item.delete"

    def __str__(self) -> str:
        return self.value


class Outcome(str, enum.Enum):
    """What happened to the lead.

    ``UNKNOWN`` is for failures after which the delete may or may not have happened (a timeout
    or reset after sending, a 5xx, a garbage body with status 200).
    """

    DELETED = "deleted"
    ALREADY_ABSENT = "already_absent"
    FAILED = "failed"
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


#: Integers below this convert to a finite float (the exact bound, 2**1024, would overflow).
_FLOAT_SAFE = 2**1000


def _optional_float(value: object) -> float | None:
    """A finite float, or None: a portal's ``1e400``, NaN or 400-digit integer is no time."""
    if type(value) is float:  # the hot path: every command of a batch has six of them
        # x - x is 0.0 for a finite x and NaN for inf, -inf and NaN.
        return value if value - value == 0.0 else None
    if type(value) is int and -_FLOAT_SAFE < value < _FLOAT_SAFE:  # operating: 0, a timestamp
        return float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    if isinstance(value, str) and len(value) > 64:
        return None  # no real time field is that long; float() of it is wasted work
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


#: The largest integer a float holds exactly.
_EXACT_INT = 2**53


def _optional_timestamp(value: object) -> int | None:
    """A unix timestamp as an int, or None when it is not a finite, non-negative number."""
    number = _optional_float(value)
    if number is None or number < 0:
        return None
    return int(number)


def _optional_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


@attrs.frozen
class CallTime:
    """The portal's ``time`` block, field for field (None where the portal left it out)."""

    start: float | None = None
    finish: float | None = None
    duration: float | None = None
    processing: float | None = None
    date_start: str | None = None
    date_finish: str | None = None
    operating: float | None = None
    operating_reset_at: int | None = None

    @classmethod
    def from_json(cls, block: Mapping[str, object]) -> CallTime:
        """Read a ``time`` block leniently: a field of the wrong type becomes None."""
        get = block.get  # read for every answer: positional, one bound lookup
        start, finish = get("start"), get("finish")
        duration, processing = get("duration"), get("processing")
        date_start, date_finish = get("date_start"), get("date_finish")
        operating = _optional_float(get("operating"))  # the portal sends 0, an int, as often
        reset_at = get("operating_reset_at")
        # The portal's usual block (finite floats, an int reset time, date strings) is taken as
        # it is; any other value goes through the lenient readers.
        if (
            type(start) is float
            and type(finish) is float
            and type(duration) is float
            and type(processing) is float
            and type(date_start) is str
            and type(date_finish) is str
            and operating is not None
            and type(reset_at) is int
            and 0 <= reset_at <= _EXACT_INT  # as int(float(reset_at)) would give it
            and math.isfinite(start + finish + duration + processing)
        ):
            return cls(
                start, finish, duration, processing, date_start, date_finish, operating, reset_at
            )
        return cls(
            _optional_float(start),
            _optional_float(finish),
            _optional_float(duration),
            _optional_float(processing),
            _optional_str(date_start),
            _optional_str(date_finish),
            operating,
            _optional_timestamp(reset_at),
        )


@attrs.frozen
class ErrorInfo:
    """Why a call failed.

    Attributes:
        code: the canonical code, the same for the same condition on both routes.
        raw_code: the portal's ``error`` as a string (``""`` when empty).
        description: the portal's ``error_description`` (or the shim's, for transport and
            protocol errors), never containing a secret.
        http_status: the HTTP status; None inside a ``batch`` answer or without an answer.
    """

    code: ErrorCode
    raw_code: str
    description: str
    http_status: int | None = None


@attrs.frozen
class Difference:
    """One difference between the two routes, found for one lead.

    Attributes:
        kind: a stable string: ``result_shape``, ``error_format``, ``visibility``,
            ``outcome``, ``still_visible``, ``fallback`` or ``verification_error``.
        behavioral: true when code relying on the legacy behaviour could notice it.
        legacy: what the legacy family showed. item: what the item family showed.
        detail: one readable sentence.
    """

    kind: str
    lead_id: int
    stage: Stage
    behavioral: bool
    legacy: object
    item: object
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "kind": self.kind,
            "lead_id": self.lead_id,
            "stage": self.stage.value,
            "behavioral": self.behavioral,
            "legacy": self.legacy,
            "item": self.item,
            "detail": self.detail,
        }


_EXCEPTION_OF: dict[ErrorCode, type[errors.ApiError]] = {
    ErrorCode.NOT_FOUND: errors.LeadNotFound,
    ErrorCode.ACCESS_DENIED: errors.AccessDenied,
    ErrorCode.QUERY_LIMIT_EXCEEDED: errors.RateLimited,
    ErrorCode.OPERATION_TIME_LIMIT: errors.RateLimited,
    ErrorCode.OVERLOAD_LIMIT: errors.RateLimited,
    ErrorCode.EXPIRED_TOKEN: errors.AuthError,
    ErrorCode.INVALID_CREDENTIALS: errors.AuthError,
    ErrorCode.INSUFFICIENT_SCOPE: errors.AuthError,
    ErrorCode.HTTPS_REQUIRED: errors.AuthError,
    ErrorCode.PLAN_RESTRICTED: errors.AuthError,
    ErrorCode.INTERNAL_SERVER_ERROR: errors.ServerError,
    ErrorCode.TRANSPORT_ERROR: errors.TransportError,
    ErrorCode.PROTOCOL_ERROR: errors.ProtocolError,
    ErrorCode.PORTAL_MOVED: errors.ProtocolError,
}

_GONE = (Outcome.DELETED, Outcome.ALREADY_ABSENT)


def _is_error_body(raw: Mapping[str, Any]) -> bool:
    """Is ``raw`` the portal's error envelope, fit to hand to legacy code as it is?"""
    return isinstance(raw.get("error"), str) and isinstance(raw.get("error_description"), str)


# What crm.lead.delete answers for the conditions whose item answer differs (DESIGN 4).
LEGACY_ERROR_TEXT: Mapping[ErrorCode, str] = {
    ErrorCode.INVALID_ID: "ID is not defined or invalid.",
    ErrorCode.ACCESS_DENIED: "Access denied.",
    ErrorCode.NOT_FOUND: "Not found",
}

# The statuses the portal's source gives the codes that reach us without one (inside a batch).
_STATUS_OF: Mapping[ErrorCode, int] = {
    ErrorCode.METHOD_NOT_FOUND: 404,
    ErrorCode.QUERY_LIMIT_EXCEEDED: 503,
    ErrorCode.OPERATION_TIME_LIMIT: 429,
    ErrorCode.EXPIRED_TOKEN: 401,
    ErrorCode.INVALID_CREDENTIALS: 401,
    ErrorCode.INSUFFICIENT_SCOPE: 401,
    ErrorCode.HTTPS_REQUIRED: 401,
    ErrorCode.OVERLOAD_LIMIT: 401,
    ErrorCode.PLAN_RESTRICTED: 401,
    ErrorCode.PORTAL_DELETED: 403,
    ErrorCode.INTERNAL_SERVER_ERROR: 500,
}


@attrs.frozen
class DeleteResult:
    """The normalized result of one delete, whichever route performed it.

    Attributes:
        lead_id: the lead.
        ok: true for ``DELETED`` and ``ALREADY_ABSENT``.
        outcome: what happened to the lead.
        stage: the stage that applied to this id.
        route: the method family that performed the delete.
        method: ``"crm.lead.delete"`` or ``"crm.item.delete"``.
        error: why it failed; None when ok.
        time: the portal's ``time`` block, when it sent one.
        raw: the portal's JSON body for this delete (inside a batch: the command's own
            ``result``/``time`` or ``error``/``error_description``); never secrets.
        differences: what was found to differ between the routes for this lead.
    """

    lead_id: int
    outcome: Outcome
    stage: Stage
    route: Route
    error: ErrorInfo | None = None
    time: CallTime | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict)
    differences: tuple[Difference, ...] = ()
    # Derived from outcome and route; may be given, and must then agree.
    ok: bool = attrs.field(
        kw_only=True, default=attrs.Factory(lambda self: self.outcome in _GONE, takes_self=True)
    )
    method: str = attrs.field(
        kw_only=True, default=attrs.Factory(lambda self: self.route.method, takes_self=True)
    )
    #: This portal's legacy not-found answer, for ``to_legacy()`` on the item route (the shim
    #: sets it from ``legacy_not_found``; None means the current portals' ``ERROR_CORE`` form).
    legacy_not_found: NotFoundForm | None = attrs.field(
        kw_only=True, default=None, eq=False, repr=False
    )

    @ok.validator
    def _check_ok(self, _: attrs.Attribute[bool], value: bool) -> None:
        if value != (self.outcome in _GONE):
            raise ValueError(f"ok={value!r} contradicts outcome {self.outcome.value!r}")

    @method.validator
    def _check_method(self, _: attrs.Attribute[str], value: str) -> None:
        if value != self.route.method:
            raise ValueError(f"method={value!r} contradicts route {self.route.value!r}")

    def raise_for_error(self) -> None:
        """Raise the matching :class:`~b24shim.ApiError` subclass unless the result is ok."""
        if self.ok:
            return
        error = self.error or ErrorInfo(ErrorCode.UNKNOWN, "", "no error information")
        cls = _EXCEPTION_OF.get(error.code, errors.ApiError)
        status = f", HTTP {error.http_status}" if error.http_status is not None else ""
        shown = error.raw_code or '""'
        message = (
            f"{self.method} of lead {self.lead_id} failed ({self.outcome.value}): "
            f"{error.code.value} (portal error {shown}: {error.description!r}{status})"
        )
        raise cls(message, self)

    def to_legacy(self) -> tuple[int, dict[str, Any]]:
        """The HTTP status and JSON body ``crm.lead.delete`` would have given.

        For the legacy route, the portal's own status and body. For the item route, success
        becomes ``true``, ``INVALID_ID`` and ``ACCESS_DENIED`` become the legacy proxy's
        empty-code errors, and ``NOT_FOUND`` becomes this portal's own legacy not-found answer
        (``legacy_not_found``, learnt or set on the shim); system errors pass through with
        their own code, description and status. ``ALREADY_ABSENT`` (a retried delete found the
        lead gone after an ambiguous failure) answers success on both routes: the lead is gone,
        as asked.
        """
        if self.ok:
            body: dict[str, Any] = {"result": True}
            if self.route is Route.LEGACY and self.outcome is Outcome.DELETED:
                body = dict(self.raw) if "result" in self.raw else body
            elif isinstance(self.raw.get("time"), Mapping):
                body["time"] = dict(self.raw["time"])
            return 200, body
        error = self.error or ErrorInfo(ErrorCode.UNKNOWN, "", "no error information")
        if error.code in (
            ErrorCode.TRANSPORT_ERROR,
            ErrorCode.PROTOCOL_ERROR,
            ErrorCode.PORTAL_MOVED,
        ):
            # No readable portal answer to pass on: say so, as a gateway would.
            return 502, {"error": error.code.value, "error_description": error.description}
        status = error.http_status or 0
        if status < 400:  # an error answered with 200 (or inside a batch): the code's status
            status = _STATUS_OF.get(error.code, 400)
        if self.route is Route.LEGACY and _is_error_body(self.raw):
            return status, dict(self.raw)
        if error.code is ErrorCode.NOT_FOUND and self.route is Route.ITEM:
            form = self.legacy_not_found or CORE
            return form.status, form.body()
        if error.code in LEGACY_ERROR_TEXT and (self.route is Route.ITEM or not self.raw):
            return 400, {"error": "", "error_description": LEGACY_ERROR_TEXT[error.code]}
        return status, {"error": error.raw_code, "error_description": error.description}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field (enums as their values)."""
        return {
            "lead_id": self.lead_id,
            "ok": self.ok,
            "outcome": self.outcome.value,
            "stage": self.stage.value,
            "route": self.route.value,
            "method": self.method,
            "error": None
            if self.error is None
            else {
                "code": self.error.code.value,
                "raw_code": self.error.raw_code,
                "description": self.error.description,
                "http_status": self.error.http_status,
            },
            "time": None if self.time is None else attrs.asdict(self.time),
            "raw": dict(self.raw),
            "differences": [d.to_dict() for d in self.differences],
        }
