"""Lead-id validation, identical for both routes.

The legacy method casts its ``id`` with PHP ``(int)``: ``"12abc"`` deletes lead 12 and a
non-empty array deletes lead 1 (spec 2.2). The shim never does that: it accepts positive
integers (not bool) and strings of ASCII digits with optional surrounding whitespace, and raises
:class:`~b24shim.InvalidLeadId` for everything else, before any request is made.
"""

from __future__ import annotations

import operator
import re

from b24shim.errors import InvalidLeadId

__all__ = ["MAX_LEAD_ID", "parse_lead_id"]

#: The largest id the portal's 64-bit integers can hold.
MAX_LEAD_ID = 2**63 - 1

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
# str.strip() would also strip exotic Unicode spaces; the portal's PHP only skips ASCII ones.
_ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


def parse_lead_id(value: object) -> int:
    """Return ``value`` as a lead id.

    Args:
        value: a positive ``int`` (``bool`` is refused), or a ``str`` of ASCII digits with
            optional surrounding ASCII whitespace.

    Returns:
        The id as an ``int`` in ``1..2**63-1``.

    Raises:
        InvalidLeadId: for anything else: floats, signs, exponents, non-ASCII digits, empty
            strings, zero, values above ``2**63-1``, bytes, lists and other objects.
    """
    if type(value) is int and 0 < value <= MAX_LEAD_ID:  # the usual call: nothing to convert
        return value
    if isinstance(value, bool):
        raise InvalidLeadId(value, "a bool is not a lead id")
    if isinstance(value, int):
        number = operator.index(value)
    elif isinstance(value, str):
        text = value.strip(_ASCII_WHITESPACE)
        if not _DIGITS.fullmatch(text):
            raise InvalidLeadId(value, "expected ASCII digits only")
        if len(text) > 19:  # more digits than 2**63-1 has, even with leading zeros
            text = text.lstrip("0") or "0"
            if len(text) > 19:
                raise InvalidLeadId(value, f"must be at most {MAX_LEAD_ID}")
        number = int(text)
    else:
        raise InvalidLeadId(value, f"expected int or str, got {type(value).__name__}")
    if number <= 0:
        raise InvalidLeadId(value, "must be a positive integer")
    if number > MAX_LEAD_ID:
        raise InvalidLeadId(value, f"must be at most {MAX_LEAD_ID}")
    return number
