"""Retries that never lie: safe retries, ambiguous failures, ALREADY_ABSENT, exhaustion."""

from __future__ import annotations

import random

import pytest
import requests
import responses
import urllib3.exceptions
from responses import registries

from b24shim import ConfigError, ErrorCode, LeadShim, Outcome, Stage
from b24shim.retry import RetryPolicy
from conftest import WEBHOOK, FakeTime

LEGACY_URL = WEBHOOK + "crm.lead.delete.json"
ITEM_URL = WEBHOOK + "crm.item.delete.json"
LIMIT = {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"}
TIME_LIMIT = {
    "error": "OPERATION_TIME_LIMIT",
    "error_description": "Method is blocked due to operation time limit.",
}
NOT_FOUND_ITEM = {"error": "NOT_FOUND", "error_description": "Item not found"}
NOT_FOUND_LEAD = {"error": "ERROR_CORE", "error_description": "Item not found"}
REFUSED = requests.ConnectionError(
    urllib3.exceptions.MaxRetryError(
        None, "/", urllib3.exceptions.NewConnectionError(None, "refused")
    )
)  # type: ignore[arg-type]


@pytest.fixture
def ordered() -> responses.RequestsMock:
    with responses.RequestsMock(registry=registries.OrderedRegistry) as mock:
        yield mock  # type: ignore[misc]


def test_a_refused_call_is_retried_after_a_backoff(
    ordered: responses.RequestsMock, fake_time: FakeTime
) -> None:
    ordered.post(ITEM_URL, status=503, json=LIMIT)
    ordered.post(ITEM_URL, status=429, json=TIME_LIMIT)
    ordered.post(ITEM_URL, body=REFUSED)
    ordered.post(ITEM_URL, json={"result": []})
    result = LeadShim(WEBHOOK, stage="item").delete_lead(5)
    assert result.outcome is Outcome.DELETED
    assert len(ordered.calls) == 4
    backoffs = [s for s in fake_time.sleeps if s > 0]
    assert len(backoffs) == 3
    assert 0.25 <= backoffs[0] <= 0.5
    assert 0.5 <= backoffs[1] <= 1.0
    assert 1.0 <= backoffs[2] <= 2.0


def test_refusals_until_the_tries_run_out_are_failed(ordered: responses.RequestsMock) -> None:
    for _ in range(3):
        ordered.post(LEGACY_URL, status=503, json=LIMIT)
    shim = LeadShim(WEBHOOK, retry=RetryPolicy(attempts=3))
    result = shim.delete_lead(5)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.QUERY_LIMIT_EXCEEDED
    assert len(ordered.calls) == 3


@pytest.mark.parametrize(
    "first",
    [
        {"body": requests.ReadTimeout("read timed out")},
        {
            "body": requests.ConnectionError(
                urllib3.exceptions.ProtocolError(
                    "Connection aborted.", ConnectionResetError(104, "reset")
                )
            )
        },
        {
            "status": 500,
            "json": {
                "error": "INTERNAL_SERVER_ERROR",
                "error_description": "Internal server error",
            },
        },
        {"status": 200, "body": b"<html>garbage"},
    ],
    ids=["read-timeout", "reset", "500", "garbage-200"],
)
def test_after_an_ambiguous_failure_a_lead_found_gone_is_already_absent(
    ordered: responses.RequestsMock, first: dict[str, object]
) -> None:
    ordered.post(ITEM_URL, **first)  # type: ignore[arg-type]
    ordered.post(ITEM_URL, status=400, json=NOT_FOUND_ITEM)
    result = LeadShim(WEBHOOK, stage="item").delete_lead(5)
    assert result.outcome is Outcome.ALREADY_ABSENT
    assert result.ok
    assert result.error is None
    assert result.raise_for_error() is None
    assert result.to_legacy() == (200, {"result": True})
    assert [d.kind for d in result.differences] == []


def test_after_an_ambiguous_failure_a_successful_retry_is_deleted(
    ordered: responses.RequestsMock,
) -> None:
    ordered.post(LEGACY_URL, body=requests.ReadTimeout("read timed out"))
    ordered.post(LEGACY_URL, json={"result": True})
    assert LeadShim(WEBHOOK).delete_lead(5).outcome is Outcome.DELETED


def test_a_first_not_found_is_a_failure_not_already_absent(
    ordered: responses.RequestsMock,
) -> None:
    ordered.post(LEGACY_URL, status=400, json=NOT_FOUND_LEAD)
    result = LeadShim(WEBHOOK).delete_lead(5)
    assert result.outcome is Outcome.FAILED
    assert len(ordered.calls) == 1


def test_ambiguous_failures_until_the_tries_run_out_are_unknown(
    ordered: responses.RequestsMock,
) -> None:
    for _ in range(2):
        ordered.post(LEGACY_URL, body=requests.ReadTimeout("read timed out"))
    result = LeadShim(WEBHOOK, retry=RetryPolicy(ambiguous_attempts=2)).delete_lead(5)
    assert result.outcome is Outcome.UNKNOWN
    assert not result.ok
    assert result.error is not None
    assert result.error.code is ErrorCode.TRANSPORT_ERROR


@pytest.mark.parametrize(
    "then",
    [
        {"status": 400, "json": {"error": "", "error_description": "Access denied."}},
        {"status": 503, "json": LIMIT},
    ],
    ids=["refused-after", "limited-after"],
)
def test_a_refusal_after_an_ambiguous_failure_proves_nothing(
    ordered: responses.RequestsMock, then: dict[str, object]
) -> None:
    ordered.post(LEGACY_URL, body=requests.ReadTimeout("read timed out"))
    ordered.post(LEGACY_URL, **then)  # type: ignore[arg-type]
    result = LeadShim(WEBHOOK, retry=RetryPolicy(attempts=1)).delete_lead(5)
    assert result.outcome is Outcome.UNKNOWN


def test_no_retry_policy_sends_once(ordered: responses.RequestsMock) -> None:
    ordered.post(ITEM_URL, body=requests.ReadTimeout("read timed out"))
    shim = LeadShim(WEBHOOK, stage=Stage.ITEM, retry=RetryPolicy(attempts=1, ambiguous_attempts=1))
    assert shim.delete_lead(5).outcome is Outcome.UNKNOWN
    assert len(ordered.calls) == 1


def test_backoff_is_capped_exponential_with_jitter() -> None:
    policy = RetryPolicy(backoff=1.0, max_backoff=8.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    jittered = RetryPolicy(backoff=1.0, max_backoff=8.0)
    rng = random.Random(1)
    for n in range(1, 7):
        full = min(8.0, 2.0 ** (n - 1))
        assert full / 2 <= jittered.delay(n, rng) <= full


@pytest.mark.parametrize(
    ("kwargs", "setting"),
    [
        ({"attempts": 0}, "attempts"),
        ({"ambiguous_attempts": True}, "ambiguous_attempts"),
        ({"backoff": -1}, "backoff"),
        ({"max_backoff": "x"}, "max_backoff"),
    ],
)
def test_bad_retry_settings_are_config_errors(kwargs: dict[str, object], setting: str) -> None:
    with pytest.raises(ConfigError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert info.value.setting == setting
