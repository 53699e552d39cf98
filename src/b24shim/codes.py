"""Canonical error codes and the one place that classifies a portal error.

The portal and its documentation disagree on HTTP statuses (spec section 4), and the legacy
method mostly answers with an empty ``error`` code, so classification goes: the ``error`` code
first, then the HTTP status for 5xx, then (for empty codes) the description, in English or
Russian. The status alone never decides a 4xx.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from types import MappingProxyType

__all__ = ["JOB_STOPPING", "ErrorCode", "classify"]


class ErrorCode(str, enum.Enum):
    """A canonical error code: the same condition has the same code on both routes."""

    INVALID_ID = "INVALID_ID"
    NOT_FOUND = "NOT_FOUND"
    ACCESS_DENIED = "ACCESS_DENIED"
    OPERATION_FAILED = "OPERATION_FAILED"
    METHOD_NOT_FOUND = "METHOD_NOT_FOUND"
    QUERY_LIMIT_EXCEEDED = "QUERY_LIMIT_EXCEEDED"
    OPERATION_TIME_LIMIT = "OPERATION_TIME_LIMIT"
    EXPIRED_TOKEN = "EXPIRED_TOKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    INSUFFICIENT_SCOPE = "INSUFFICIENT_SCOPE"
    HTTPS_REQUIRED = "HTTPS_REQUIRED"
    OVERLOAD_LIMIT = "OVERLOAD_LIMIT"
    PLAN_RESTRICTED = "PLAN_RESTRICTED"
    PORTAL_DELETED = "PORTAL_DELETED"
    #: The portal answered with a redirect (3xx), which the shim never follows: it has moved,
    #: or the configured address is not the portal's own.
    PORTAL_MOVED = "PORTAL_MOVED"
    INTERNAL_SERVER_ERROR = "INTERNAL_SERVER_ERROR"
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    TRANSPORT_ERROR = "TRANSPORT_ERROR"
    UNKNOWN = "UNKNOWN"

    def __str__(self) -> str:
        return self.value


#: Errors about the credentials, their scope, the plan or the portal, never about one lead:
#: every later call would get the same answer, and no retry or other lead gets past it. A bulk
#: job stops at the first answer that shows one (``LeadShim.delete_leads``; the command line
#: exits 2). Each maps to what to fix. Left out on purpose: ``ACCESS_DENIED`` (permissions can
#: differ per lead), ``METHOD_NOT_FOUND`` (the item route falls back), the limits that clear by
#: waiting (``QUERY_LIMIT_EXCEEDED``, ``OPERATION_TIME_LIMIT``), and server, protocol and
#: transport failures (they may be passing).
JOB_STOPPING: Mapping[ErrorCode, str] = MappingProxyType(
    {
        ErrorCode.INVALID_CREDENTIALS: "the portal refused the credentials: check the webhook "
        "URL (its user id and code) or the OAuth access token; the webhook may have been "
        "deleted or the application removed from the portal",
        ErrorCode.EXPIRED_TOKEN: "the OAuth access token expired and could not be refreshed: "
        "give the refresh token, client id and client secret, or authorize the application "
        "again",
        ErrorCode.INSUFFICIENT_SCOPE: "the webhook or application lacks the permission (scope) "
        "crm: add it in the portal's settings of the webhook or application",
        ErrorCode.HTTPS_REQUIRED: "the portal accepts REST calls only over https://: use an "
        "https:// address",
        ErrorCode.PLAN_RESTRICTED: "the portal's plan does not include REST calls (or its "
        "paid period ended): the portal needs a commercial plan",
        ErrorCode.PORTAL_DELETED: "the portal was deleted: check the portal address",
        ErrorCode.PORTAL_MOVED: "the portal redirects to another address (shown below), and "
        "b24shim does not send credentials after a redirect: set the portal's own address",
        ErrorCode.OVERLOAD_LIMIT: "the portal has put REST calls on hold for overload: wait "
        "before trying again, and send less (a lower rate limit)",
    }
)

# Portal codes compared upper-cased: the portal mixes `expired_token` and `ACCESS_DENIED`.
_BY_CODE: dict[str, ErrorCode] = {
    "NOT_FOUND": ErrorCode.NOT_FOUND,
    "ERROR_NOT_FOUND": ErrorCode.NOT_FOUND,
    "ACCESS_DENIED": ErrorCode.ACCESS_DENIED,
    "ALLOWED_ONLY_INTRANET_USER": ErrorCode.ACCESS_DENIED,
    "ERROR_METHOD_NOT_FOUND": ErrorCode.METHOD_NOT_FOUND,
    "QUERY_LIMIT_EXCEEDED": ErrorCode.QUERY_LIMIT_EXCEEDED,
    "OPERATION_TIME_LIMIT": ErrorCode.OPERATION_TIME_LIMIT,
    "EXPIRED_TOKEN": ErrorCode.EXPIRED_TOKEN,
    "NO_AUTH_FOUND": ErrorCode.INVALID_CREDENTIALS,
    "INVALID_CREDENTIALS": ErrorCode.INVALID_CREDENTIALS,
    "INVALID_TOKEN": ErrorCode.INVALID_CREDENTIALS,
    "AUTHORIZATION_ERROR": ErrorCode.INVALID_CREDENTIALS,
    "APPLICATION_NOT_FOUND": ErrorCode.INVALID_CREDENTIALS,
    "USER_ACCESS_ERROR": ErrorCode.INVALID_CREDENTIALS,
    "INSUFFICIENT_SCOPE": ErrorCode.INSUFFICIENT_SCOPE,
    "OVERLOAD_LIMIT": ErrorCode.OVERLOAD_LIMIT,
    "PAYMENT_REQUIRED": ErrorCode.PLAN_RESTRICTED,
    "PORTAL_DELETED": ErrorCode.PORTAL_DELETED,
    "INTERNAL_SERVER_ERROR": ErrorCode.INTERNAL_SERVER_ERROR,
    "ERROR_UNEXPECTED_ANSWER": ErrorCode.INTERNAL_SERVER_ERROR,
}

# Descriptions of the legacy proxy (hard-coded English) and the item-not-found text in the
# languages the spec lists (EN "Item not found", RU "Элемент не найден").
_NOT_FOUND_TEXT = re.compile(r"\bnot found\b|не\s+найден", re.IGNORECASE)
_ACCESS_DENIED_TEXT = re.compile(r"^\s*(access denied|доступ запрещ[её]н)\W*$", re.IGNORECASE)
_INVALID_ID_TEXT = re.compile(r"^\s*id is not defined or invalid\.?\s*$", re.IGNORECASE)
_PLAN_TEXT = re.compile(r"commercial plans|by subscription", re.IGNORECASE)
_BINDER_ID_TEXT = re.compile(r"parameter \{id\}", re.IGNORECASE)


def classify(raw_code: str, description: str, http_status: int | None) -> ErrorCode:
    """Map a portal error to its canonical code.

    Args:
        raw_code: the portal's ``error`` as a string (``""`` when empty; ``"100"`` also when the
            portal sent the number 100).
        description: the portal's ``error_description``.
        http_status: the HTTP status, or None inside a ``batch`` answer (not visible there).

    Returns:
        The canonical :class:`ErrorCode`; ``UNKNOWN`` when nothing matches.
    """
    code = raw_code.strip().upper()
    if code == "ACCESS_DENIED" and http_status == 401 and _PLAN_TEXT.search(description):
        return ErrorCode.PLAN_RESTRICTED
    if code == "INVALID_REQUEST" and http_status in (None, 400, 401):
        # The portal's apauth `INVALID_REQUEST` means "Https required." (spec 4); OAuth's
        # lower-case `invalid_request` only comes from the token endpoint, never from a method.
        return ErrorCode.HTTPS_REQUIRED
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code == "ERROR_CORE":
        # The legacy proxy wraps application exceptions as ERROR_CORE (spec 1.3, 2.4).
        if _NOT_FOUND_TEXT.search(description):
            return ErrorCode.NOT_FOUND
        return ErrorCode.OPERATION_FAILED
    if code == "100":
        return ErrorCode.INVALID_ID if _BINDER_ID_TEXT.search(description) else ErrorCode.UNKNOWN
    if http_status is not None and http_status >= 500:
        return ErrorCode.INTERNAL_SERVER_ERROR
    if code:
        return ErrorCode.UNKNOWN
    # Empty code: the legacy proxy's RestExceptions, told apart by their text.
    if _INVALID_ID_TEXT.match(description):
        return ErrorCode.INVALID_ID
    if _ACCESS_DENIED_TEXT.match(description):
        return ErrorCode.ACCESS_DENIED
    if _NOT_FOUND_TEXT.search(description):
        return ErrorCode.NOT_FOUND
    if description.strip() and (http_status is None or 400 <= http_status < 500):
        # Any other legacy refusal (an event handler cancelled it, a dependency check).
        return ErrorCode.OPERATION_FAILED
    return ErrorCode.UNKNOWN
