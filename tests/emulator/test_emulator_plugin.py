"""The pytest plugin's fixtures (loaded through the `pytest11` entry point)."""

from __future__ import annotations

import requests

from b24shim.emulator import Emulator


def test_b24_emulator_fixture(b24_emulator: Emulator):
    assert b24_emulator.running
    with requests.Session() as http:
        for _ in range(60):  # rate=0: no leaky bucket
            assert http.post(b24_emulator.admin_webhook + "crm.lead.list", timeout=10).ok


def test_b24_emulator_factory_fixture(b24_emulator_factory):
    old = b24_emulator_factory(item_api=False, rate=0)
    new = b24_emulator_factory()
    assert old.running
    assert new.running
    assert old.base_url != new.base_url
    assert not old.item_api
    assert new.rate == 2.0


def test_b24_emulator_tls_fixture_and_its_ca_bundle(b24_emulator_tls: Emulator, b24_ca_bundle):
    assert b24_emulator_tls.admin_webhook.startswith("https://")
    assert b24_ca_bundle == b24_emulator_tls.ca_bundle
    with requests.Session() as http:
        answer = http.post(
            b24_emulator_tls.admin_webhook + "crm.lead.list", verify=b24_ca_bundle, timeout=10
        )
    assert answer.json()["total"] == 0
