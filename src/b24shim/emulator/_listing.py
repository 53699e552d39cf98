"""`filter`, `order`, `select` and paging for the list methods (pages of 50, `start` offset)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from b24shim._php import is_numeric, to_string

from ._context import PAGE_SIZE, Page

__all__ = ["Row", "filter_field", "filter_rows", "order_rows", "page", "select_list"]

Row = Mapping[str, Any]
_R = TypeVar("_R", bound=Row)

# Longest prefixes first, so ">=" is not read as ">".
_OPERATORS = ("!=", ">=", "<=", "!@", "=", ">", "<", "@", "!")


def _comparable(value: Any) -> tuple[int, Any]:
    if is_numeric(value):
        return (0, float(value))
    return (1, to_string(value))


_ORDERED: dict[str, Callable[[Any, Any], bool]] = {
    ">": operator.gt,
    "<": operator.lt,
    ">=": operator.ge,
    "<=": operator.le,
}


def _prepare(op: str, wanted: Any) -> Callable[[Any], bool]:
    """One condition as a test of a stored value; the wanted side is converted once.

    A filter on 50 ids over 10,000 rows converts the 50 ids once, not once per row (bulk
    verification lists by `@ID` with every batch).
    """
    if op in ("@", "!@"):
        options = list(wanted.values()) if isinstance(wanted, dict) else wanted
        if not isinstance(options, list):
            options = [options]
        keys = {_comparable(option) for option in options}
        inside = op == "@"
        return lambda value: (_comparable(value) in keys) == inside
    right = _comparable(wanted)
    if op in ("=", ""):
        return lambda value: _comparable(value) == right
    if op in ("!", "!="):
        return lambda value: _comparable(value) != right
    compare = _ORDERED[op]

    def ordered(value: Any) -> bool:
        left = _comparable(value)
        return left[0] == right[0] and compare(left, right)

    return ordered


def _get(row: Mapping[str, Any], name: str) -> Any:
    return row.get(name)


def _matches_any(value: Any, op: str, test: Callable[[Any], bool]) -> bool:
    """A condition on one value, or on a list of them (multi-fields, `CONTACT_IDS`)."""
    if not isinstance(value, list):
        return test(value)
    if op in ("!", "!=", "!@"):
        return all(test(item) for item in value)
    return any(test(item) for item in value)


def filter_field(key: str) -> str:
    """The field name of a `filter` key, without its operator prefix (`">=id"` -> `"id"`)."""
    op = next((prefix for prefix in _OPERATORS if key.startswith(prefix)), "")
    return key[len(op) :]


def filter_rows(
    rows: list[_R],
    filter_: Any,
    name_of: Callable[[str], str],
    value_of: Callable[[Row, str], Any] = _get,
) -> list[_R]:
    """Keep rows matching every condition.

    Args:
        rows: The stored rows (not changed, not copied).
        filter_: The `filter` parameter.
        name_of: Maps a filter field to a stored name.
        value_of: Reads a stored name from a row (multi-fields give lists of values).
    """
    if not isinstance(filter_, Mapping):
        return rows
    conditions: list[tuple[str, str, Callable[[Any], bool]]] = []
    for raw_key, wanted in filter_.items():
        key = str(raw_key)
        name = filter_field(key)
        op = key[: len(key) - len(name)]
        conditions.append((name_of(name), op, _prepare(op, wanted)))
    return [
        row
        for row in rows
        if all(_matches_any(value_of(row, name), op, test) for name, op, test in conditions)
    ]


def order_rows(rows: list[_R], order: Any, name_of: Callable[[str], str]) -> list[_R]:
    """Sort by the `order` map (`{"ID": "DESC"}`); the default is ascending ID."""
    if not isinstance(order, Mapping) or not order:
        return rows
    result = list(rows)
    for key, direction in reversed(list(order.items())):
        name = name_of(str(key))
        descending = to_string(direction).upper() == "DESC"
        result.sort(key=_sort_key(name), reverse=descending)
    return result


def _sort_key(name: str) -> Callable[[Row], tuple[int, Any]]:
    def key(row: Row) -> tuple[int, Any]:
        return _comparable(row.get(name))

    return key


def select_list(select: Any) -> list[str] | None:
    """The `select` parameter as a list of names, or None for all fields."""
    if isinstance(select, Mapping):
        select = list(select.values())
    if isinstance(select, list) and select:
        return [to_string(name) for name in select]
    return None


def page(rows: list[Any], start: int) -> Page:
    """Cut one page of 50 at `start`; `next` is set while rows remain.

    `start=-1` is the portal's fast mode for huge lists (the documentation recommends it with
    a filter on `>ID`): the first 50 rows, no count (`total` 0) and no `next`.
    """
    if start == -1:
        return Page(rows[:PAGE_SIZE], 0, None)
    start = max(0, start)
    chunk = rows[start : start + PAGE_SIZE]
    following = start + PAGE_SIZE
    return Page(chunk, len(rows), following if following < len(rows) else None)
