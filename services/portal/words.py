"""The operator's records as people read them, in the language of the page:
option names and descriptions, subscription kinds and plans, bill statuses,
money, months and quantities (Babel's formats for the page's locale).

The store keeps the product's English names, which are also what the forms
send back (an option is named by its name under a subscription): only what
is shown is translated. A name the catalogue does not know (a product added
later) is shown as stored."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask_babel import format_currency, format_date, format_decimal

from idp.i18n import _l
from idp.i18n.formats import phone
from services.operator_data import BillStatus, Subscription, SubscriptionKind

# name -> (the name for people, what it does)
OPTIONS = {
    "Voicemail to e-mail": (
        _l("Voicemail to e-mail"),
        _l("Your voicemail messages arrive in your mailbox as audio files.")),
    "Hide my number": (
        _l("Hide my number"),
        _l("The people you call do not see your number.")),
    "Roaming Europe Pass": (
        _l("Roaming Europe Pass"),
        _l("Call, text and surf in the other countries of the European Union as you do at "
           "home.")),
    "Extra 10 GB": (
        _l("Extra 10 GB"),
        _l("10 GB of mobile data on top of your plan, every month.")),
    "Parental filter": (
        _l("Parental filter"),
        _l("Blocks websites that are not meant for children.")),
    "Fixed IP address": (
        _l("Fixed IP address"),
        _l("The same public IP address every time, to reach your own servers.")),
    "Wi-Fi booster": (
        _l("Wi-Fi booster"),
        _l("A second Wi-Fi point for the rooms your modem does not reach.")),
    "Sport pack": (
        _l("Sport pack"),
        _l("Live football, tennis and cycling on your TV.")),
    "Replay+": (
        _l("Replay+"),
        _l("Watch the programmes of the last 7 days again, without the adverts.")),
}

PLANS = {
    "Business Mobile Unlimited": _l("Business Mobile Unlimited"),
    "Business Mobile 20 GB": _l("Business Mobile 20 GB"),
    "Business Mobile 10 GB": _l("Business Mobile 10 GB"),
    "Business Internet Fibre 500 Mbps": _l("Business Internet Fibre 500 Mbps"),
    "Mobile 5 GB": _l("Mobile 5 GB"),
    "Internet + TV Flex": _l("Internet + TV Flex"),
}

KINDS = {
    SubscriptionKind.MOBILE: _l("mobile"),
    SubscriptionKind.FIXED_LINE: _l("fixed line"),
    SubscriptionKind.INTERNET: _l("internet"),
    SubscriptionKind.TV: _l("TV"),
}

BILL_STATUSES = {
    BillStatus.PAID: _l("paid"),
    BillStatus.OPEN: _l("open"),
    BillStatus.OVERDUE: _l("overdue"),
}


def option_name(name: str) -> str:
    known = OPTIONS.get(name)
    return str(known[0]) if known else name


def option_description(name: str) -> str:
    known = OPTIONS.get(name)
    return str(known[1]) if known else ""


def plan(name: str) -> str:
    return str(PLANS[name]) if name in PLANS else name


def kind(value: SubscriptionKind) -> str:
    return str(KINDS.get(value, value))


def bill_status(value: BillStatus) -> str:
    return str(BILL_STATUSES.get(value, value))


def line(subscription: Subscription) -> str:
    """A mobile's number written for people ("0470 12 34 56"); another line's
    reference as it is ("INT-123456789-01")."""
    return phone(subscription.number) if subscription.is_mobile else subscription.number


def euros(cents: int) -> str:
    """1000 -> "10,00 €" in French, "€ 10,00" in Dutch (the page's locale)."""
    return format_currency(Decimal(cents).scaleb(-2), "EUR")


def amount(number: int) -> str:
    """7340 -> "7 340" in French, "7.340" in Dutch."""
    return format_decimal(number)


def month(value: str) -> str:
    """"2026-10" (how the store keeps months) -> "October 2026", "octobre 2026"."""
    try:
        year, number = (int(part) for part in value.split("-"))
        return format_date(date(year, number, 1), "MMMM y")
    except ValueError:
        return value


def first_upper(text: str) -> str:
    """"see the bills" -> "See the bills" (Jinja's ``capitalize`` lowers the rest: "Tv")."""
    text = str(text)
    return text[:1].upper() + text[1:]


FILTERS = {"euros": euros, "amount": amount, "month": month, "option_name": option_name,
           "option_description": option_description, "plan": plan, "kind_word": kind,
           "bill_status": bill_status, "line": line, "first_upper": first_upper}

__all__ = ["FILTERS", "amount", "bill_status", "euros", "first_upper", "kind", "line", "month",
           "option_description", "option_name", "plan"]
