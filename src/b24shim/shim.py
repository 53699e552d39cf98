"""The facade: ``LeadShim.delete_lead`` routes each delete by stage and normalizes the answer.

Data flows one way: flag (:mod:`b24shim.flags`) -> route (:mod:`b24shim.routes`) -> transport
(:mod:`b24shim.transport`) -> normalize (:mod:`b24shim.result`), with differences found in
:mod:`b24shim.differences`.
"""

from __future__ import annotations

import os
import sys
import threading
import warnings
from collections.abc import Mapping
from typing import TypedDict

import cachetools
import requests

from b24shim._envelope import Reply
from b24shim.codes import ErrorCode
from b24shim.credentials import DEFAULT_TOKEN_URL, Credentials, OAuth, Webhook
from b24shim.differences import (
    DifferenceCallback,
    DifferenceReporter,
    fallback_difference,
    shape_differences,
    verification_differences,
)
from b24shim.errors import ConfigError, LegacyRouteWarning
from b24shim.flags import Stage, StagePolicy, StageSource, parse_stage
from b24shim.ids import parse_lead_id
from b24shim.result import DeleteResult, Difference, Route
from b24shim.routes import ITEM, LEGACY, LeadRoute
from b24shim.transport import DEFAULT_TIMEOUT, Timeout, Transport

__all__ = ["DEFAULT_FALLBACK_TTL", "LeadShim", "delete_lead"]

#: Seconds a portal without crm.item.* is remembered as such.
DEFAULT_FALLBACK_TTL = 600.0

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")

_legacy_warned = False
_legacy_warned_lock = threading.Lock()


def _user_stacklevel() -> int:
    """The ``stacklevel`` that points a warning at the first frame outside b24shim."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        name = str(frame.f_globals.get("__name__", ""))
        if name != "b24shim" and not name.startswith("b24shim."):
            break
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


def _warn_legacy_once() -> None:
    global _legacy_warned  # noqa: PLW0603 - once per process, by design
    with _legacy_warned_lock:
        if _legacy_warned:
            return
        _legacy_warned = True
    warnings.warn(
        "crm.lead.delete is deprecated by Bitrix24 (development stopped); its replacement is "
        "crm.item.delete with entityTypeId=1. Move through the stages legacy_verified, "
        "item_verified, item (B24SHIM_LEAD_DELETE_STAGE; see MIGRATION.md).",
        LegacyRouteWarning,
        stacklevel=_user_stacklevel(),
    )


class LeadShim:
    """Deletes leads through ``crm.lead.delete`` or ``crm.item.delete``, by stage.

    Args:
        credentials: a :class:`~b24shim.Webhook`, an :class:`~b24shim.OAuth`, or a webhook
            URL string.
        stage: a :class:`~b24shim.Stage`, its string, or a flag provider
            ``(lead_id) -> Stage | str`` evaluated per delete.
        item_percent: 0..100, the share of leads (by a fixed crc32 bucket) that take the item
            route at the item stages.
        kill_switch: send every delete through ``crm.lead.delete``, whatever the stage.
        session: the ``requests.Session`` to send with (one is made when None).
        timeout: seconds, or ``(connect, read)``.
        on_difference: called with each :class:`~b24shim.Difference` found; its exceptions are
            logged, never raised.
        fallback_ttl: seconds a portal that lacks ``crm.item.*`` is remembered as such.

    Raises:
        ConfigError: a bad setting, naming it and the allowed values.
    """

    def __init__(
        self,
        credentials: Credentials | str,
        *,
        stage: StageSource = Stage.LEGACY,
        item_percent: int = 100,
        kill_switch: bool = False,
        session: requests.Session | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        on_difference: DifferenceCallback | None = None,
        fallback_ttl: float = DEFAULT_FALLBACK_TTL,
    ) -> None:
        if isinstance(credentials, str):
            credentials = Webhook(credentials)
        if not isinstance(credentials, (Webhook, OAuth)):
            raise ConfigError(
                "credentials",
                f"credentials must be a Webhook, an OAuth or a webhook URL, "
                f"got {type(credentials).__name__}",
            )
        if not isinstance(kill_switch, bool):
            raise ConfigError("kill_switch", f"kill_switch must be a bool, got {kill_switch!r}")
        self.policy = StagePolicy(stage, item_percent, kill_switch)
        self.transport = Transport(credentials, session=session, timeout=timeout)
        self._reporter = DifferenceReporter(on_difference)
        self._item_missing: cachetools.TTLCache[str, bool] = cachetools.TTLCache(
            maxsize=64, ttl=fallback_ttl
        )
        self._item_missing_lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LeadShim:
        """Build a shim from ``B24SHIM_*`` environment variables (see MIGRATION.md).

        Credentials: ``B24SHIM_WEBHOOK_URL``, or ``B24SHIM_PORTAL_URL`` +
        ``B24SHIM_ACCESS_TOKEN`` (+ ``B24SHIM_REFRESH_TOKEN``, ``B24SHIM_CLIENT_ID``,
        ``B24SHIM_CLIENT_SECRET``, ``B24SHIM_TOKEN_URL``). Rollout:
        ``B24SHIM_LEAD_DELETE_STAGE`` (default ``legacy``), ``B24SHIM_ITEM_PERCENT`` (default
        100), ``B24SHIM_KILL_SWITCH`` (``1/true/yes/on``). ``B24SHIM_TIMEOUT`` (seconds).

        Raises:
            ConfigError: at once, for any missing or bad value; never echoing a secret.
        """
        env = dict(os.environ if environ is None else environ)
        return cls(_credentials_from_env(env), **_settings_from_env(env))

    @property
    def stage(self) -> StageSource:
        """The configured stage or flag provider."""
        return self.policy.stage

    @property
    def item_percent(self) -> int:
        """The share of leads, 0..100, that take the item route at the item stages."""
        return self.policy.item_percent

    @property
    def kill_switch(self) -> bool:
        """True when every delete goes through ``crm.lead.delete``."""
        return self.policy.kill_switch

    def __repr__(self) -> str:
        stage = self.stage.value if isinstance(self.stage, Stage) else "<flag provider>"
        return (
            f"LeadShim({self.transport.credentials!r}, stage={stage!r}, "
            f"item_percent={self.item_percent}, kill_switch={self.kill_switch})"
        )

    def stage_for(self, lead_id: object) -> Stage:
        """The stage that would apply to ``lead_id`` now (validating the id)."""
        return self.policy.stage_for(parse_lead_id(lead_id))

    def delete_lead(self, lead_id: object) -> DeleteResult:
        """Delete one lead through the route its stage picks.

        Args:
            lead_id: a positive int, or a string of ASCII digits.

        Returns:
            The normalized :class:`~b24shim.DeleteResult`. Portal, network and body failures
            are in the result, never raised; call ``raise_for_error()`` to raise them.

        Raises:
            InvalidLeadId: before any request, when ``lead_id`` is not a lead id.
        """
        lead = parse_lead_id(lead_id)
        stage = self.policy.stage_for(lead)
        route = Route.ITEM if stage.uses_item else Route.LEGACY
        if stage.verified:
            result = self._delete_verified(lead, stage, route)
        else:
            result = self._delete_plain(lead, stage, route)
        self._reporter.report(result.differences)
        if result.route is Route.LEGACY:
            _warn_legacy_once()
        return result

    # -- routes -----------------------------------------------------------------------------

    def _delete_plain(self, lead_id: int, stage: Stage, route: Route) -> DeleteResult:
        if route is Route.LEGACY:
            return _result(lead_id, stage, LEGACY, self._call_delete(LEGACY, lead_id), [])
        if self._item_known_missing():
            return self._fallback(lead_id, stage, None)
        reply = self._call_delete(ITEM, lead_id)
        if reply.code is ErrorCode.METHOD_NOT_FOUND:
            self._remember_item_missing()
            return self._fallback(lead_id, stage, reply)
        return _result(lead_id, stage, ITEM, reply, shape_differences(lead_id, stage, reply))

    def _delete_verified(self, lead_id: int, stage: Stage, route: Route) -> DeleteResult:
        if route is Route.ITEM and self._item_known_missing():
            return self._fallback(lead_id, stage, None)
        deleting, other = (LEGACY, ITEM) if route is Route.LEGACY else (ITEM, LEGACY)
        # One request: batch runs its commands in order, so the reads before, the one
        # authoritative delete and the read after share a call.
        replies = self.transport.batch(
            {
                "lead_before": LEGACY.get(lead_id),
                "item_before": ITEM.get(lead_id),
                "delete": deleting.delete(lead_id),
                "other_after": other.get(lead_id),
            }
        )
        delete = deleting.check_delete(replies["delete"])
        if route is Route.ITEM and delete.code is ErrorCode.METHOD_NOT_FOUND:
            self._remember_item_missing()
            return self._fallback(lead_id, stage, delete)
        found = verification_differences(
            lead_id,
            stage,
            route,
            legacy_before=replies["lead_before"],
            item_before=replies["item_before"],
            delete=delete,
            other_after=replies["other_after"],
        )
        if route is Route.ITEM:
            found += shape_differences(lead_id, stage, delete)
        return _result(lead_id, stage, deleting, delete, found)

    def _fallback(self, lead_id: int, stage: Stage, item_reply: Reply | None) -> DeleteResult:
        reply = self._call_delete(LEGACY, lead_id)
        return _result(
            lead_id, stage, LEGACY, reply, [fallback_difference(lead_id, stage, item_reply)]
        )

    def _call_delete(self, route: LeadRoute, lead_id: int) -> Reply:
        method, params = route.delete(lead_id)
        return route.check_delete(self.transport.call(method, params))

    def _item_known_missing(self) -> bool:
        with self._item_missing_lock:
            return self._item_missing.get(self.transport.portal, False)

    def _remember_item_missing(self) -> None:
        with self._item_missing_lock:
            self._item_missing[self.transport.portal] = True


def _result(
    lead_id: int, stage: Stage, route: LeadRoute, reply: Reply, differences: list[Difference]
) -> DeleteResult:
    return DeleteResult(
        lead_id=lead_id,
        outcome=route.outcome(reply),
        stage=stage,
        route=route.route,
        error=reply.error,
        time=reply.time,
        raw=reply.raw,
        differences=tuple(differences),
    )


def _credentials_from_env(env: Mapping[str, str]) -> Credentials:
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
        name = {"portal url": "B24SHIM_PORTAL_URL", "token url": "B24SHIM_TOKEN_URL"}.get(
            exc.setting, "B24SHIM_ACCESS_TOKEN"
        )
        raise ConfigError(name, exc.message.replace(exc.setting, name)) from None


class _Settings(TypedDict, total=False):
    stage: StageSource
    item_percent: int
    kill_switch: bool
    timeout: Timeout


def _settings_from_env(env: Mapping[str, str]) -> _Settings:
    settings: _Settings = {
        "stage": parse_stage(
            env.get("B24SHIM_LEAD_DELETE_STAGE") or "legacy", setting="B24SHIM_LEAD_DELETE_STAGE"
        )
    }
    percent = env.get("B24SHIM_ITEM_PERCENT", "").strip()
    if percent:
        if not percent.isascii() or not percent.isdigit() or int(percent) > 100:
            raise ConfigError(
                "B24SHIM_ITEM_PERCENT",
                f"B24SHIM_ITEM_PERCENT must be an integer 0..100, got {percent[:20]!r}",
            )
        settings["item_percent"] = int(percent)
    kill = env.get("B24SHIM_KILL_SWITCH", "").strip().lower()
    if kill not in _TRUE + _FALSE:
        raise ConfigError(
            "B24SHIM_KILL_SWITCH",
            f"B24SHIM_KILL_SWITCH must be one of 1/true/yes/on or 0/false/no/off, "
            f"got {kill[:20]!r}",
        )
    settings["kill_switch"] = kill in _TRUE
    timeout = env.get("B24SHIM_TIMEOUT", "").strip()
    if timeout:
        try:
            seconds = float(timeout)
        except ValueError:
            seconds = -1.0
        if not 0 < seconds < 3600:
            raise ConfigError(
                "B24SHIM_TIMEOUT",
                f"B24SHIM_TIMEOUT must be a number of seconds above 0, got {timeout[:20]!r}",
            )
        settings["timeout"] = seconds
    return settings


_default_shim: LeadShim | None = None
_default_lock = threading.Lock()


def _default() -> LeadShim:
    global _default_shim  # noqa: PLW0603 - the process-wide facade, built once
    shim = _default_shim
    if shim is None:
        with _default_lock:
            if _default_shim is None:
                _default_shim = LeadShim.from_env()
            shim = _default_shim
    return shim


def delete_lead(lead_id: object) -> DeleteResult:
    """Delete one lead with a process-wide ``LeadShim.from_env()``, built on first use.

    Raises:
        ConfigError: on first use, when the environment is not configured.
        InvalidLeadId: when ``lead_id`` is not a lead id.
    """
    return _default().delete_lead(lead_id)


def _reset_default_for_tests() -> None:
    """Forget the process-wide shim and the legacy warning (tests only)."""
    global _default_shim, _legacy_warned  # noqa: PLW0603
    with _default_lock:
        _default_shim = None
    with _legacy_warned_lock:
        _legacy_warned = False
