"""attrs validators that raise ConfigError naming the setting and what it must be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from b24shim.errors import ConfigError

__all__ = ["number_above", "whole_number_from"]

Validator = Callable[[Any, "attrs.Attribute[Any]", Any], None]


def number_above(minimum: float, *, inclusive: bool = False) -> Validator:
    """A number (not bool) above ``minimum`` (or equal to it, when ``inclusive``)."""
    relation = ">=" if inclusive else "above"

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not (value >= minimum if inclusive else value > minimum):
            raise ConfigError(
                attribute.name,
                f"{attribute.name} must be a number {relation} {minimum:g}, got {value!r}",
            )

    return check


def whole_number_from(minimum: int, maximum: int | None = None) -> Validator:
    """An int (not bool) in ``minimum..maximum``."""
    shown = f"{minimum}..{maximum}" if maximum is not None else f"of at least {minimum}"

    def check(_: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if not ok or value < minimum or (maximum is not None and value > maximum):
            raise ConfigError(
                attribute.name, f"{attribute.name} must be an integer {shown}, got {value!r}"
            )

    return check
