from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from phonotheque.errors import BudgetError
from phonotheque.units import format_size, parse_size


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4TB", 4 * 10**12),
        ("500 GiB", 500 * 2**30),
        ("1.5T", 1_500_000_000_000),
        ("0", 0),
        ("123", 123),
        ("2 kib", 2048),
        (" 10mb ", 10_000_000),
    ],
)
def test_parse_size_accepts_what_people_type(text: str, expected: int) -> None:
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["-1", "lots", "4 TBs", "", "nan", "1e400 TB", "4..2TB"])
def test_parse_size_rejects_nonsense_with_the_text_in_the_message(text: str) -> None:
    with pytest.raises(BudgetError) as info:
        parse_size(text, what="--budget")
    assert "--budget" in str(info.value)


def test_zero_can_be_refused() -> None:
    with pytest.raises(BudgetError, match="greater than zero"):
        parse_size("0", allow_zero=False)


@given(st.integers(min_value=0, max_value=10**18))
def test_plain_integers_round_trip(n: int) -> None:
    assert parse_size(str(n)) == n


def test_format_size_uses_decimal_units() -> None:
    assert format_size(999) == "999 B"
    assert format_size(1_234_567) == "1.2 MB"
    assert format_size(4 * 10**12) == "4.0 TB"
