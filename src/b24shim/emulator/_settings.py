"""The portal's switches, validated on every change (they may be flipped while it serves)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeAlias

import attrs

from ._errors import LANGUAGES
from ._faults import FaultConfig

__all__ = ["PortalSettings", "ProcessingTime"]

ProcessingTime: TypeAlias = float | Mapping[str, float]


def _number(name: str, value: object, *, minimum: float, strict: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}, got {value!r}")


def _check_rate(_i: object, _a: object, value: float) -> None:
    _number("rate", value, minimum=0)


def _check_burst(_i: object, _a: object, value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"burst must be an integer >= 1, got {value!r}")


def _check_operating_limit(_i: object, _a: object, value: float) -> None:
    _number("operating_limit", value, minimum=0, strict=True)


def _to_processing_time(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(name).lower(): seconds for name, seconds in value.items()}
    return value


def _check_processing_time(_i: object, _a: object, value: ProcessingTime) -> None:
    if isinstance(value, Mapping):
        for name, seconds in value.items():
            _number(f"processing_time[{name!r}]", seconds, minimum=0)
    else:
        _number("processing_time", value, minimum=0)


def _one_of(name: str, allowed: tuple[Any, ...]) -> Any:
    def check(_i: object, _a: object, value: object) -> None:
        if isinstance(value, bool) or value not in allowed:
            choices = ", ".join(repr(choice) for choice in allowed)
            raise ValueError(f"{name} must be one of {choices}, got {value!r}")

    return check


def _flag(name: str) -> Any:
    def check(_i: object, _a: object, value: object) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be True or False, got {value!r}")

    return check


def _check_faults(_i: object, _a: object, value: FaultConfig | None) -> None:
    if value is not None and not isinstance(value, FaultConfig):
        raise ValueError(f"faults must be a FaultConfig or None, got {value!r}")


_VALIDATE = attrs.setters.pipe(attrs.setters.convert, attrs.setters.validate)


@attrs.define(on_setattr=_VALIDATE)
class PortalSettings:
    """Every behaviour switch of the emulated portal (see `Emulator` for their meaning)."""

    rate: float = attrs.field(default=2.0, validator=_check_rate)
    burst: int = attrs.field(default=50, validator=_check_burst)
    operating_limit: float = attrs.field(default=480.0, validator=_check_operating_limit)
    processing_time: ProcessingTime = attrs.field(
        default=0.0, converter=_to_processing_time, validator=_check_processing_time
    )
    item_api: bool = attrs.field(default=True, validator=_flag("item_api"))
    legacy_not_found: str = attrs.field(
        default="source", validator=_one_of("legacy_not_found", ("source", "docs"))
    )
    access_denied_status: int = attrs.field(
        default=400, validator=_one_of("access_denied_status", (400, 403))
    )
    binder_code_as_number: bool = attrs.field(
        default=False, validator=_flag("binder_code_as_number")
    )
    require_https: bool = attrs.field(default=False, validator=_flag("require_https"))
    faults: FaultConfig | None = attrs.field(default=None, validator=_check_faults)
    language: str = attrs.field(default="en", validator=_one_of("language", LANGUAGES))

    def processing_for(self, method: str) -> float:
        """Simulated handler seconds for one call of `method`."""
        value = self.processing_time
        if isinstance(value, Mapping):
            return float(value.get(method, 0.0))
        return float(value)
