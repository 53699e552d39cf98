"""LeadShim.from_env and the module-level delete_lead: validated at start-up."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import responses

import b24shim
from b24shim import ConfigError, LeadShim, OAuth, Stage, Webhook
from conftest import WEBHOOK, WEBHOOK_CODE


def test_from_env_with_a_webhook() -> None:
    shim = LeadShim.from_env(
        {
            "B24SHIM_WEBHOOK_URL": WEBHOOK,
            "B24SHIM_LEAD_DELETE_STAGE": "item_verified",
            "B24SHIM_ITEM_PERCENT": "25",
            "B24SHIM_KILL_SWITCH": "off",
        }
    )
    assert isinstance(shim.transport.credentials, Webhook)
    assert shim.stage is Stage.ITEM_VERIFIED
    assert shim.item_percent == 25
    assert shim.kill_switch is False


def test_from_env_defaults() -> None:
    shim = LeadShim.from_env({"B24SHIM_WEBHOOK_URL": WEBHOOK})
    assert (shim.stage, shim.item_percent, shim.kill_switch) == (Stage.LEGACY, 100, False)


@pytest.mark.parametrize("value", ["1", "true", "YES", "on", " On "])
def test_kill_switch_values(value: str) -> None:
    env = {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_KILL_SWITCH": value}
    assert LeadShim.from_env(env).kill_switch is True


def test_from_env_with_oauth() -> None:
    shim = LeadShim.from_env(
        {
            "B24SHIM_PORTAL_URL": "https://portal.example.com",
            "B24SHIM_ACCESS_TOKEN": "acc-123456",
            "B24SHIM_REFRESH_TOKEN": "ref-123456",
            "B24SHIM_CLIENT_ID": "app.1",
            "B24SHIM_CLIENT_SECRET": "shh-123456",
            "B24SHIM_TOKEN_URL": "http://127.0.0.1:9/oauth/token/",
        }
    )
    credentials = shim.transport.credentials
    assert isinstance(credentials, OAuth)
    assert credentials.can_refresh
    assert credentials.token_url == "http://127.0.0.1:9/oauth/token/"


@pytest.mark.parametrize(
    ("env", "setting", "message"),
    [
        ({}, "B24SHIM_WEBHOOK_URL", "no portal configured"),
        (
            {"B24SHIM_WEBHOOK_URL": "http://portal.example.com/rest/1/" + WEBHOOK_CODE + "/"},
            "B24SHIM_WEBHOOK_URL",
            "https",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": "https://portal.example.com/" + WEBHOOK_CODE},
            "B24SHIM_WEBHOOK_URL",
            "must look like",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_PORTAL_URL": "https://p.example.com"},
            "B24SHIM_WEBHOOK_URL",
            "not both",
        ),
        ({"B24SHIM_PORTAL_URL": "https://p.example.com"}, "B24SHIM_ACCESS_TOKEN", "must be"),
        (
            {"B24SHIM_PORTAL_URL": "http://p.example.com", "B24SHIM_ACCESS_TOKEN": "t0k3n-xyz"},
            "B24SHIM_PORTAL_URL",
            "https",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_LEAD_DELETE_STAGE": "itme"},
            "B24SHIM_LEAD_DELETE_STAGE",
            "legacy, legacy_verified, item_verified, item",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_ITEM_PERCENT": "150"},
            "B24SHIM_ITEM_PERCENT",
            "must be an integer 0..100, got '150'",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_ITEM_PERCENT": "-5"},
            "B24SHIM_ITEM_PERCENT",
            "0..100",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_ITEM_PERCENT": "5%"},
            "B24SHIM_ITEM_PERCENT",
            "0..100",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_KILL_SWITCH": "maybe"},
            "B24SHIM_KILL_SWITCH",
            "1/true/yes/on",
        ),
        ({"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_TIMEOUT": "soon"}, "B24SHIM_TIMEOUT", "seconds"),
    ],
)
def test_bad_environments_fail_at_start_up(env: dict[str, str], setting: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        LeadShim.from_env(env)
    assert info.value.setting == setting
    assert message in str(info.value)
    assert WEBHOOK_CODE not in str(info.value)
    assert "t0k3n-xyz" not in str(info.value)


def test_module_level_delete_lead_builds_one_shim_for_all_threads(
    monkeypatch: pytest.MonkeyPatch, portal: responses.RequestsMock
) -> None:
    monkeypatch.setenv("B24SHIM_WEBHOOK_URL", WEBHOOK)
    monkeypatch.setenv("B24SHIM_LEAD_DELETE_STAGE", "item")
    portal.post(WEBHOOK + "crm.item.delete.json", json={"result": []})
    built: list[LeadShim] = []
    original = LeadShim.from_env.__func__  # type: ignore[attr-defined]

    def counting(cls: type[LeadShim], environ: object = None) -> LeadShim:
        shim = original(cls, environ)
        built.append(shim)
        return shim

    monkeypatch.setattr(LeadShim, "from_env", classmethod(counting))
    results: list[b24shim.DeleteResult] = []
    threads = [
        threading.Thread(target=lambda: results.append(b24shim.delete_lead(9))) for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1
    assert len(results) == 16
    assert all(r.ok for r in results)


def test_from_env_appends_differences_to_the_difference_log(
    portal: responses.RequestsMock, tmp_path: Any
) -> None:
    log = tmp_path / "differences.jsonl"
    portal.post(WEBHOOK + "crm.item.delete.json", json={"result": []})
    shim = LeadShim.from_env(
        {
            "B24SHIM_WEBHOOK_URL": WEBHOOK,
            "B24SHIM_LEAD_DELETE_STAGE": "item",
            "B24SHIM_DIFFERENCE_LOG": str(log),
        }
    )
    shim.delete_lead(5)
    difference, delete = (json.loads(line) for line in log.read_text().splitlines())
    assert (difference["record"], difference["kind"], difference["lead_id"]) == (
        "difference",
        "result_shape",
        5,
    )
    assert (delete["record"], delete["lead_id"], delete["outcome"]) == ("delete", 5, "deleted")


def test_an_unwritable_difference_log_fails_at_start_up(tmp_path: Any) -> None:
    with pytest.raises(ConfigError) as info:
        LeadShim.from_env(
            {
                "B24SHIM_WEBHOOK_URL": WEBHOOK,
                "B24SHIM_DIFFERENCE_LOG": str(tmp_path / "no" / "such" / "dir.jsonl"),
            }
        )
    assert info.value.setting == "B24SHIM_DIFFERENCE_LOG"


def test_module_level_delete_lead_without_configuration_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("B24SHIM_WEBHOOK_URL", "B24SHIM_PORTAL_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match="no portal configured"):
        b24shim.delete_lead(5)
