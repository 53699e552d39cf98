"""Fault injection: no uncaught exception, no lost result, every outcome told truthfully."""

from __future__ import annotations

import collections
from collections.abc import Callable

import pytest

from b24shim import DeleteResult, ErrorCode, LeadShim, Outcome, Stage
from b24shim.emulator import Emulator, FaultConfig
from b24shim.retry import RetryPolicy

Factory = Callable[..., Emulator]
FAST_RETRY = RetryPolicy(backoff=0.001, max_backoff=0.01)


def check_truth(portal: Emulator, results: list[DeleteResult], leads: list[int]) -> None:
    """What each result says happened is what happened on the portal."""
    assert [r.lead_id for r in results] == leads
    gone = {lead for lead in leads if not portal.lead_exists(lead)}
    for result in results:
        if result.outcome in (Outcome.DELETED, Outcome.ALREADY_ABSENT):
            assert result.lead_id in gone, result
        elif result.outcome is Outcome.FAILED:
            assert result.lead_id not in gone, result
    assert sorted(int(e["data"]["FIELDS"]["ID"]) for e in portal.events) == sorted(gone)


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("503", ErrorCode.QUERY_LIMIT_EXCEEDED),
        ("500", ErrorCode.INTERNAL_SERVER_ERROR),
        ("reset", ErrorCode.TRANSPORT_ERROR),
        ("garbage", ErrorCode.PROTOCOL_ERROR),
        ("slow", ErrorCode.TRANSPORT_ERROR),
    ],
)
@pytest.mark.parametrize("stage", [Stage.LEGACY, Stage.ITEM, Stage.ITEM_VERIFIED])
def test_every_fault_on_every_try_is_reported_never_raised(
    b24_emulator_factory: Factory, kind: str, code: ErrorCode, stage: Stage
) -> None:
    faults = FaultConfig(rate=1.0, seed=3, kinds=(kind,), slow_seconds=1.0)
    portal = b24_emulator_factory(rate=0, faults=faults)
    lead = portal.add_lead()
    # Only the slow answer may time out: a short read timeout for it, a generous one for the
    # others, so that a loaded machine cannot turn a quick 503 into a timeout.
    read_timeout = 0.3 if kind == "slow" else 10.0
    facade = LeadShim(
        portal.admin_webhook,
        stage=stage,
        rate_limit=None,
        retry=FAST_RETRY,
        timeout=(5.0, read_timeout),
    )
    result = facade.delete_lead(lead)
    assert not result.ok
    assert result.error is not None
    if kind == "garbage" and result.error.code is ErrorCode.INTERNAL_SERVER_ERROR:
        pass  # the garbage may be a 502 HTML page: a 5xx without a known code
    else:
        assert result.error.code is code
    # A refusal ran nothing; the other faults may have deleted the lead.
    assert result.outcome is (Outcome.FAILED if kind == "503" else Outcome.UNKNOWN)
    check_truth(portal, [result], [lead])


@pytest.mark.parametrize("stage", [Stage.LEGACY, Stage.ITEM, Stage.LEGACY_VERIFIED])
def test_two_thousand_deletes_with_ten_percent_faults_lose_nothing(
    b24_emulator_factory: Factory, stage: Stage
) -> None:
    faults = FaultConfig(rate=0.10, seed=9, kinds=("503", "500", "reset", "garbage"))
    portal = b24_emulator_factory(rate=0, faults=faults)
    leads = [portal.add_lead() for _ in range(2000)]
    facade = LeadShim(
        portal.admin_webhook,
        stage=stage,
        rate_limit=None,
        retry=RetryPolicy(attempts=6, ambiguous_attempts=6, backoff=0.001, max_backoff=0.01),
    )
    results = list(facade.delete_leads(iter(leads)))
    assert len(results) == 2000
    check_truth(portal, results, leads)
    outcomes = collections.Counter(r.outcome for r in results)
    faulted = collections.Counter(r.fault for r in portal.requests if r.fault)
    assert faulted, "the seed should inject faults"
    # Lost answers were retried and resolved: with six tries, nothing is left unknown here.
    assert outcomes[Outcome.UNKNOWN] == 0
    assert outcomes[Outcome.FAILED] == 0
    assert outcomes[Outcome.DELETED] + outcomes[Outcome.ALREADY_ABSENT] == 2000
    # A batch lost after it ran shows up as ALREADY_ABSENT, never as DELETED twice.
    assert outcomes[Outcome.ALREADY_ABSENT] > 0
    assert len(portal.events) == 2000


def test_without_retries_faults_are_unknown_or_failed_never_success(
    b24_emulator_factory: Factory,
) -> None:
    faults = FaultConfig(rate=0.3, seed=7, kinds=("503", "500", "reset", "garbage"))
    portal = b24_emulator_factory(rate=0, faults=faults)
    leads = [portal.add_lead() for _ in range(500)]
    facade = LeadShim(
        portal.admin_webhook,
        stage="item",
        rate_limit=None,
        retry=RetryPolicy(attempts=1, ambiguous_attempts=1),
    )
    results = list(facade.delete_leads(leads))
    check_truth(portal, results, leads)
    outcomes = collections.Counter(r.outcome for r in results)
    assert outcomes[Outcome.UNKNOWN] > 0
    assert outcomes[Outcome.FAILED] > 0
    assert outcomes[Outcome.ALREADY_ABSENT] == 0
