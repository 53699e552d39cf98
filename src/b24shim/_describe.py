"""A short, safe description of any value a caller or a portal hands us, for messages.

``repr`` is not safe on untrusted values: ``repr(10**5000)`` raises ``ValueError`` (Python's
int-to-str digit limit), a 100,000-deep list raises ``RecursionError``, and a user object's
``__repr__`` may raise anything. An error message must never fail because of the value it
describes, so this wraps :mod:`reprlib` (which bounds depth and length) and falls back to the
type's name.
"""

from __future__ import annotations

import reprlib

__all__ = ["describe"]

_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 40
_REPR.maxother = 40
_REPR.maxlist = _REPR.maxtuple = _REPR.maxdict = _REPR.maxset = 4
_REPR.maxlong = 40


def describe(value: object, limit: int = 60) -> str:
    """``repr(value)``, cut to about ``limit`` characters; never raises."""
    try:
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
            # reprlib would call repr() first, which fails past 4,300 digits.
            return f"<int of {value.bit_length()} bits>"
        shown = _REPR.repr(value)
    except Exception:  # a hostile __repr__, or anything else: the type still says enough
        try:
            return f"<{type(value).__name__} object>"
        except Exception:  # pragma: no cover - type() of anything has a name
            return "<object>"
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."
