"""Who may become administrator by himself (docs/design.md, "The rules of
self-promotion").

Each rule refuses with its own sentence, saying what to do next. They are
checked under the customer's lock inside the promotion's transaction. The
residential one-administrator rule is the directory's, which decides it for
every promotion (:mod:`idp.directory.administrators`); the console only words
its refusal for the member (:func:`residential_taken`)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from claims.policy import Allowed
from claims.vocabulary import Channel, Role
from idp.directory.models import Customer, Membership, Person


class Refusal(StrEnum):
    WRONG_NUMBER = "wrong_number"
    SUSPENDED = "suspended"
    UNVERIFIED = "unverified"
    ALREADY = "already_administrator"
    EXCLUDED = "excluded"
    CLOSED = "self_promotion_closed"
    RESIDENTIAL_TAKEN = "residential_has_administrator"
    APP_CHANNEL = "app_channel"
    THROTTLED = "throttled"
    NOT_ADMINISTRATOR = "not_administrator"
    NO_SUCH_MEMBER = "no_such_member"
    NOT_RESIDENTIAL = "not_residential"
    NOT_A_USER = "not_a_user"


@dataclass(frozen=True)
class Refused:
    """Why not (``code`` for audits and tests, ``message`` for the person)."""

    code: Refusal
    message: str

    def __bool__(self) -> bool:
        return False


Eligibility = Allowed | Refused

# The same words for a mistyped number and for another company's number: the
# number is printed on every bill, so which numbers exist must not leak.
WRONG_NUMBER = ("This is not the customer number of an account you belong to. Please check "
                "the number on your bill and try again.")


def may_promote(person: Person, membership: Membership | None, customer: Customer | None,
                channel: str) -> Eligibility:
    """May ``person`` make himself administrator of ``customer``, now, as far
    as the console's own rules go?"""
    if channel != Channel.WEB.value:
        return Refused(Refusal.APP_CHANNEL,
                       "Becoming administrator is done on the web site, not in the app. Please "
                       "sign in on the web site and try again.")
    if membership is None or customer is None:
        return Refused(Refusal.WRONG_NUMBER, WRONG_NUMBER)
    number = customer.number
    if not person.is_active:
        return Refused(Refusal.SUSPENDED, "Your account is suspended, so it cannot become "
                       "administrator. Please contact our helpdesk.")
    if not person.email_verified:
        return Refused(Refusal.UNVERIFIED, "Please confirm your e-mail address first: "
                       "administrators are told of changes by e-mail.")
    if membership.role is Role.ADMINISTRATOR:
        return Refused(Refusal.ALREADY,
                       f"You are already an administrator of customer number {number}.")
    if membership.excluded_from_administration:
        return Refused(Refusal.EXCLUDED,
                       f"An administrator of customer number {number} has excluded you from "
                       "administration. Please ask an administrator if you need to be one.")
    if not customer.self_promotion_open:
        return Refused(Refusal.CLOSED,
                       f"The administrators of customer number {number} have closed "
                       "self-promotion. Please ask an administrator to make you one.")
    return Allowed()


def residential_taken(customer: Customer) -> Refused:
    """The directory's one-administrator rule refused: the console's words for it."""
    return Refused(Refusal.RESIDENTIAL_TAKEN,
                   f"Customer number {customer.number} is a residential customer, which has "
                   "one administrator, and it has one already. Please ask the administrator "
                   "to hand administration over to you.")
