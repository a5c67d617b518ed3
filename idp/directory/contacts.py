"""E-mail addresses, mobile numbers and display names, as people type them."""

import re
import unicodedata

from idp.directory.errors import InvalidEmail, InvalidMobile, InvalidName

EMAIL_MAX = 254  # RFC 5321 §4.5.3.1.3, the path limit less the brackets
NAME_MAX = 200

# A pragmatic address check: one "@", a local part without spaces or control
# characters, a domain of dot-separated labels. Deliverability is the mail
# server's business; this only refuses what cannot be an address.
_LOCAL = re.compile(r"[^\s@\"(),:;<>\[\]\\]{1,64}")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.ASCII)
# E.164: "+", a country code not starting with 0, at most 15 digits in all.
_E164 = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
_MOBILE_SEPARATORS = re.compile(r"[ .\-()/]", re.ASCII)


def _has_control(text: str) -> bool:
    # Cs: a lone surrogate (bytes that were not UTF-8) cannot be stored nor shown.
    return any(unicodedata.category(c) in {"Cc", "Cf", "Cs", "Zl", "Zp"} for c in text)


def normalise_email(text: str) -> str:
    """The canonical form of an e-mail address: trimmed, lower-cased.

    Addresses are unique case-insensitively, so they are stored this way."""
    address = text.strip().lower()
    if not address:
        raise InvalidEmail("Please give an e-mail address.")
    if len(address) > EMAIL_MAX or _has_control(address):
        raise InvalidEmail("This is not an e-mail address.")
    local, at, domain = address.rpartition("@")
    if not at or not _LOCAL.fullmatch(local) or local.startswith(".") or local.endswith("."):
        raise InvalidEmail("This is not an e-mail address (expected name@example.com).")
    labels = domain.encode("idna").decode("ascii").split(".") if _is_idna(domain) else []
    if len(labels) < 2 or not all(_LABEL.fullmatch(label) for label in labels):
        raise InvalidEmail("The part after @ is not a domain name (expected name@example.com).")
    return address


def _is_idna(domain: str) -> bool:
    try:
        domain.encode("idna")
    except UnicodeError:
        return False
    return True


def normalise_mobile(text: str) -> str:
    """A mobile number in E.164 form (``+32470000001``).

    Spaces, dots, dashes, slashes and parentheses are accepted and removed;
    the number must start with ``+`` and its country code."""
    number = _MOBILE_SEPARATORS.sub("", text.strip())
    if number.startswith("00"):
        number = "+" + number[2:]
    if not _E164.fullmatch(number):
        raise InvalidMobile(
            "A mobile number is written with + and the country code, "
            "for example +32 470 00 00 01.")
    return number


def normalise_name(text: str) -> str:
    """A display name: trimmed, NFC, no control characters, at most 200 characters."""
    name = unicodedata.normalize("NFC", " ".join(text.split()))
    if not name:
        raise InvalidName("Please give a name.")
    if len(name) > NAME_MAX or _has_control(name):
        raise InvalidName(f"A name has at most {NAME_MAX} printable characters.")
    return name
