"""Dates, times and phone numbers written for people, in the language of the
page or e-mail and the customer's time zone (``BABEL_DEFAULT_TIMEZONE``,
from the ``TIME_ZONE`` setting).

The database keeps UTC; a naive datetime read back from SQLite is UTC too."""

from __future__ import annotations

from datetime import UTC, datetime

import phonenumbers
from flask_babel import format_date, format_time, gettext

KINDS = {phonenumbers.PhoneNumberType.MOBILE: "mobile",
         phonenumbers.PhoneNumberType.FIXED_LINE: "fixed",
         phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_or_mobile"}


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def when(moment: datetime | None) -> str:
    """6 December 2026 at 21:05 / 6 décembre 2026 à 21:05, in local time."""
    if moment is None:
        return ""
    moment = _aware(moment)
    return gettext("%(date)s at %(time)s", date=format_date(moment, "long"),
                   time=format_time(moment, "short"))


def day(moment: datetime | None) -> str:
    """6 December 2026, in local time."""
    return "" if moment is None else format_date(_aware(moment), "long")


def parse(number: str | None, region: str = "BE") -> phonenumbers.PhoneNumber | None:
    if not number:
        return None
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    return parsed if phonenumbers.is_possible_number(parsed) else None


def phone(number: str | None, region: str = "BE") -> str:
    """+32470123456 -> "0470 12 34 56" for a Belgian number, the international
    form ("+33 6 12 34 56 78") for any other; as given when it is no number."""
    parsed = parse(number, region)
    if parsed is None:
        return number or ""
    if phonenumbers.region_code_for_number(parsed) == region:
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def kind(number: str | None, region: str = "BE") -> str:
    """"mobile", "fixed", "fixed_or_mobile" or "other" (phonenumbers' metadata)."""
    parsed = parse(number, region)
    if parsed is None:
        return "other"
    return KINDS.get(phonenumbers.number_type(parsed), "other")


def is_mobile(number: str | None, region: str = "BE") -> bool:
    return kind(number, region) in {"mobile", "fixed_or_mobile"}
