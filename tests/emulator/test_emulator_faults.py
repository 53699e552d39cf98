"""Fault injection: reproducible for a seed, each kind as documented."""

from __future__ import annotations

import pytest
import requests

from b24shim.emulator import Emulator, FaultConfig


def _sequence(portal: Emulator, count: int) -> list[tuple[int | str, str | None]]:
    seen: list[tuple[int | str, str | None]] = []
    with requests.Session() as http:
        for _ in range(count):
            try:
                response = http.post(portal.admin_webhook + "crm.lead.add", json={}, timeout=10)
                seen.append((response.status_code, response.text[:1]))
            except requests.ConnectionError:
                seen.append(("reset", None))
    return seen


def test_faults_are_reproducible_for_a_seed(make_portal):
    config = FaultConfig(rate=0.5, seed=7, slow_seconds=0.0)
    first, second = make_portal(faults=config), make_portal(faults=config)
    assert _sequence(first, 40) == _sequence(second, 40)
    faults = [record.fault for record in first.requests]
    assert faults == [record.fault for record in second.requests]
    assert {"503", "500", "reset", "slow", "garbage"} <= set(faults)
    assert None in faults
    other = make_portal(faults=FaultConfig(rate=0.5, seed=8, slow_seconds=0.0))
    _sequence(other, 40)
    assert [record.fault for record in other.requests] != faults


def test_503_fault_does_not_run_the_method(make_portal, call):
    portal = make_portal(faults=FaultConfig(rate=1, kinds=("503",)))
    lead_id = portal.add_lead()
    response = call(portal.admin_webhook, "crm.lead.delete", json={"id": lead_id})
    assert (response.status_code, response.json()) == (
        503,
        {"error": "QUERY_LIMIT_EXCEEDED", "error_description": "Too many requests"},
    )
    assert portal.lead_exists(lead_id)
    assert (portal.requests[-1].status, portal.requests[-1].fault) == (503, "503")


def test_500_fault_may_or_may_not_run_the_method(make_portal, call):
    portal = make_portal(faults=FaultConfig(rate=1, seed=3, kinds=("500",)))
    lead_ids = [portal.add_lead() for _ in range(20)]
    for lead_id in lead_ids:
        response = call(portal.admin_webhook, "crm.lead.delete", json={"id": lead_id})
        assert (response.status_code, response.json()) == (
            500,
            {"error": "INTERNAL_SERVER_ERROR", "error_description": "Internal server error"},
        )
    deleted = [lead_id for lead_id in lead_ids if not portal.lead_exists(lead_id)]
    assert 0 < len(deleted) < 20
    assert len(portal.events) == len(deleted)


def test_reset_fault_drops_the_connection(make_portal, session):
    portal = make_portal(faults=FaultConfig(rate=1, seed=1, kinds=("reset",)))
    lead_ids = [portal.add_lead() for _ in range(10)]
    for lead_id in lead_ids:
        with pytest.raises(requests.ConnectionError):
            session.post(portal.admin_webhook + "crm.lead.delete", json={"id": lead_id}, timeout=10)
    assert [record.status for record in portal.requests] == [0] * 10
    assert {record.fault for record in portal.requests} == {"reset"}
    assert 0 < sum(not portal.lead_exists(lead_id) for lead_id in lead_ids) < 10


def test_slow_fault_delays_a_real_answer(make_portal, call):
    portal = make_portal(faults=FaultConfig(rate=1, kinds=("slow",), slow_seconds=0.01))
    lead_id = portal.add_lead()
    response = call(portal.admin_webhook, "crm.lead.delete", json={"id": lead_id})
    assert response.json()["result"] is True
    assert portal.requests[-1].fault == "slow"


def test_garbage_fault_answers_200_with_a_non_json_body(make_portal, call):
    portal = make_portal(faults=FaultConfig(rate=1, seed=2, kinds=("garbage",)))
    lead_ids = [portal.add_lead() for _ in range(10)]
    bodies = []
    for lead_id in lead_ids:
        response = call(portal.admin_webhook, "crm.lead.delete", json={"id": lead_id})
        assert response.status_code == 200
        with pytest.raises(requests.JSONDecodeError):
            response.json()
        bodies.append(response.text[:1])
    assert set(bodies) == {"{", "<"}
    assert not any(portal.lead_exists(lead_id) for lead_id in lead_ids)


def test_token_endpoint_is_never_faulted(make_portal, session):
    portal = make_portal(faults=FaultConfig(rate=1, kinds=("500",)))
    _, refresh = portal.issue_tokens()
    response = session.get(
        portal.token_url,
        params={
            "grant_type": "refresh_token",
            "client_id": portal.client_id,
            "client_secret": portal.client_secret,
            "refresh_token": refresh,
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert portal.requests == []


def test_faults_switch_on_and_off_while_running(portal: Emulator, call):
    portal.faults = FaultConfig(rate=1, kinds=("503",))
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 503
    portal.faults = None
    assert call(portal.admin_webhook, "crm.lead.list").status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": 1.5}, "rate must be a number from 0 to 1"),
        ({"rate": -0.1}, "rate must be a number from 0 to 1"),
        ({"rate": "0.5"}, "rate must be a number from 0 to 1"),
        ({"rate": 0.5, "kinds": ("boom",)}, "unknown kind"),
        ({"rate": 0.5, "kinds": ()}, "at least one"),
        ({"rate": 0.5, "slow_seconds": -1}, "slow_seconds"),
        ({"rate": 0.5, "seed": "x"}, "seed must be an integer"),
    ],
)
def test_fault_config_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        FaultConfig(**kwargs)


def test_fault_config_accepts_a_list_of_kinds():
    assert FaultConfig(rate=0.1, kinds=["500", "reset"]).kinds == ("500", "reset")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate": -1}, "rate"),
        ({"burst": 0}, "burst"),
        ({"operating_limit": 0}, "operating_limit"),
        ({"processing_time": -1}, "processing_time"),
        ({"processing_time": {"crm.lead.get": "x"}}, "processing_time"),
        ({"access_denied_status": 401}, "access_denied_status"),
        ({"language": "de"}, "language"),
        ({"item_api": "no"}, "item_api"),
        ({"faults": 0.5}, "faults"),
        ({"port": 70000}, "port"),
        ({"clock": object()}, "clock"),
    ],
)
def test_emulator_settings_validation(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Emulator(**kwargs)
