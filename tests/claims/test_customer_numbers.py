"""Customer numbers as people type them (issue 2; "Customer numbers are nine ASCII
digits" and "Bad input is refused, never a 500" in docs/security.md)."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from claims.customer_numbers import InvalidCustomerNumber, normalise_customer_number

ACCEPTED = [
    ("123456789", "123456789"),
    (" 123 456 789 ", "123456789"),
    ("123.456.789", "123456789"),
    ("123-456-789", "123456789"),
    ("1 2 3 4 5 6 7 8 9", "123456789"),
    ("123 - 456 . 789", "123456789"),
    ("\t123456789\n", "123456789"),
    ("012345678", "012345678"),  # a leading zero is part of the number
    ("000000000", "000000000"),
]

# (typed, a phrase the reason must contain)
REFUSED = [
    ("", "Please type your customer number"),
    ("   ", "Please type your customer number"),
    ("12345678", "exactly 9 digits; this has 8"),
    ("0123456789", "exactly 9 digits; this has 10"),
    ("1234567890123", "exactly 9 digits; this has 13"),
    ("1" * 10_000, "far too long"),
    ("１２３４５６７８９", "digits 0 to 9"),                       # fullwidth
    ("١٢٣٤٥٦٧٨٩", "digits 0 to 9"),                        # Arabic-Indic
    ("۱۲۳۴۵۶۷۸۹", "digits 0 to 9"),                        # Extended Arabic-Indic
    ("12345678\u00b9", "digits 0 to 9"),                   # superscript one
    ("123\u200b456789", "only digits"),                    # zero-width space
    ("123\u200d456789", "only digits"),                    # zero-width joiner
    ("123\u00a0456\u00a0789", "only digits"),              # no-break spaces inside
    ("12345678a", "only digits"),
    ("BE123456789", "only digits"),
    ("123_456_789", "only digits"),
    ("123/456/789", "only digits"),
    ("123456789\x00", "only digits"),
    ("123456789'; DROP TABLE customer; --", "only digits"),
    ("+123456789", "only digits"),
    ("-123456789", "starts and ends with a digit"),
    ("123456789.", "starts and ends with a digit"),
    ("...", "starts and ends with a digit"),
]


@pytest.mark.parametrize(("typed", "canonical"), ACCEPTED)
def test_accepted_forms_normalise_to_nine_digits(typed, canonical):
    assert normalise_customer_number(typed) == canonical


@pytest.mark.parametrize(("typed", "phrase"), REFUSED,
                         ids=[repr(t[:20]) for t, _ in REFUSED])
def test_refused_with_a_reason(typed, phrase):
    with pytest.raises(InvalidCustomerNumber) as refused:
        normalise_customer_number(typed)
    assert phrase in refused.value.reason
    assert str(refused.value) == refused.value.reason


def test_not_text_is_refused():
    with pytest.raises(InvalidCustomerNumber):
        normalise_customer_number(123456789)  # type: ignore[arg-type]


def test_result_is_a_string_never_an_int():
    # int() would turn this into 12345678 and accept "１２３..." too.
    number = normalise_customer_number("012 345 678")
    assert isinstance(number, str) and number != str(int(number))


@given(st.text(max_size=80))
def test_any_text_is_refused_or_nine_ascii_digits_in_typed_order(typed):
    try:
        number = normalise_customer_number(typed)
    except InvalidCustomerNumber as refused:
        assert refused.reason
        return
    assert re.fullmatch(r"[0-9]{9}", number, re.ASCII)
    assert number == "".join(c for c in typed if c in "0123456789")
    assert normalise_customer_number(number) == number


@given(st.lists(st.sampled_from("0123456789"), min_size=9, max_size=9),
       st.lists(st.sampled_from([" ", ".", "-", "", ""]), min_size=8, max_size=8))
def test_digits_with_any_separators_are_accepted(digits, separators):
    typed = digits[0] + "".join(s + d for s, d in zip(separators, digits[1:], strict=True))
    assert normalise_customer_number(typed) == "".join(digits)
