"""The confirmation of a paid option: the page that shows the price hands out
a signed ticket naming the person, the option and that price; only a POST
that brings the ticket back activates the option.

So a paid option is never activated by one click, nor by a form that skipped
the page (a hand-made POST has no ticket), nor at a price the person did not
see (a price changed since is asked again). The ticket is signed with the
service's secret key and expires; replaying it is harmless (activating an
active option changes nothing) and, like every form, it also needs the
session's CSRF token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer

from claims import Identity
from services.operator_data import Option

SALT = "portal.paid-option-confirmation"
MAX_AGE = 15 * 60  # seconds a confirmation page stays good


class Problem(Enum):
    EXPIRED = "expired"  # ask again
    PRICE_CHANGED = "price changed"  # ask again, with the new price
    NOT_THIS = "not this"  # forged, garbled, another person's or another option's


@dataclass(frozen=True)
class Checked:
    problem: Problem | None = None

    def __bool__(self) -> bool:
        return self.problem is None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt=SALT)


def _facts(identity: Identity, option: Option) -> list:
    return [identity.subject, identity.customer_number, option.id]


def issue(identity: Identity, option: Option) -> str:
    """The ticket for the page that asks ``identity`` to confirm ``option`` at its price."""
    return _serializer().dumps([*_facts(identity, option), option.monthly_fee_cents])


def check(ticket: str, identity: Identity, option: Option) -> Checked:
    """Whether ``ticket`` confirms ``option`` for ``identity`` at today's price."""
    try:
        signed, signed_at = _serializer().loads(ticket, return_timestamp=True)
    except BadSignature:
        return Checked(Problem.NOT_THIS)
    if not _names(signed, identity, option):
        return Checked(Problem.NOT_THIS)
    if datetime.now(UTC) - signed_at > timedelta(seconds=MAX_AGE):
        return Checked(Problem.EXPIRED)
    if signed[-1] != option.monthly_fee_cents:
        return Checked(Problem.PRICE_CHANGED)
    return Checked()


def _names(signed: object, identity: Identity, option: Option) -> bool:
    return (isinstance(signed, list) and len(signed) == 4
            and signed[:3] == _facts(identity, option))


__all__ = ["MAX_AGE", "Checked", "Problem", "check", "issue"]
