"""The ``B24SHIM_*`` environment, read into a facade's settings (``from_env`` of each facade)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

from b24shim._not_found import LegacyNotFound
from b24shim.credentials import DEFAULT_TOKEN_URL, Credentials, OAuth, Webhook
from b24shim.differences import DifferenceCallback
from b24shim.errors import ConfigError
from b24shim.flags import StageSource, env_percent, env_switch, parse_stage
from b24shim.limits import RateLimit, RedisLimits, SharedLimits
from b24shim.sinks import DIFFERENCE_LOG_VARIABLE, JsonlDifferenceSink
from b24shim.transport import Timeout

__all__ = ["REDIS_URL_VARIABLE", "Settings", "credentials_from_env", "settings_from_env"]

#: A Redis URL: the limits are shared with every process that names the same Redis.
REDIS_URL_VARIABLE = "B24SHIM_REDIS_URL"


def credentials_from_env(env: Mapping[str, str]) -> Credentials:
    webhook = env.get("B24SHIM_WEBHOOK_URL", "").strip()
    portal = env.get("B24SHIM_PORTAL_URL", "").strip()
    if webhook and portal:
        raise ConfigError(
            "B24SHIM_WEBHOOK_URL",
            "set either B24SHIM_WEBHOOK_URL or B24SHIM_PORTAL_URL + B24SHIM_ACCESS_TOKEN, not both",
        )
    if webhook:
        return Webhook(webhook, setting="B24SHIM_WEBHOOK_URL")
    if not portal:
        raise ConfigError(
            "B24SHIM_WEBHOOK_URL",
            "no portal configured: set B24SHIM_WEBHOOK_URL "
            "(https://<portal>/rest/<user_id>/<code>/), or B24SHIM_PORTAL_URL and "
            "B24SHIM_ACCESS_TOKEN",
        )
    token = env.get("B24SHIM_ACCESS_TOKEN", "").strip()
    if not token:
        raise ConfigError(
            "B24SHIM_ACCESS_TOKEN", "B24SHIM_PORTAL_URL is set, so B24SHIM_ACCESS_TOKEN must be"
        )
    try:
        return OAuth(
            portal,
            token,
            refresh_token=env.get("B24SHIM_REFRESH_TOKEN") or None,
            client_id=env.get("B24SHIM_CLIENT_ID") or None,
            client_secret=env.get("B24SHIM_CLIENT_SECRET") or None,
            token_url=env.get("B24SHIM_TOKEN_URL", "").strip() or DEFAULT_TOKEN_URL,
        )
    except ConfigError as exc:
        name = _OAUTH_VARIABLES.get(exc.setting, "B24SHIM_ACCESS_TOKEN")
        message = exc.message.replace(exc.setting, name)
        for setting, variable in _OAUTH_VARIABLES.items():
            message = message.replace(setting, variable)
        raise ConfigError(name, message) from None


# OAuth's setting names, as they are called in the environment.
_OAUTH_VARIABLES = {
    "portal url": "B24SHIM_PORTAL_URL",
    "token url": "B24SHIM_TOKEN_URL",
    "refresh_token": "B24SHIM_REFRESH_TOKEN",
    "client_id": "B24SHIM_CLIENT_ID",
    "client_secret": "B24SHIM_CLIENT_SECRET",
}


class Settings(TypedDict, total=False):
    """The facade settings the environment gives (keyword arguments of the constructor)."""

    on_difference: DifferenceCallback
    stage: StageSource
    item_percent: int
    kill_switch: bool
    timeout: Timeout
    rate_limit: RateLimit | None
    verify_percent: int
    legacy_not_found: str
    shared: SharedLimits


def settings_from_env(env: Mapping[str, str]) -> Settings:
    settings: Settings = {
        "stage": parse_stage(
            env.get("B24SHIM_LEAD_DELETE_STAGE") or "legacy", setting="B24SHIM_LEAD_DELETE_STAGE"
        )
    }
    if env.get(DIFFERENCE_LOG_VARIABLE, "").strip():
        settings["on_difference"] = JsonlDifferenceSink(environ=env)
    settings["item_percent"] = env_percent(env.get("B24SHIM_ITEM_PERCENT", ""))
    settings["kill_switch"] = env_switch(env.get("B24SHIM_KILL_SWITCH", ""))
    timeout = env.get("B24SHIM_TIMEOUT", "").strip()
    if timeout:
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds < 3600:
            raise ConfigError(
                "B24SHIM_TIMEOUT",
                "B24SHIM_TIMEOUT must be a number of seconds greater than 0 and less than 3600, "
                f"got {timeout[:20]!r}",
            )
        settings["timeout"] = seconds
    if env.get("B24SHIM_VERIFY_PERCENT", "").strip():
        settings["verify_percent"] = env_percent(
            env["B24SHIM_VERIFY_PERCENT"], "B24SHIM_VERIFY_PERCENT"
        )
    if env.get("B24SHIM_LEGACY_NOT_FOUND", "").strip():
        settings["legacy_not_found"] = LegacyNotFound(
            env["B24SHIM_LEGACY_NOT_FOUND"], name="B24SHIM_LEGACY_NOT_FOUND"
        ).setting
    if "B24SHIM_RATE_LIMIT" in env:
        settings["rate_limit"] = RateLimit.parse(
            env["B24SHIM_RATE_LIMIT"], setting="B24SHIM_RATE_LIMIT"
        )
    redis_url = env.get(REDIS_URL_VARIABLE, "").strip()
    if redis_url:
        settings["shared"] = RedisLimits(redis_url, setting=REDIS_URL_VARIABLE)
    return settings
