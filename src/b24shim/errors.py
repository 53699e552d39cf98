"""Exceptions and warnings raised by b24shim.

The tree::

    B24ShimError
    ├── ConfigError (also ValueError)        bad configuration, raised at start-up
    ├── InvalidLeadId (also ValueError)      not a lead id, raised before any request
    └── ApiError                             raised by DeleteResult.raise_for_error()
        ├── LeadNotFound (also LookupError)
        ├── AccessDenied (also PermissionError)
        ├── RateLimited
        ├── AuthError
        ├── ServerError
        ├── TransportError (also ConnectionError)
        └── ProtocolError

    B24ShimWarning (Warning)
    └── LegacyRouteWarning (also DeprecationWarning)

Every exception is picklable and carries structured attributes. No message ever contains a
webhook code, an access or refresh token or a client secret.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from b24shim._describe import describe

if TYPE_CHECKING:
    from b24shim.result import DeleteResult

__all__ = [
    "AccessDenied",
    "ApiError",
    "AuthError",
    "B24ShimError",
    "B24ShimWarning",
    "ConfigError",
    "InvalidLeadId",
    "LeadNotFound",
    "LegacyRouteWarning",
    "ProtocolError",
    "RateLimited",
    "ServerError",
    "TransportError",
]


class B24ShimError(Exception):
    """Base of every exception b24shim raises."""


class ConfigError(B24ShimError, ValueError):
    """A setting is missing or has a bad value.

    Attributes:
        setting: the name of the setting (an environment variable or a parameter).
    """

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(setting, message)
        self.setting = setting
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidLeadId(B24ShimError, ValueError):
    """The value is not a lead id. Raised before any request is made.

    Attributes:
        value: the rejected value.
    """

    def __init__(self, value: object, reason: str) -> None:
        super().__init__(value, reason)
        self.value = value
        self.reason = reason

    def __str__(self) -> str:
        return f"not a lead id: {describe(self.value)} ({self.reason})"


class ApiError(B24ShimError):
    """A delete did not succeed. ``result`` holds the :class:`DeleteResult`."""

    def __init__(self, message: str, result: DeleteResult) -> None:
        super().__init__(message, result)
        self.message = message
        self.result = result

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.result))


class LeadNotFound(ApiError, LookupError):
    """The lead does not exist (``NOT_FOUND``)."""


class AccessDenied(ApiError, PermissionError):
    """The user may not delete this lead (``ACCESS_DENIED``)."""


class RateLimited(ApiError):
    """The portal refused the call for its limits (query rate, operating time, overload)."""


class AuthError(ApiError):
    """The credentials were refused: expired or invalid token, wrong webhook, scope, plan."""


class ServerError(ApiError):
    """The portal failed (HTTP 5xx). The delete may or may not have happened."""


class TransportError(ApiError, ConnectionError):
    """The connection failed, was reset or timed out."""


class ProtocolError(ApiError):
    """The portal answered with something that is not its JSON envelope."""


class B24ShimWarning(Warning):
    """Base of every warning b24shim emits."""


class LegacyRouteWarning(B24ShimWarning, DeprecationWarning):
    """A delete went through the deprecated ``crm.lead.delete``. Emitted once per process."""
