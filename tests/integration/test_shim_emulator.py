"""The shim against the emulator over real sockets: every stage, error rows, faults, limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from b24shim import (
    ErrorCode,
    LeadShim,
    OAuth,
    Outcome,
    Route,
    Stage,
)
from b24shim.emulator import Emulator, ManualClock
from b24shim.limits import RateLimit
from b24shim.retry import RetryPolicy
from facades import facade_kind, make_facade  # noqa: F401 - facade_kind is a fixture

Factory = Callable[..., Emulator]
FAST_RETRY = RetryPolicy(backoff=0.001, max_backoff=0.01)


pytestmark = pytest.mark.usefixtures("facade_kind")


# Threads share a LeadShim; tasks sharing an AsyncLeadShim: test_async_shim_emulator.py.
threads_share_the_facade = pytest.mark.parametrize("facade_kind", ["requests"], indirect=True)


def shim(webhook: Any, stage: Stage | str = Stage.LEGACY, **kwargs: Any) -> Any:
    kwargs.setdefault("rate_limit", None)
    kwargs.setdefault("retry", FAST_RETRY)
    return make_facade(webhook, stage=stage, **kwargs)


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("form", [int, str, lambda i: f"  {i}\n"], ids=["int", "str", "padded"])
def test_every_stage_deletes_with_one_request_and_the_same_side_effects(
    b24_emulator: Emulator, stage: Stage, form: Callable[[int], object]
) -> None:
    lead = b24_emulator.add_lead({"TITLE": "to delete"})
    b24_emulator.add_activity(lead, {"SUBJECT": "call"})
    b24_emulator.reset_counters()
    result = shim(b24_emulator.admin_webhook, stage).delete_lead(form(lead))
    assert result.ok
    assert result.outcome is Outcome.DELETED
    assert result.lead_id == lead
    assert result.stage is stage
    assert result.route is (Route.ITEM if stage.uses_item else Route.LEGACY)
    assert [d for d in result.differences if d.behavioral] == []
    assert not b24_emulator.lead_exists(lead)
    assert len(b24_emulator.requests) == 1
    assert b24_emulator.events == [
        {
            "event": "ONCRMLEADDELETE",
            "data": {"FIELDS": {"ID": str(lead)}},
            "ts": b24_emulator.events[0]["ts"],
        }
    ]
    (binned,) = b24_emulator.recycle_bin
    assert binned.id == lead
    assert len(binned.activities) == 1
    assert result.to_legacy()[0] == 200
    assert result.to_legacy()[1]["result"] is True


@pytest.mark.parametrize("stage", list(Stage))
@pytest.mark.parametrize("style", ["source", "docs"])
def test_a_missing_lead_is_not_found_on_every_stage(
    b24_emulator_factory: Factory, stage: Stage, style: str
) -> None:
    portal = b24_emulator_factory(rate=0, legacy_not_found=style)
    result = shim(portal.admin_webhook, stage).delete_lead(424242)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.NOT_FOUND
    assert [d for d in result.differences if d.behavioral] == []


@pytest.mark.parametrize("status", [400, 403])
@pytest.mark.parametrize("stage", list(Stage))
def test_the_restricted_user_is_access_denied_on_every_stage(
    b24_emulator_factory: Factory, stage: Stage, status: int
) -> None:
    portal = b24_emulator_factory(rate=0, access_denied_status=status)
    lead = portal.add_lead()
    result = shim(portal.restricted_webhook, stage).delete_lead(lead)
    assert result.outcome is Outcome.FAILED
    assert result.error is not None
    assert result.error.code is ErrorCode.ACCESS_DENIED
    assert result.to_legacy() == (400, {"error": "", "error_description": "Access denied."})
    assert portal.lead_exists(lead)


def test_legacy_verified_proves_the_routes_differ_for_a_restricted_user(
    b24_emulator: Emulator,
) -> None:
    result = shim(b24_emulator.restricted_webhook, "legacy_verified").delete_lead(777)
    assert result.error is not None
    assert result.error.code is ErrorCode.ACCESS_DENIED
    assert [(d.kind, d.legacy, d.item) for d in result.differences] == [
        ("outcome", "denied", "not_found")
    ]


def test_the_extranet_user_is_access_denied(b24_emulator: Emulator) -> None:
    result = shim(b24_emulator.extranet_webhook, "item").delete_lead(b24_emulator.add_lead())
    assert result.error is not None
    assert result.error.code is ErrorCode.ACCESS_DENIED
    assert result.error.raw_code == "allowed_only_intranet_user"


@pytest.mark.parametrize("stage", [Stage.ITEM, Stage.ITEM_VERIFIED])
def test_an_old_portal_falls_back_to_legacy(b24_emulator_factory: Factory, stage: Stage) -> None:
    portal = b24_emulator_factory(rate=0, item_api=False)
    facade = shim(portal.admin_webhook, stage)
    first, second = (facade.delete_lead(portal.add_lead()) for _ in range(2))
    for result in (first, second):
        assert result.outcome is Outcome.DELETED
        assert result.route is Route.LEGACY
        assert [d.kind for d in result.differences] == ["fallback"]
    methods = [r.method for r in portal.requests]
    assert methods.count("crm.lead.delete") == 2
    assert len(methods) == 3  # the item route was tried once, then remembered


def test_a_wrong_webhook_code_is_invalid_credentials(b24_emulator: Emulator) -> None:
    wrong = b24_emulator.admin_webhook.rstrip("/").rsplit("/", 1)[0] + "/not-the-code/"
    result = shim(wrong, "item").delete_lead(1)
    assert result.error is not None
    assert result.error.code is ErrorCode.INVALID_CREDENTIALS
    assert result.error.http_status == 401
    assert "not-the-code" not in repr(result)


def test_https_required(b24_emulator_factory: Factory) -> None:
    portal = b24_emulator_factory(rate=0, require_https=True)
    result = shim(portal.admin_webhook).delete_lead(portal.add_lead())
    assert result.error is not None
    assert result.error.code is ErrorCode.HTTPS_REQUIRED


def test_the_portal_bucket_refusal_is_query_limit_exceeded(b24_emulator_factory: Factory) -> None:
    clock = ManualClock()
    portal = b24_emulator_factory(rate=2, burst=3, clock=clock)
    facade = shim(portal.admin_webhook, "item", retry=RetryPolicy(attempts=1))
    results = [facade.delete_lead(portal.add_lead()) for _ in range(4)]
    assert [r.outcome for r in results] == [Outcome.DELETED] * 3 + [Outcome.FAILED]
    assert results[3].error is not None
    assert results[3].error.code is ErrorCode.QUERY_LIMIT_EXCEEDED
    assert results[3].error.http_status == 503


def test_the_operating_limit_blocks_then_the_pacer_waits_for_the_reset(
    b24_emulator_factory: Factory,
) -> None:
    clock = ManualClock()
    portal = b24_emulator_factory(
        rate=0, clock=clock, operating_limit=10.0, processing_time={"crm.item.delete": 3.0}
    )
    facade = shim(portal.admin_webhook, "item", clock=clock, operating_limit=10.0)
    results = [facade.delete_lead(portal.add_lead()) for _ in range(6)]
    assert all(r.outcome is Outcome.DELETED for r in results)
    assert 429 not in [r.status for r in portal.requests]
    assert facade.transport.pacer.waited > 0  # it waited instead of being blocked
    blocked = shim(portal.admin_webhook, "item", retry=RetryPolicy(attempts=1))
    for _ in range(4):
        last = blocked.delete_lead(portal.add_lead())
    assert last.error is not None
    assert last.error.code is ErrorCode.OPERATION_TIME_LIMIT


@threads_share_the_facade
def test_oauth_expiry_refreshes_through_the_token_endpoint(b24_emulator_factory: Factory) -> None:
    clock = ManualClock()
    portal = b24_emulator_factory(rate=0, clock=clock)
    access, refresh = portal.issue_tokens(user_id=1, expires_in=60)
    saved: list[tuple[str, str]] = []
    credentials = OAuth(
        portal.base_url,
        access,
        refresh,
        portal.client_id,
        portal.client_secret,
        on_refresh=lambda a, r: saved.append((a, r)),
        token_url=portal.token_url,
    )
    facade = shim(credentials, "item", clock=clock)
    assert facade.delete_lead(portal.add_lead()).ok
    clock.advance(61)
    barrier = threading.Barrier(16)
    outcomes: list[Outcome] = []
    leads = [portal.add_lead() for _ in range(16)]

    def worker(lead: int) -> None:
        barrier.wait()
        outcomes.append(facade.delete_lead(lead).outcome)

    threads = [threading.Thread(target=worker, args=(lead,)) for lead in leads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == [Outcome.DELETED] * 16
    assert portal.refresh_count == 1
    assert len(saved) == 1
    assert credentials.refresh_token == saved[0][1] != refresh


@threads_share_the_facade
def test_concurrent_deletes_from_sixteen_threads(b24_emulator: Emulator) -> None:
    facade = shim(b24_emulator.admin_webhook, "item")
    leads = [b24_emulator.add_lead() for _ in range(160)]
    results: dict[int, Outcome] = {}
    lock = threading.Lock()

    def worker(mine: list[int]) -> None:
        for lead in mine:
            outcome = facade.delete_lead(lead).outcome
            with lock:
                results[lead] = outcome

    threads = [threading.Thread(target=worker, args=(leads[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == dict.fromkeys(leads, Outcome.DELETED)
    assert len(b24_emulator.events) == 160
    assert not any(b24_emulator.lead_exists(lead) for lead in leads)


def test_the_client_bucket_never_provokes_a_503_at_default_settings(
    b24_emulator_factory: Factory,
) -> None:
    clock = ManualClock()
    portal = b24_emulator_factory(clock=clock)  # the portal's defaults: 2/s, burst 50
    leads = [portal.add_lead() for _ in range(6000)]
    facade = shim(portal.admin_webhook, "item", clock=clock, rate_limit=RateLimit.STANDARD)
    started = clock.time()
    singles = [facade.delete_lead(lead).outcome for lead in leads[:60]]
    bulk = [r.outcome for r in facade.delete_leads(leads[60:])]
    assert singles + bulk == [Outcome.DELETED] * 6000
    statuses = [r.status for r in portal.requests]
    assert 503 not in statuses
    assert len(statuses) == 60 + 119  # ceil(5940 / 50) batches
    # And it was not slower than the bucket requires: (179 - 50) / 2 s of portal time.
    assert clock.time() - started == pytest.approx((179 - 50) / 2, abs=1.0)


@threads_share_the_facade
def test_threads_share_one_bucket(b24_emulator_factory: Factory) -> None:
    clock = ManualClock()
    portal = b24_emulator_factory(clock=clock)
    facade = LeadShim(portal.admin_webhook, stage="item", clock=clock)
    leads = [portal.add_lead() for _ in range(128)]
    threads = [
        threading.Thread(
            target=lambda mine: [facade.delete_lead(x) for x in mine], args=(leads[i::16],)
        )
        for i in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert 503 not in [r.status for r in portal.requests]
    assert not any(portal.lead_exists(lead) for lead in leads)
