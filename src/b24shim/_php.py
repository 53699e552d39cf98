"""PHP semantics the portal inherits: `parse_str`, `(int)`, `(bool)`, `is_numeric`, arrays.

Shared by the emulator (which answers as the portal would) and the adapters (which read
requests as the portal would). It imports nothing from b24shim.

A PHP array is both a list and a map. Parsed values are held as Python dicts with int or str keys
while being built, then turned into JSON shapes the way `json_encode` would: a list when the keys
are exactly 0..n-1 in order, a dict with string keys otherwise, `[]` when empty.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus

__all__ = [
    "array_key",
    "is_numeric",
    "json_shape",
    "parse_str",
    "to_bool",
    "to_int",
    "to_string",
]

# PHP 8 numeric strings: optional leading and trailing whitespace, sign, digits, exponent.
_WS = " \t\n\r\v\f"
_NUMERIC = re.compile(r"[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*\Z")
_LEADING_NUMERIC = re.compile(r"[ \t\n\r\v\f]*([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)")
_INT_KEY = re.compile(r"(0|-?[1-9]\d*)\Z")
_INT64_MAX = 2**63 - 1


def is_numeric(value: object) -> bool:
    """PHP `is_numeric`: ints and floats, or strings such as `"5"`, `" 5"`, `"5.0"`, `"1e3"`."""
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and _NUMERIC.match(value) is not None


def _float_to_int(number: float) -> int:
    # PHP 8 casts NaN and infinities to 0; out-of-range floats are undefined, clamp them.
    if math.isnan(number) or math.isinf(number):
        return 0
    return max(-_INT64_MAX - 1, min(_INT64_MAX, int(number)))


def _numeric_string_to_int(text: str) -> int:
    text = text.strip(_WS)
    if re.fullmatch(r"[+-]?\d+", text):
        digits = text.lstrip("+-").lstrip("0")
        if len(digits) > 19:  # past int64 whatever the digits (and past int()'s digit limit)
            return -_INT64_MAX - 1 if text.startswith("-") else _INT64_MAX
        return max(-_INT64_MAX - 1, min(_INT64_MAX, int(text)))
    return _float_to_int(float(text))


def to_int(value: object) -> int:
    """PHP `(int)` cast: `"12abc"` -> 12, `"1e3"` -> 1000, `"abc"` -> 0, non-empty array -> 1."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float_to_int(value)
    if isinstance(value, str):
        match = _LEADING_NUMERIC.match(value)
        return _numeric_string_to_int(match.group(1)) if match else 0
    if isinstance(value, (list, tuple, dict)):
        return 1 if value else 0
    return 0


def to_bool(value: object) -> bool:
    """PHP `(bool)` cast: `0`, `"0"`, `""`, `null` and empty arrays are false; `"false"` is true."""
    if value is None or value == "0":
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict)):
        return bool(value)
    return True


def to_string(value: object) -> str:
    """PHP string conversion: `true` -> `"1"`, `false`/`null` -> `""`, arrays -> `"Array"`."""
    if value is None or value is False:
        return ""
    if value is True:
        return "1"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, (list, tuple, dict)):
        return "Array"
    return str(value)


def array_key(key: object) -> int | str:
    """PHP array-key normalization: the string `"5"` becomes the int 5; `"05"` stays a string."""
    if isinstance(key, bool):
        return int(key)
    if isinstance(key, int):
        return key
    text = str(key)
    if _INT_KEY.match(text) and -_INT64_MAX - 1 <= int(text) <= _INT64_MAX:
        return int(text)
    return text


def json_shape(mapping: Mapping[Any, Any]) -> list[Any] | dict[str, Any]:
    """Shape a PHP array for JSON the way `json_encode` does (values are left as they are)."""
    keys = list(mapping)
    if keys == list(range(len(keys))):
        return list(mapping.values())
    return {str(key): value for key, value in mapping.items()}


def _finalize(value: object) -> object:
    if isinstance(value, dict):
        return json_shape({key: _finalize(item) for key, item in value.items()})
    return value


def _split_name(name: str) -> tuple[str, list[str]] | None:
    """Split `a[b][]` into the base name and its bracket segments, as PHP's parser does."""
    name = name.lstrip(" ")
    bracket = name.find("[")
    if bracket == 0 or not name:
        return None
    if bracket < 0:
        return name.replace(" ", "_").replace(".", "_"), []
    base = name[:bracket].replace(" ", "_").replace(".", "_")
    segments: list[str] = []
    pos = bracket
    while pos < len(name) and name[pos] == "[":
        close = name.find("]", pos)
        if close < 0:
            if not segments:
                # An unclosed first bracket is not an array: PHP turns it into "_".
                return base + "_" + name[bracket + 1 :], []
            break
        segments.append(name[pos + 1 : close])
        pos = close + 1
    return base, segments


def _next_index(container: dict[Any, Any]) -> int:
    ints = [key for key in container if isinstance(key, int)]
    return max(ints) + 1 if ints else 0


def parse_str(query: str) -> dict[str, Any]:
    """Parse a query string or form body like PHP `parse_str` (brackets make arrays).

    `fields[TITLE]=x` gives `{"fields": {"TITLE": "x"}}`; `id[]=5` gives `{"id": ["5"]}`; dots
    and spaces in a top-level name become underscores.
    """
    root: dict[Any, Any] = {}
    for part in query.split("&"):
        if not part:
            continue
        raw_name, _, raw_value = part.partition("=")
        split = _split_name(unquote_plus(raw_name))
        if split is None:
            continue
        base, segments = split
        value = unquote_plus(raw_value)
        if not segments:
            root[array_key(base)] = value
            continue
        container = root
        key: int | str = array_key(base)
        for segment in segments:
            child = container.get(key)
            if not isinstance(child, dict):
                child = {}
                container[key] = child
            container = child
            key = _next_index(container) if segment == "" else array_key(segment)
        container[key] = value
    return {str(key): _finalize(value) for key, value in root.items()}
