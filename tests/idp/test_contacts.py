"""E-mail addresses, mobile numbers and names as people type them."""

import pytest

from idp.directory.contacts import normalise_email, normalise_mobile, normalise_name
from idp.directory.errors import InvalidEmail, InvalidMobile, InvalidName


@pytest.mark.parametrize(("typed", "canonical"), [
    ("Mary.Jones@Smith-Ltd.Example", "mary.jones@smith-ltd.example"),
    ("  philip+tv@example.com ", "philip+tv@example.com"),
    ("o'brien@example.co.uk", "o'brien@example.co.uk"),
    ("jose@exämple.com", "jose@exämple.com"),
])
def test_email_accepted(typed, canonical):
    assert normalise_email(typed) == canonical


@pytest.mark.parametrize("typed", [
    "", "plain", "@example.com", "mary@", "mary@localhost", "mary@@example.com",
    "ma ry@example.com", "mary@exa mple.com", "mary@-example.com", "mary@example..com",
    ".mary@example.com", "mary\x00@example.com", "mary@example.com\u200b",
    "x" * 250 + "@example.com", "<mary@example.com>",
])
def test_email_refused(typed):
    with pytest.raises(InvalidEmail):
        normalise_email(typed)


@pytest.mark.parametrize(("typed", "canonical"), [
    ("+32470000001", "+32470000001"),
    ("+32 470 00 00 01", "+32470000001"),
    ("+32 (0)470", None),
    ("0032 470/00.00.01", "+32470000001"),
    ("+1-202-555-0143", "+12025550143"),
])
def test_mobile(typed, canonical):
    if canonical is None:
        with pytest.raises(InvalidMobile):
            normalise_mobile(typed)
    else:
        assert normalise_mobile(typed) == canonical


@pytest.mark.parametrize("typed", [
    "0470 00 00 01", "+0470000001", "+32", "+3247000000012345", "+32 47O", "+٣٢٤٧٠٠٠٠٠٠١",
    "tel:+32470000001", "",
])
def test_mobile_refused(typed):
    with pytest.raises(InvalidMobile, match="country code"):
        normalise_mobile(typed)


def test_names():
    assert normalise_name("  Mary \n Jones ") == "Mary Jones"
    assert normalise_name("Zoe\u0308") == "Zoë"  # NFC
    for bad in ["", "   ", "x" * 201, "Mary\u200bJones"]:
        with pytest.raises(InvalidName):
            normalise_name(bad)
