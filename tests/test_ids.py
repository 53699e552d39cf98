"""Lead-id validation: the same for both routes, before any request."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b24shim import InvalidLeadId
from b24shim.ids import MAX_LEAD_ID, parse_lead_id

ASCII_SPACE = st.sampled_from([" ", "\t", "\n", "\r", "\x0b", "\x0c"])


@given(st.integers(min_value=1, max_value=MAX_LEAD_ID))
def test_positive_ints_are_accepted_as_they_are(value: int) -> None:
    assert parse_lead_id(value) == value


@given(
    st.integers(min_value=1, max_value=MAX_LEAD_ID),
    st.lists(ASCII_SPACE, max_size=3).map("".join),
    st.lists(ASCII_SPACE, max_size=3).map("".join),
    st.integers(min_value=0, max_value=3),
)
def test_digit_strings_with_surrounding_space_are_accepted(
    value: int, before: str, after: str, zeros: int
) -> None:
    assert parse_lead_id(f"{before}{'0' * zeros}{value}{after}") == value


@given(st.integers(max_value=0))
def test_zero_and_negative_ints_are_refused(value: int) -> None:
    with pytest.raises(InvalidLeadId):
        parse_lead_id(value)


@given(st.integers(min_value=MAX_LEAD_ID + 1))
def test_ints_above_the_portal_range_are_refused(value: int) -> None:
    with pytest.raises(InvalidLeadId, match="at most"):
        parse_lead_id(value)
    with pytest.raises(InvalidLeadId):
        parse_lead_id(str(value))


@given(st.text())
def test_any_string_is_accepted_only_if_it_is_ascii_digits(text: str) -> None:
    stripped = text.strip(" \t\n\r\x0b\x0c")
    valid = stripped.isascii() and stripped.isdigit() and 0 < int(stripped) <= MAX_LEAD_ID
    if valid:
        assert parse_lead_id(text) == int(stripped)
    else:
        with pytest.raises(InvalidLeadId):
            parse_lead_id(text)


@pytest.mark.parametrize(
    "value",
    [
        # PHP (int) would turn these into ids (spec 2.2); the shim refuses them all.
        "12abc",
        "1.9",
        "1e3",
        "+5",
        "-5",
        " 12 abc",
        "0x1F",
        "1_000",
        "",
        "   ",
        "0",
        "000",
        "١٢",  # Arabic-Indic digits
        "\uff11\uff12",  # full-width digits
        "12\u00a0",  # a non-breaking space is not ASCII whitespace
        True,
        False,
        1.0,
        1.9,
        float("nan"),
        b"12",
        [5],
        [],
        {"id": 5},
        None,
        object(),
        str(2**63),
        2**63,
    ],
)
def test_php_cast_quirks_and_other_values_are_refused(value: object) -> None:
    with pytest.raises(InvalidLeadId) as info:
        parse_lead_id(value)
    assert isinstance(info.value, ValueError)
    assert "not a lead id" in str(info.value)


def test_the_largest_id_is_accepted() -> None:
    assert parse_lead_id(str(MAX_LEAD_ID)) == MAX_LEAD_ID
    assert parse_lead_id("0" * 30 + "5") == 5
