"""PHP semantics the portal inherits (parse_str, casts), including property tests."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24shim._php import is_numeric, parse_str, to_bool, to_int


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("id=5", {"id": "5"}),
        ("id[]=5&id[]=6", {"id": ["5", "6"]}),
        ("fields[TITLE]=a+b&fields[X]=%26", {"fields": {"TITLE": "a b", "X": "&"}}),
        ("a[1]=x", {"a": {"1": "x"}}),
        ("a[0]=x&a[1]=y", {"a": ["x", "y"]}),
        ("a[x][][y]=1", {"a": {"x": [{"y": "1"}]}}),
        ("a.b=1&c d=2", {"a_b": "1", "c_d": "2"}),
        ("a[b=1", {"a_b": "1"}),
        ("=x&&[a]=1", {}),
        ("a=1&a=2", {"a": "2"}),
    ],
)
def test_parse_str(query, expected):
    assert parse_str(query) == expected


@given(st.dictionaries(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True), st.text()))
def test_parse_str_round_trips_flat_forms(form):
    assert parse_str(urlencode(form)) == form


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("123", 123),
        (" 12", 12),
        ("12abc", 12),
        ("1.9", 1),
        (1.9, 1),
        ("1e3", 1000),
        ("abc", 0),
        ("", 0),
        ("-5", -5),
        (True, 1),
        (None, 0),
        (["5"], 1),
        ([], 0),
        ("1e400", 0),
    ],
)
def test_to_int(value, expected):
    assert to_int(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5", True),
        (" 5", True),
        ("5 ", True),
        ("5.0", True),
        ("1e3", True),
        ("-3", True),
        (".5", True),
        ("abc", False),
        ("5abc", False),
        ("", False),
        (".", False),
        (True, False),
        (None, False),
        ([5], False),
        (5, True),
        (5.5, True),
    ],
)
def test_is_numeric(value, expected):
    assert is_numeric(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, False),
        ("0", False),
        ("", False),
        (None, False),
        ([], False),
        (False, False),
        ("false", True),
        ("1", True),
        (1, True),
        ("0.0", True),
        ([0], True),
    ],
)
def test_to_bool(value, expected):
    assert to_bool(value) is expected


@given(st.integers(min_value=-(2**62), max_value=2**62))
def test_to_int_of_a_decimal_string_is_the_number(number):
    assert to_int(str(number)) == number
    assert is_numeric(str(number))
