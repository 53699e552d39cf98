"""LeadShim.from_env and the module-level delete_lead: validated at start-up."""

from __future__ import annotations

import json
import re
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
import responses

import b24shim
from b24shim import ConfigError, LeadShim, OAuth, Stage, Webhook
from b24shim._variables import KNOWN
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
        (
            {"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_TIMEOUT": "7200"},
            "B24SHIM_TIMEOUT",
            "greater than 0 and less than 3600, got '7200'",
        ),
        (
            {"B24SHIM_WEBHOOK_URL": f"https://portal.example.com/rest/7/{WEBHOOK_CODE} x/"},
            "B24SHIM_WEBHOOK_URL",
            "the code in B24SHIM_WEBHOOK_URL must be letters and digits",
        ),
        (
            {
                "B24SHIM_PORTAL_URL": "https://p.example.com",
                "B24SHIM_ACCESS_TOKEN": "t0k3n-xyz",
                "B24SHIM_REFRESH_TOKEN": "t0k3n-xyz-refresh",
            },
            "B24SHIM_REFRESH_TOKEN",
            "B24SHIM_REFRESH_TOKEN is of no use without B24SHIM_CLIENT_ID and "
            "B24SHIM_CLIENT_SECRET",
        ),
        (
            {
                "B24SHIM_PORTAL_URL": "https://p.example.com",
                "B24SHIM_ACCESS_TOKEN": "t0k3n-xyz",
                "B24SHIM_REFRESH_TOKEN": "t0k3n-xyz-refresh",
                "B24SHIM_CLIENT_ID": "app.1",
            },
            "B24SHIM_REFRESH_TOKEN",
            "missing: B24SHIM_CLIENT_SECRET",
        ),
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


@pytest.mark.parametrize("code", ["s3cr3t code", "s3cr3t\tcode", "s3cr3t%20code", "s3cr3t'"])
def test_a_webhook_code_with_a_space_or_other_junk_is_refused_without_showing_it(
    code: str,
) -> None:
    with pytest.raises(ConfigError) as info:
        Webhook(f"https://portal.example.com/rest/7/{code}/")
    assert "letters and digits" in str(info.value)
    assert "s3cr3t" not in str(info.value)


def test_a_refresh_token_without_the_client_is_refused_at_start_up() -> None:
    with pytest.raises(ConfigError) as info:
        OAuth("https://portal.example.com", "acc-1", "ref-1")
    assert info.value.setting == "refresh_token"
    assert "missing: client_id, client_secret" in str(info.value)
    assert "ref-1" not in str(info.value)
    # Without a refresh token the token is simply used until it expires.
    assert not OAuth("https://portal.example.com", "acc-1").can_refresh


@pytest.mark.parametrize(
    ("name", "meant"),
    [
        ("B24SHIM_STAGE", "B24SHIM_LEAD_DELETE_STAGE"),
        ("B24SHIM_LEAD_STAGE", "B24SHIM_LEAD_DELETE_STAGE"),
        ("B24SHIM_KILLSWITCH", "B24SHIM_KILL_SWITCH"),
        ("B24SHIM_ITEM_PERCENTAGE", "B24SHIM_ITEM_PERCENT"),
        ("B24SHIM_WEBHOOK", "B24SHIM_WEBHOOK_URL"),
        ("b24shim_webhook_url", "B24SHIM_WEBHOOK_URL"),
        ("B24SHIM_DIFF_LOG", "B24SHIM_DIFFERENCE_LOG"),
        ("B24SHIM_RATELIMIT", "B24SHIM_RATE_LIMIT"),
    ],
)
def test_an_unknown_variable_warns_naming_the_closest_real_one(name: str, meant: str) -> None:
    env = {"B24SHIM_WEBHOOK_URL": WEBHOOK, name: "item"}
    with pytest.warns(b24shim.B24ShimWarning) as record:
        shim = LeadShim.from_env(env)
    assert shim.stage is Stage.LEGACY  # ignored, as the warning says
    (warning,) = record
    assert str(warning.message) == (
        f"{name} is not a b24shim setting and is ignored; did you mean {meant}?"
    )
    assert warning.filename == __file__  # points at the caller of from_env


def test_an_unknown_variable_with_no_close_name_lists_the_real_ones() -> None:
    with pytest.warns(b24shim.B24ShimWarning, match="B24SHIM_XYZ is not a b24shim setting") as r:
        LeadShim.from_env({"B24SHIM_WEBHOOK_URL": WEBHOOK, "B24SHIM_XYZ": "1"})
    assert "B24SHIM_LEAD_DELETE_STAGE, " in str(r[0].message)


def test_every_real_variable_is_known_including_those_other_modules_add() -> None:
    env = dict.fromkeys(KNOWN, "")
    env["B24SHIM_WEBHOOK_URL"] = WEBHOOK
    env["OTHER_APP_STAGE"] = "x"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LeadShim.from_env(env)
    assert {
        "B24SHIM_VERIFY_PERCENT",
        "B24SHIM_LEGACY_NOT_FOUND",
        "B24SHIM_REDIS_URL",
    } <= KNOWN


def test_every_variable_named_in_the_source_is_in_the_one_list() -> None:
    source = Path(b24shim.__file__).parent
    named = {
        match
        for path in source.rglob("*.py")
        for match in re.findall(r"B24SHIM_[A-Z_]*[A-Z]", path.read_text(encoding="utf-8"))
    }
    assert named
    assert named <= KNOWN
