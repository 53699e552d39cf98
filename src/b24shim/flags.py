"""Which stage applies to a lead: kill switch, configured stage or flag provider, percentage.

Stage per call: ``kill_switch`` wins (always ``LEGACY``); otherwise the configured stage, which
may be a :class:`Stage`, its string, or a flag provider ``(lead_id) -> Stage | str``. A provider
that raises or returns nonsense never breaks a delete: the call goes ``LEGACY`` and the error is
logged. For ``ITEM`` and ``ITEM_VERIFIED``, ``item_percent`` picks which leads take the item
route by a fixed bucket, ``zlib.crc32(str(lead_id).encode()) % 100``; the others take the
matching legacy stage. The bucket formula never changes: changing it would move leads between
routes in the middle of a rollout.
"""

from __future__ import annotations

import enum
import logging
import zlib
from collections.abc import Callable

import attrs

from b24shim.errors import ConfigError

__all__ = ["FlagProvider", "Stage", "StagePolicy", "bucket_of", "parse_stage"]

logger = logging.getLogger(__name__)


class Stage(str, enum.Enum):
    """A rollout stage, from the legacy method to the item method."""

    LEGACY = "legacy"
    LEGACY_VERIFIED = "legacy_verified"
    ITEM_VERIFIED = "item_verified"
    ITEM = "item"

    def __str__(self) -> str:
        return self.value

    @property
    def verified(self) -> bool:
        """True for the stages that check both read families around the delete."""
        return self in (Stage.LEGACY_VERIFIED, Stage.ITEM_VERIFIED)

    @property
    def uses_item(self) -> bool:
        """True for the stages whose delete goes through ``crm.item.delete``."""
        return self in (Stage.ITEM_VERIFIED, Stage.ITEM)


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


def _check_percent(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
        raise ConfigError("item_percent", f"item_percent must be an integer 0..100, got {value!r}")
    return value


@attrs.frozen
class StagePolicy:
    """Decides the stage of each delete.

    Args:
        stage: a :class:`Stage`, its string, or a flag provider called with the lead id.
        item_percent: 0..100, the share of leads that take the item route at the item stages.
        kill_switch: when true every delete goes ``LEGACY``, whatever else is set.
    """

    stage: StageSource = attrs.field(default=Stage.LEGACY)
    item_percent: int = attrs.field(default=100, validator=lambda _s, _a, v: _check_percent(v))
    kill_switch: bool = False

    def __attrs_post_init__(self) -> None:
        if not callable(self.stage):
            object.__setattr__(self, "stage", parse_stage(self.stage))

    def stage_for(self, lead_id: int) -> Stage:
        """The stage that applies to ``lead_id``."""
        if self.kill_switch:
            return Stage.LEGACY
        wanted = self._configured(lead_id)
        if wanted in _LEGACY_OF and bucket_of(lead_id) >= self.item_percent:
            return _LEGACY_OF[wanted]
        return wanted

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
