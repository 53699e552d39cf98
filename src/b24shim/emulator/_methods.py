"""The method registry: normalized name -> handler, minus `crm.item.*` on an old portal."""

from __future__ import annotations

from ._activity_methods import ACTIVITY_METHODS
from ._context import Handler
from ._item_methods import ITEM_METHODS
from ._legacy_methods import LEGACY_METHODS

__all__ = ["BATCH", "lookup", "normalize_method"]

BATCH = "batch"
_METHODS: dict[str, Handler] = {**LEGACY_METHODS, **ITEM_METHODS, **ACTIVITY_METHODS}


def normalize_method(name: str) -> str:
    """Lower-case the method name and drop a `.json` transport suffix (spec 1.4)."""
    name = name.strip().lower()
    return name.removesuffix(".json")


def lookup(method: str, *, item_api: bool) -> Handler | None:
    """Return the handler of a normalized method name, or None when the portal lacks it."""
    if not item_api and method.startswith("crm.item."):
        return None
    return _METHODS.get(method)
