"""The public surface: exactly the names DESIGN.md section 3 lists, sorted, importable."""

from __future__ import annotations

import logging

import b24shim

PUBLIC = {
    "LeadShim",
    "AsyncLeadShim",
    "delete_lead",
    "Webhook",
    "OAuth",
    "Stage",
    "Route",
    "Outcome",
    "ErrorCode",
    "DeleteResult",
    "ErrorInfo",
    "CallTime",
    "Difference",
    "B24ShimError",
    "ConfigError",
    "InvalidLeadId",
    "ApiError",
    "LeadNotFound",
    "AccessDenied",
    "RateLimited",
    "AuthError",
    "ServerError",
    "TransportError",
    "ProtocolError",
    "B24ShimWarning",
    "LegacyRouteWarning",
}


def test_all_is_sorted_and_complete() -> None:
    assert b24shim.__all__ == sorted(b24shim.__all__)
    assert set(b24shim.__all__) == PUBLIC
    for name in b24shim.__all__:
        assert getattr(b24shim, name) is not None


def test_exception_tree() -> None:
    assert issubclass(b24shim.ConfigError, (b24shim.B24ShimError, ValueError))
    assert issubclass(b24shim.InvalidLeadId, ValueError)
    assert issubclass(b24shim.LeadNotFound, LookupError)
    assert issubclass(b24shim.AccessDenied, PermissionError)
    assert issubclass(b24shim.TransportError, ConnectionError)
    for leaf in ("RateLimited", "AuthError", "ServerError", "ProtocolError"):
        assert issubclass(getattr(b24shim, leaf), b24shim.ApiError)
    assert issubclass(b24shim.LegacyRouteWarning, (b24shim.B24ShimWarning, DeprecationWarning))


def test_the_package_logger_has_only_a_null_handler() -> None:
    handlers = logging.getLogger("b24shim").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]
