"""Customer numbers as people type them.

A customer number is nine ASCII digits, kept and compared as a string (never
``int()``: it would drop leading zeros and accept fullwidth or Arabic-Indic
digits).
People copy it from a bill, so spaces, dots and dashes between digits are
accepted and removed; anything else is refused with a reason a person can act on.
"""

import re

LENGTH = 9
MAX_INPUT = 64  # longer input is refused before any other work

_SEPARATORS = re.compile(r"[ .\-]+", re.ASCII)
_CANONICAL = re.compile(rf"[0-9]{{{LENGTH}}}", re.ASCII)
_ASCII_DIGIT = re.compile(r"[0-9]", re.ASCII)


class InvalidCustomerNumber(ValueError):
    """What was typed is not a customer number; ``reason`` says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def normalise_customer_number(text: str) -> str:
    """Return the canonical nine-digit form of ``text`` or raise
    :class:`InvalidCustomerNumber`.

    >>> normalise_customer_number(" 123.456-789 ")
    '123456789'
    """
    if not isinstance(text, str):
        raise InvalidCustomerNumber("A customer number must be text.")
    if len(text) > MAX_INPUT:
        raise InvalidCustomerNumber(
            f"A customer number has {LENGTH} digits; this is far too long."
        )
    stripped = text.strip()  # surrounding whitespace from a copy-paste is harmless
    if not stripped:
        raise InvalidCustomerNumber("Please type your customer number (9 digits).")
    for char in stripped:
        if _ASCII_DIGIT.fullmatch(char) or _SEPARATORS.fullmatch(char):
            continue
        if char.isdigit() or char.isnumeric():
            raise InvalidCustomerNumber(
                "Please type the customer number with the digits 0 to 9."
            )
        raise InvalidCustomerNumber(
            "A customer number has only digits (spaces, dots and dashes between "
            "them are fine)."
        )
    if not stripped[0].isdigit() or not stripped[-1].isdigit():
        raise InvalidCustomerNumber(
            "A customer number starts and ends with a digit."
        )
    digits = _SEPARATORS.sub("", stripped)
    if not _CANONICAL.fullmatch(digits):
        raise InvalidCustomerNumber(
            f"A customer number has exactly {LENGTH} digits; this has {len(digits)}."
        )
    return digits
