"""Evidence against the emulator: bulk checks find what single checks find, sampling, not-found.

Twin portals hold the same leads; one job deletes them one by one, the other in bulk, and the
two must record the same kinds of difference for the same leads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from b24shim import ConfigError, Difference, LeadShim, Stage
from b24shim.emulator import Emulator, ManualClock
from b24shim.flags import verify_bucket_of
from b24shim.retry import NO_RETRY
from b24shim.sinks import JsonlDifferenceSink
from facades import facade_kind, make_facade  # noqa: F401 - facade_kind is a fixture

Factory = Callable[..., Emulator]
MISSING = [990_001, 990_002]


def webhook_of(portal: Emulator, user: str) -> str:
    return {
        "admin": portal.admin_webhook,
        "restricted": portal.restricted_webhook,
        "extranet": portal.extranet_webhook,
    }[user]


# Every test here runs over both front ends of the one engine (LeadShim, AsyncLeadShim).
pytestmark = pytest.mark.usefixtures("facade_kind")


def shim_for(portal: Emulator, user: str, stage: Stage, **kwargs: Any) -> Any:
    return make_facade(
        webhook_of(portal, user), stage=stage, rate_limit=None, retry=NO_RETRY, **kwargs
    )


def kinds(differences: list[Difference]) -> set[tuple[int, str]]:
    return {(d.lead_id, d.kind) for d in differences}


@pytest.mark.parametrize("stage", [Stage.LEGACY_VERIFIED, Stage.ITEM_VERIFIED])
@pytest.mark.parametrize(
    ("user", "requests"),
    [
        ("admin", 2),  # the missing leads' deletes failed: their gets explain the lists
        ("restricted", 2),  # may read, may not delete: every delete failed
        ("extranet", 1),  # may not read leads: the lists are refused, which explains them
    ],
)
def test_bulk_verification_finds_the_same_kinds_as_single_verification(
    b24_emulator_factory: Factory, user: str, requests: int, stage: Stage
) -> None:
    single_portal, bulk_portal = (
        b24_emulator_factory(rate=0, clock=ManualClock()) for _ in range(2)
    )
    leads = [single_portal.add_lead({"TITLE": f"lead {n}"}) for n in range(5)]
    assert leads == [bulk_portal.add_lead({"TITLE": f"lead {n}"}) for n in range(5)]
    ids = leads + MISSING

    single: list[Difference] = []
    one = shim_for(single_portal, user, stage, on_difference=single.append)
    single_results = [one.delete_lead(i) for i in ids]

    bulk: list[Difference] = []
    many = shim_for(bulk_portal, user, stage, on_difference=bulk.append)
    bulk_portal.reset_counters()
    bulk_results = list(many.delete_leads(ids))

    assert kinds(bulk) == kinds(single)
    assert [r.outcome for r in bulk_results] == [r.outcome for r in single_results]
    batches = [r for r in bulk_portal.requests if r.method == "batch"]
    # One batch for the chunk, and one batch of gets only when a delete in it failed.
    assert len(batches) == requests
    if requests == 2:
        gets = list(batches[1].params["cmd"].values())
        assert 0 < len(gets) <= 50
        assert all(".get?" in command for command in gets)


def test_a_missing_lead_deleted_by_a_restricted_user_shows_outcome_only_at_legacy_verified(
    b24_emulator: Emulator,
) -> None:
    # Legacy checks the delete right before existence ('Access denied.'), the item route
    # existence first (NOT_FOUND): only the stage that runs the legacy delete sees it.
    seen: dict[Stage, list[Difference]] = {}
    for stage in (Stage.LEGACY_VERIFIED, Stage.ITEM_VERIFIED):
        seen[stage] = []
        shim = shim_for(b24_emulator, "restricted", stage, on_difference=seen[stage].append)
        list(shim.delete_leads(MISSING))
    assert {d.kind for d in seen[Stage.LEGACY_VERIFIED]} == {"outcome"}
    assert "outcome" not in {d.kind for d in seen[Stage.ITEM_VERIFIED]}


def test_verify_percent_samples_the_checks_and_the_log_says_which_ran(
    b24_emulator_factory: Factory, tmp_path: Path
) -> None:
    portal = b24_emulator_factory(rate=0)
    leads = [portal.add_lead() for _ in range(120)]
    path = tmp_path / "evidence.jsonl"
    with JsonlDifferenceSink(path) as sink:
        shim = shim_for(portal, "admin", Stage.ITEM_VERIFIED, verify_percent=10, on_difference=sink)
        results = list(shim.delete_leads(leads))
    assert all(r.ok for r in results)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    verified = {r["lead_id"] for r in records if r["record"] == "delete" and r["verified"]}
    assert verified == {lead for lead in leads if verify_bucket_of(lead) < 10}
    assert 0 < len(verified) < 40
    # Only the sampled leads were read: the others are plain item deletes.
    listed = [
        r for r in portal.requests if r.method == "batch" and "lead_before" in r.params["cmd"]
    ]
    read = {
        int(value)
        for r in listed
        for values in parse_qs(r.params["cmd"]["lead_before"].partition("?")[2]).values()
        for value in values
        if value.isdigit()
    }
    assert read == verified


@pytest.mark.parametrize(("setting", "shown"), [("docs", ""), ("core", "ERROR_CORE")])
def test_an_explicit_not_found_setting_wins_over_what_the_portal_answers(
    b24_emulator_factory: Factory, setting: str, shown: str
) -> None:
    portal = b24_emulator_factory(legacy_not_found="source" if setting == "docs" else "docs")
    flag = {"stage": Stage.LEGACY}
    shim = shim_for(portal, "admin", lambda _lead: flag["stage"], legacy_not_found=setting)
    shim.delete_lead(990_001)  # the portal's own, other form
    flag["stage"] = Stage.ITEM
    status, body = shim.delete_lead(990_002).to_legacy()
    assert (status, body["error"]) == (400, shown)


def test_auto_learns_the_portals_form_from_a_legacy_answer(
    b24_emulator_factory: Factory,
) -> None:
    portal = b24_emulator_factory(legacy_not_found="docs")
    flag = {"stage": Stage.ITEM}
    shim = shim_for(portal, "admin", lambda _lead: flag["stage"])
    assert shim.delete_lead(990_001).to_legacy()[1]["error"] == "ERROR_CORE"  # assumed
    flag["stage"] = Stage.LEGACY_VERIFIED
    legacy = shim.delete_lead(990_002).to_legacy()
    flag["stage"] = Stage.ITEM
    assert (
        shim.delete_lead(990_003).to_legacy()
        == legacy
        == (
            400,
            {"error": "", "error_description": "Not found"},
        )
    )


def test_the_settings_come_from_the_environment(b24_emulator: Emulator) -> None:
    env = {"B24SHIM_WEBHOOK_URL": b24_emulator.admin_webhook}
    shim = LeadShim.from_env(
        {**env, "B24SHIM_VERIFY_PERCENT": "25", "B24SHIM_LEGACY_NOT_FOUND": "Docs"}
    )
    assert (shim.verify_percent, shim.legacy_not_found) == (25, "docs")
    assert (LeadShim.from_env(env).verify_percent, LeadShim.from_env(env).legacy_not_found) == (
        100,
        "auto",
    )
    with pytest.raises(ConfigError, match=r"B24SHIM_VERIFY_PERCENT must be an integer 0\.\.100"):
        LeadShim.from_env({**env, "B24SHIM_VERIFY_PERCENT": "150"})
    with pytest.raises(
        ConfigError, match="B24SHIM_LEGACY_NOT_FOUND must be one of auto, docs or core"
    ):
        LeadShim.from_env({**env, "B24SHIM_LEGACY_NOT_FOUND": "source"})
    with pytest.raises(ConfigError, match=r"verify_percent must be an integer 0\.\.100"):
        LeadShim(b24_emulator.admin_webhook, verify_percent=True)  # type: ignore[arg-type]
