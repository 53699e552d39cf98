"""Which stage applies to a lead: kill switch, configured stage or flag provider, percentage.

Stage per call: ``kill_switch`` wins (always ``LEGACY``); otherwise the configured stage, which
may be a :class:`Stage`, its string, or a flag provider ``(lead_id) -> Stage | str``. A provider
that raises or returns nonsense never breaks a delete: the call goes ``LEGACY`` and the error is
logged. For ``ITEM`` and ``ITEM_VERIFIED``, ``item_percent`` picks which leads take the item
route by a fixed bucket, ``zlib.crc32(str(lead_id).encode()) % 100``; the others take the
matching legacy stage. The bucket formula never changes: changing it would move leads between
routes in the middle of a rollout.

Flag providers shipped here (each a callable ``(lead_id) -> Stage | str`` for
``LeadShim(..., stage=provider)``):

- :class:`EnvStage` reads ``B24SHIM_LEAD_DELETE_STAGE``, ``B24SHIM_ITEM_PERCENT`` and
  ``B24SHIM_KILL_SWITCH`` at each evaluation, so a running process follows its environment.
- :class:`OpenFeatureStage` asks an OpenFeature client (extra ``b24shim[openfeature]``) for a
  string flag, per lead, with the lead id in the evaluation context; cached briefly.
- :class:`CachedStage` wraps any provider in a thread-safe ``cachetools.TTLCache`` keyed by
  lead id, so a flag service is asked once per lead per ``ttl``.
"""

from __future__ import annotations

import enum
import logging
import os
import threading
import zlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs
import cachetools

from b24shim._validate import whole_number_from
from b24shim.errors import ConfigError

if TYPE_CHECKING:
    from openfeature.client import OpenFeatureClient

__all__ = [
    "DEFAULT_FLAG_KEY",
    "DEFAULT_FLAG_TTL",
    "CachedStage",
    "EnvStage",
    "FlagProvider",
    "OpenFeatureStage",
    "Stage",
    "StageChoice",
    "StagePolicy",
    "bucket_of",
    "parse_stage",
    "verify_bucket_of",
]

logger = logging.getLogger(__name__)


class Stage(str, enum.Enum):
    """A rollout stage, from the legacy method to the item method."""

    LEGACY = "legacy"
    LEGACY_VERIFIED = "legacy_verified"
    ITEM_VERIFIED = "item_verified"
    ITEM = "item"

    def __init__(self, value: str) -> None:
        # Attributes of each member, set once, not properties: every delete asks both, several
        # times, and a property is a Python call each time.
        #: True for the stages that check both read families around the delete.
        self.verified: bool = value in ("legacy_verified", "item_verified")
        #: True for the stages whose delete goes through ``crm.item.delete``.
        self.uses_item: bool = value in ("item_verified", "item")

    def __str__(self) -> str:
        return self.value


FlagProvider = Callable[[int], Stage | str]
StageSource = Stage | str | FlagProvider

_ALLOWED = ", ".join(stage.value for stage in Stage)
_LEGACY_OF = {Stage.ITEM: Stage.LEGACY, Stage.ITEM_VERIFIED: Stage.LEGACY_VERIFIED}


def parse_stage(value: object, *, setting: str = "stage") -> Stage:
    """Return ``value`` as a :class:`Stage`.

    Raises:
        ConfigError: naming ``setting`` and the allowed values.
    """
    if isinstance(value, Stage):
        return value
    if isinstance(value, str):
        try:
            return Stage(value.strip().lower())
        except ValueError:
            pass
    shown = repr(value) if isinstance(value, str) and len(value) <= 40 else type(value).__name__
    raise ConfigError(setting, f"{setting} must be one of {_ALLOWED}, got {shown}")


def bucket_of(lead_id: int) -> int:
    """The lead's rollout bucket, 0..99. Fixed forever: see the module docstring."""
    return zlib.crc32(str(lead_id).encode()) % 100


def verify_bucket_of(lead_id: int) -> int:
    """The lead's verification-sampling bucket, 0..99 (``verify_percent``). Fixed forever.

    A bucket of its own (crc32 of ``"verify:<id>"``), independent of :func:`bucket_of`, so that
    sampling 10% of the checks does not pick the same leads as a 10% item rollout.
    """
    return zlib.crc32(b"verify:" + str(lead_id).encode()) % 100


@attrs.frozen
class StageChoice:
    """The stage of one delete.

    Attributes:
        stage: the stage that applies.
        held_back: an item stage was configured, and ``item_percent`` kept this lead on the
            matching legacy stage (the rollout is under way: nothing to warn about).
    """

    stage: Stage
    held_back: bool = False


#: One (frozen) choice per stage, shared by every delete that is not held back.
_CHOICE_OF = {stage: StageChoice(stage) for stage in Stage}


@attrs.frozen
class StagePolicy:
    """Decides the stage of each delete.

    Args:
        stage: a :class:`Stage`, its string, or a flag provider called with the lead id.
        item_percent: 0..100, the share of leads that take the item route at the item stages.
        kill_switch: when true every delete goes ``LEGACY``, whatever else is set.
    """

    stage: StageSource = attrs.field(default=Stage.LEGACY)
    item_percent: int = attrs.field(default=100, validator=whole_number_from(0, 100))
    kill_switch: bool = False

    def __attrs_post_init__(self) -> None:
        if not callable(self.stage):
            object.__setattr__(self, "stage", parse_stage(self.stage))

    def stage_for(self, lead_id: int) -> Stage:
        """The stage that applies to ``lead_id``."""
        return self.choose(lead_id).stage

    def choose(self, lead_id: int) -> StageChoice:
        """The stage that applies to ``lead_id``, and whether ``item_percent`` decided it."""
        if self.kill_switch:
            return _CHOICE_OF[Stage.LEGACY]
        wanted = self._configured(lead_id)
        # A bucket is 0..99: at 100% no lead is held back, and the crc32 is not needed.
        percent = self.item_percent
        if percent < 100 and wanted in _LEGACY_OF and bucket_of(lead_id) >= percent:
            return StageChoice(_LEGACY_OF[wanted], held_back=True)
        return _CHOICE_OF[wanted]

    def _configured(self, lead_id: int) -> Stage:
        source = self.stage
        if isinstance(source, Stage):
            return source
        if isinstance(source, str):  # pragma: no cover - normalized in __attrs_post_init__
            return parse_stage(source)
        try:
            answer = source(lead_id)
            return parse_stage(answer, setting="the flag provider's answer")
        except Exception:
            logger.exception(
                "flag provider failed for lead %s; using stage 'legacy'",
                lead_id,
                extra={"b24shim_lead_id": lead_id},
            )
            return Stage.LEGACY


# -- flag providers ---------------------------------------------------------------------------

#: The OpenFeature flag key :class:`OpenFeatureStage` evaluates by default.
DEFAULT_FLAG_KEY = "b24shim.lead-delete-stage"
#: Seconds a flag evaluation is reused by :class:`CachedStage` and :class:`OpenFeatureStage`.
DEFAULT_FLAG_TTL = 5.0

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def env_percent(value: str, setting: str = "B24SHIM_ITEM_PERCENT") -> int:
    """``B24SHIM_ITEM_PERCENT`` (or another percentage ``setting``): 0..100, 100 when empty."""
    text = value.strip()
    if not text:
        return 100
    if not text.isascii() or not text.isdigit() or int(text) > 100:
        raise ConfigError(
            setting,
            f"{setting} must be an integer 0..100, got {text[:20]!r}",
        )
    return int(text)


def env_switch(value: str) -> bool:
    """``B24SHIM_KILL_SWITCH``: ``1/true/yes/on`` or ``0/false/no/off`` (or empty)."""
    text = value.strip().lower()
    if text not in _TRUE + _FALSE:
        raise ConfigError(
            "B24SHIM_KILL_SWITCH",
            f"B24SHIM_KILL_SWITCH must be one of 1/true/yes/on or 0/false/no/off, "
            f"got {text[:20]!r}",
        )
    return text in _TRUE


class EnvStage:
    """A flag provider that reads the rollout variables at every evaluation.

    ``B24SHIM_LEAD_DELETE_STAGE`` (default ``legacy``), ``B24SHIM_ITEM_PERCENT`` (default 100)
    and ``B24SHIM_KILL_SWITCH`` are read when a lead is deleted, not when the shim is built, so
    a long-running process can be moved between stages (or stopped with the kill switch) by
    changing its environment. Use it with the shim's own ``item_percent`` left at 100 and
    ``kill_switch`` off: this provider applies both itself.

    Args:
        environ: the mapping to read; ``os.environ`` (read live) when None.

    Raises:
        ConfigError: when a variable holds a bad value at construction, so a typo is found at
            start-up. A bad value set later makes evaluations fail, which the shim logs and
            answers with stage ``legacy``.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ
        self(1)  # validate now: a bad value is a start-up error

    def __call__(self, lead_id: int) -> Stage:
        """The stage the environment gives ``lead_id`` now."""
        env = os.environ if self._environ is None else self._environ
        if env_switch(env.get("B24SHIM_KILL_SWITCH", "")):
            return Stage.LEGACY
        stage = parse_stage(
            env.get("B24SHIM_LEAD_DELETE_STAGE") or "legacy", setting="B24SHIM_LEAD_DELETE_STAGE"
        )
        percent = env_percent(env.get("B24SHIM_ITEM_PERCENT", ""))
        if stage in _LEGACY_OF and bucket_of(lead_id) >= percent:
            return _LEGACY_OF[stage]
        return stage

    def __repr__(self) -> str:
        return "EnvStage()" if self._environ is None else "EnvStage(environ=<mapping>)"


def _check_ttl(ttl: object) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not ttl >= 0:
        raise ConfigError("ttl", f"ttl must be a number of seconds >= 0, got {ttl!r}")
    return float(ttl)


class CachedStage:
    """Reuse a flag provider's answer per lead id for ``ttl`` seconds.

    Thread-safe. Only answers are cached: a provider that raises is asked again next time.
    Two threads evaluating the same new lead at once may both reach the provider (the lock is
    not held while it runs, so a slow flag service never serializes deletes).

    Args:
        provider: the callable ``(lead_id) -> Stage | str`` to ask.
        ttl: seconds an answer is reused; 0 disables the cache.
        maxsize: the most lead ids remembered at once.
        timer: the clock the cache reads (``time.monotonic``); tests inject their own.

    Raises:
        ConfigError: for a negative ``ttl`` or a ``maxsize`` below 1.
    """

    def __init__(
        self,
        provider: FlagProvider,
        *,
        ttl: float = DEFAULT_FLAG_TTL,
        maxsize: int = 10_000,
        timer: Callable[[], float] | None = None,
    ) -> None:
        if not callable(provider):
            raise ConfigError("provider", f"provider must be callable, got {provider!r}")
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigError("maxsize", f"maxsize must be an integer >= 1, got {maxsize!r}")
        self.provider = provider
        self.ttl = _check_ttl(ttl)
        self._lock = threading.Lock()
        self._cache: cachetools.TTLCache[int, Stage | str] | None = None
        if self.ttl > 0:
            if timer is None:
                self._cache = cachetools.TTLCache(maxsize=maxsize, ttl=self.ttl)
            else:
                self._cache = cachetools.TTLCache(maxsize=maxsize, ttl=self.ttl, timer=timer)

    def __call__(self, lead_id: int) -> Stage | str:
        """The provider's answer for ``lead_id``, from the cache while it is fresh."""
        cache = self._cache
        if cache is None:
            return self.provider(lead_id)
        with self._lock:
            found = cache.get(lead_id)
        if found is not None:
            return found
        answer = self.provider(lead_id)
        with self._lock:
            cache[lead_id] = answer
        return answer

    def clear(self) -> None:
        """Forget every cached answer (the next evaluation of each lead asks again)."""
        if self._cache is not None:
            with self._lock:
                self._cache.clear()

    def __repr__(self) -> str:
        return f"CachedStage({self.provider!r}, ttl={self.ttl:g})"


class OpenFeatureStage:
    """A flag provider backed by an OpenFeature client (``pip install 'b24shim[openfeature]'``).

    Each lead's stage is the string flag ``flag_key``, evaluated with an ``EvaluationContext``
    whose ``targeting_key`` is the lead id as a string and whose attribute ``lead_id`` is the
    id, so a flag service can target single leads or percentages. An evaluation error (flag
    missing, wrong type, provider down) is logged and answers ``legacy``. Answers are cached per
    lead for ``ttl`` seconds so the flag service is not asked again for the same lead.

    Args:
        client: an ``openfeature.client.OpenFeatureClient``; ``openfeature.api.get_client()``
            when None.
        flag_key: the string flag to evaluate.
        default: the value OpenFeature answers when no rule matches (a stage name).
        ttl: seconds an answer is reused per lead; 0 asks every time.
        timer: the cache's clock (``time.monotonic``); tests inject their own.

    Raises:
        ConfigError: when ``openfeature-sdk`` is not installed, or for a bad ``default``,
            ``flag_key`` or ``ttl``.
    """

    def __init__(
        self,
        client: OpenFeatureClient | None = None,
        *,
        flag_key: str = DEFAULT_FLAG_KEY,
        default: Stage | str = Stage.LEGACY,
        ttl: float = DEFAULT_FLAG_TTL,
        timer: Callable[[], float] | None = None,
    ) -> None:
        try:
            from openfeature import api  # noqa: PLC0415 - optional extra, imported on use
            from openfeature.evaluation_context import (  # noqa: PLC0415
                EvaluationContext,
            )
        except ImportError as exc:
            raise ConfigError(
                "openfeature",
                "OpenFeatureStage needs the openfeature-sdk package: "
                "pip install 'b24shim[openfeature]'",
            ) from exc
        if not isinstance(flag_key, str) or not flag_key:
            raise ConfigError("flag_key", f"flag_key must be a non-empty string, got {flag_key!r}")
        self.flag_key = flag_key
        self.default = parse_stage(default, setting="default")
        self.client = client if client is not None else api.get_client()
        self._context = EvaluationContext
        self._cached = CachedStage(self._evaluate, ttl=ttl, timer=timer)

    def __call__(self, lead_id: int) -> Stage | str:
        """The flag's stage for ``lead_id`` (``legacy`` when the evaluation failed)."""
        return self._cached(lead_id)

    def _evaluate(self, lead_id: int) -> Stage | str:
        context = self._context(targeting_key=str(lead_id), attributes={"lead_id": lead_id})
        details = self.client.get_string_details(self.flag_key, self.default.value, context)
        if details.error_code is not None:
            logger.warning(
                "OpenFeature flag %r failed for lead %s (%s: %s); using stage 'legacy'",
                self.flag_key,
                lead_id,
                getattr(details.error_code, "value", details.error_code),
                details.error_message or "no message",
                extra={"b24shim_lead_id": lead_id},
            )
            return Stage.LEGACY
        return details.value

    def __repr__(self) -> str:
        return f"OpenFeatureStage(flag_key={self.flag_key!r}, ttl={self._cached.ttl:g})"
