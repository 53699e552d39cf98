"""Starting and stopping the emulator, direct store access, and the manual clock."""

from __future__ import annotations

import threading

import pytest
import requests

from b24shim.emulator import Emulator, ManualClock


def test_not_running_has_no_url():
    portal = Emulator()
    assert not portal.running
    with pytest.raises(RuntimeError, match="not running"):
        _ = portal.base_url
    assert repr(portal) == "<Emulator not running>"


def test_start_stop_restart():
    portal = Emulator(rate=0)
    lead_id = portal.add_lead()  # the store works without a server
    with portal:
        with pytest.raises(RuntimeError, match="already running"):
            portal.start()
        url = portal.admin_webhook
        with requests.Session() as http:
            assert http.post(url + "crm.lead.get", json={"id": lead_id}, timeout=10).ok
    assert not portal.running
    portal.stop()  # idempotent
    with pytest.raises(requests.ConnectionError), requests.Session() as http:
        http.post(url + "crm.lead.get", json={"id": lead_id}, timeout=10)
    with portal, requests.Session() as http:
        assert http.post(portal.admin_webhook + "crm.lead.get", json={"id": lead_id}).ok


def test_stop_closes_idle_keep_alive_connections():
    portal = Emulator(rate=0).start()
    http = requests.Session()
    try:
        url = portal.admin_webhook
        assert http.post(url + "crm.lead.list", timeout=10).ok
        portal.stop()
        with pytest.raises(requests.ConnectionError):
            http.post(url + "crm.lead.list", timeout=10)
    finally:
        http.close()
        portal.stop()


def test_add_item_validates_the_type(portal: Emulator):
    with pytest.raises(ValueError, match="entity_type_id"):
        portal.add_item(7, {})
    assert portal.add_item(3, {"NAME": "c"}) == 1
    assert portal.add_lead() == 1  # ids are per entity type
    assert portal.lead_exists(1)
    assert not portal.lead_exists(2)


def test_manual_clock():
    clock = ManualClock(start=100.0)
    assert clock.time() == 100.0
    clock.advance(1.5)
    clock.sleep(2)
    assert clock.time() == 103.5
    with pytest.raises(ValueError, match="forward"):
        clock.advance(-1)
    threads = [
        threading.Thread(target=lambda: [clock.advance(1) for _ in range(100)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.time() == 503.5
