"""What every facade shares: the engine it drives, its settings' views, ``from_env``.

``LeadShim`` (requests) and ``AsyncLeadShim`` (aiohttp) differ only in their I/O; the engine
(:mod:`b24shim.engine`) decides for both, and this base class holds what they show of it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from b24shim._config import credentials_from_env, settings_from_env
from b24shim._variables import unknown_variables
from b24shim.credentials import Credentials
from b24shim.differences import DifferenceReporter
from b24shim.engine import Engine, check_shared, credentials_of
from b24shim.errors import B24ShimWarning, ConfigError
from b24shim.flags import Stage, StagePolicy, StageSource
from b24shim.ids import parse_lead_id
from b24shim.limits import RateLimit, SharedLimits
from b24shim.retry import RetryPolicy

__all__ = ["EngineFacade"]

_F = TypeVar("_F", bound="EngineFacade")


class EngineFacade:
    """The base of the facades: an :class:`~b24shim.engine.Engine` and views of its settings."""

    engine: Engine
    transport: Any  # the front end's own transport: .credentials, .portal, .clock

    @staticmethod
    def _checked(credentials: Credentials | str, rate_limit: object, shared: object) -> Credentials:
        """The credentials, once the settings every transport takes are checked."""
        if rate_limit is not None and not isinstance(rate_limit, RateLimit):
            raise ConfigError("rate_limit", "rate_limit must be a RateLimit or None")
        check_shared(shared)
        return credentials_of(credentials)

    def _start(self, now: Callable[[], float], **settings: Any) -> None:
        """Build the engine (``settings``: the facade's rollout and evidence arguments)."""
        #: Decides every delete; the facade only sends what it asks and waits as it says.
        self.engine = Engine.configure(portal=self.transport.portal, now=now, **settings)

    @classmethod
    def from_env(cls: type[_F], environ: Mapping[str, str] | None = None) -> _F:
        """Build a shim from ``B24SHIM_*`` environment variables (see MIGRATION.md).

        Credentials: ``B24SHIM_WEBHOOK_URL``, or ``B24SHIM_PORTAL_URL`` +
        ``B24SHIM_ACCESS_TOKEN`` (+ ``B24SHIM_REFRESH_TOKEN``, ``B24SHIM_CLIENT_ID``,
        ``B24SHIM_CLIENT_SECRET``, ``B24SHIM_TOKEN_URL``). Rollout:
        ``B24SHIM_LEAD_DELETE_STAGE`` (default ``legacy``), ``B24SHIM_ITEM_PERCENT`` (default
        100), ``B24SHIM_KILL_SWITCH`` (``1/true/yes/on``). Transport: ``B24SHIM_TIMEOUT``
        (seconds), ``B24SHIM_RATE_LIMIT`` (``standard``, ``enterprise``, ``off`` or
        ``RATE/BURST``), ``B24SHIM_REDIS_URL`` (share the limits through this Redis; see
        docs/workers.md). Differences: ``B24SHIM_DIFFERENCE_LOG`` (a JSON-lines file every
        difference is appended to; see ``b24shim report``).

        Raises:
            ConfigError: at once, for any missing or bad value; never echoing a secret.
        """
        env = dict(os.environ if environ is None else environ)
        for message in unknown_variables(env):
            # A warning, not a log line: the caller's configuration is wrong and can be fixed.
            warnings.warn(message, B24ShimWarning, stacklevel=2)
        build: Any = cls  # each facade's constructor takes these settings as keywords
        made: _F = build(credentials_from_env(env), **settings_from_env(env))
        return made

    @property
    def policy(self) -> StagePolicy:
        """Which stage applies to a lead (the configured stage, percent and kill switch)."""
        return self.engine.policy

    @property
    def reporter(self) -> DifferenceReporter:
        """Logs each difference found and passes it to ``on_difference``."""
        return self.engine.reporter

    @property
    def retry(self) -> RetryPolicy:
        """When and how patiently a delete is tried again."""
        return self.engine.retry

    @property
    def verify_percent(self) -> int:
        """The share of deletes, 0..100, at the verified stages that get the read checks."""
        return self.engine.verify_percent

    @property
    def shared(self) -> SharedLimits | None:
        """The limits shared with other processes, if any."""
        return self.engine.shared

    @property
    def stage(self) -> StageSource:
        """The configured stage or flag provider."""
        return self.policy.stage

    @property
    def item_percent(self) -> int:
        """The share of leads, 0..100, that take the item route at the item stages."""
        return self.policy.item_percent

    @property
    def legacy_not_found(self) -> str:
        """The ``legacy_not_found`` setting: ``"auto"``, ``"docs"`` or ``"core"``."""
        return self.engine.not_found.setting

    @property
    def kill_switch(self) -> bool:
        """True when every delete goes through ``crm.lead.delete``."""
        return self.policy.kill_switch

    def __repr__(self) -> str:
        stage = self.stage.value if isinstance(self.stage, Stage) else "<flag provider>"
        return (
            f"{type(self).__name__}({self.transport.credentials!r}, stage={stage!r}, "
            f"item_percent={self.item_percent}, kill_switch={self.kill_switch})"
        )

    def stage_for(self, lead_id: object) -> Stage:
        """The stage that would apply to ``lead_id`` now (validating the id)."""
        return self.policy.stage_for(parse_lead_id(lead_id))
