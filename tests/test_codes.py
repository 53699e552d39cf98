"""Classification of portal errors: every row of DESIGN.md section 5, code first."""

from __future__ import annotations

import pytest

from b24shim import ErrorCode
from b24shim.codes import classify

ROWS = [
    # (raw code, description, status, expected)
    ("", "ID is not defined or invalid.", 400, ErrorCode.INVALID_ID),
    (
        "100",
        "Invalid value {abc} to match with parameter {id}. Should be value of type int.",
        400,
        ErrorCode.INVALID_ID,
    ),
    ("100", "Could not find value for parameter {id}", 400, ErrorCode.INVALID_ID),
    ("NOT_FOUND", "Item not found", 400, ErrorCode.NOT_FOUND),
    ("NOT_FOUND", "Элемент не найден", 400, ErrorCode.NOT_FOUND),
    ("NOT_FOUND", "Item not found", 403, ErrorCode.NOT_FOUND),
    ("", "Not found", 400, ErrorCode.NOT_FOUND),
    ("ERROR_CORE", "Item not found", 400, ErrorCode.NOT_FOUND),
    ("ERROR_CORE", "Элемент не найден", 400, ErrorCode.NOT_FOUND),
    ("", "Access denied.", 400, ErrorCode.ACCESS_DENIED),
    ("", "Access denied", 400, ErrorCode.ACCESS_DENIED),
    ("ACCESS_DENIED", "Access denied", 400, ErrorCode.ACCESS_DENIED),
    ("ACCESS_DENIED", "Access denied", 403, ErrorCode.ACCESS_DENIED),
    ("ACCESS_DENIED", "Доступ запрещен", 403, ErrorCode.ACCESS_DENIED),
    ("allowed_only_intranet_user", "", 403, ErrorCode.ACCESS_DENIED),
    (
        "ERROR_CORE",
        "Event handler OnBeforeCrmLeadDelete cancelled the deletion",
        400,
        ErrorCode.OPERATION_FAILED,
    ),
    ("", "Deletion was cancelled by an event handler", 400, ErrorCode.OPERATION_FAILED),
    ("ERROR_METHOD_NOT_FOUND", "Method not found!", 404, ErrorCode.METHOD_NOT_FOUND),
    ("QUERY_LIMIT_EXCEEDED", "Too many requests", 503, ErrorCode.QUERY_LIMIT_EXCEEDED),
    (
        "OPERATION_TIME_LIMIT",
        "Method is blocked due to operation time limit.",
        429,
        ErrorCode.OPERATION_TIME_LIMIT,
    ),
    ("expired_token", "The access token provided has expired", 401, ErrorCode.EXPIRED_TOKEN),
    ("NO_AUTH_FOUND", "Wrong authorization data", 401, ErrorCode.INVALID_CREDENTIALS),
    ("INVALID_CREDENTIALS", "Invalid request credentials", 401, ErrorCode.INVALID_CREDENTIALS),
    ("INVALID_CREDENTIALS", "Invalid request credentials", 403, ErrorCode.INVALID_CREDENTIALS),
    ("invalid_token", "", 401, ErrorCode.INVALID_CREDENTIALS),
    ("authorization_error", "Unable to authorize user", 401, ErrorCode.INVALID_CREDENTIALS),
    ("APPLICATION_NOT_FOUND", "Application not found", 401, ErrorCode.INVALID_CREDENTIALS),
    (
        "user_access_error",
        "The user does not have access to the application.",
        401,
        ErrorCode.INVALID_CREDENTIALS,
    ),
    (
        "insufficient_scope",
        "The request requires higher privileges than provided by the webhook token",
        401,
        ErrorCode.INSUFFICIENT_SCOPE,
    ),
    ("insufficient_scope", "", None, ErrorCode.INSUFFICIENT_SCOPE),  # inside a batch
    ("INVALID_REQUEST", "Https required.", 401, ErrorCode.HTTPS_REQUIRED),
    ("INVALID_REQUEST", "Https required.", 400, ErrorCode.HTTPS_REQUIRED),
    ("OVERLOAD_LIMIT", "REST API is blocked due to overload.", 401, ErrorCode.OVERLOAD_LIMIT),
    ("OVERLOAD_LIMIT", "REST API is blocked due to overload.", 503, ErrorCode.OVERLOAD_LIMIT),
    (
        "ACCESS_DENIED",
        "REST is available only on commercial plans.",
        401,
        ErrorCode.PLAN_RESTRICTED,
    ),
    ("ACCESS_DENIED", "REST is available only by subscription", 401, ErrorCode.PLAN_RESTRICTED),
    ("PAYMENT_REQUIRED", "Payment required", 402, ErrorCode.PLAN_RESTRICTED),
    ("PORTAL_DELETED", "Portal was deleted", 403, ErrorCode.PORTAL_DELETED),
    ("INTERNAL_SERVER_ERROR", "Internal server error", 500, ErrorCode.INTERNAL_SERVER_ERROR),
    (
        "ERROR_UNEXPECTED_ANSWER",
        "Server returned an unexpected response",
        500,
        ErrorCode.INTERNAL_SERVER_ERROR,
    ),
    ("INTERNAL_WRONG_TRANSPORT", "Wrong transport!", 500, ErrorCode.INTERNAL_SERVER_ERROR),
    ("", "", 502, ErrorCode.INTERNAL_SERVER_ERROR),
    ("SOMETHING_NEW", "a code nobody has seen", 400, ErrorCode.UNKNOWN),
    ("ERROR_BATCH_LENGTH_EXCEEDED", "Max batch length exceeded", None, ErrorCode.UNKNOWN),
    ("", "", 400, ErrorCode.UNKNOWN),
]


@pytest.mark.parametrize(("raw", "text", "status", "expected"), ROWS)
def test_every_row_of_the_table_is_classified(
    raw: str, text: str, status: int | None, expected: ErrorCode
) -> None:
    assert classify(raw, text, status) is expected


def test_the_status_alone_never_decides_a_4xx() -> None:
    # The docs say 403 for some codes the source sends as 400 or 401 (spec 4): the code wins.
    assert classify("NOT_FOUND", "Item not found", 404) is ErrorCode.NOT_FOUND
    assert classify("", "Not found", 404) is ErrorCode.NOT_FOUND
    assert classify("", "Access denied.", 403) is ErrorCode.ACCESS_DENIED
    assert classify("WHATEVER", "", 403) is ErrorCode.UNKNOWN


def test_codes_compare_case_insensitively() -> None:
    assert classify("EXPIRED_TOKEN", "", 401) is ErrorCode.EXPIRED_TOKEN
    assert classify("Not_Found", "", 400) is ErrorCode.NOT_FOUND


def test_error_code_values_are_their_names() -> None:
    for code in ErrorCode:
        assert code.value == code.name
        assert str(code) == code.name
