"""Who may become administrator by himself (docs/design.md, "The rules of
self-promotion").

Each rule refuses with its own sentence, saying what to do next, and the
next step is always one somebody can take: the administrators are named,
with what each of them can do in the console ("Every page's advice leads
somewhere real"). The rules are checked under the customer's lock inside the
promotion's transaction, and without it to advise a member before he types
anything (:func:`advise`). The residential one-administrator rule is the
directory's, which decides it for every promotion
(:mod:`idp.directory.administrators`); the console only words its refusal
for the member (:func:`residential_taken`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from claims.policy import Allowed
from claims.vocabulary import Channel, CustomerType, Role
from idp.directory.administrators import one_administrator_rule
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
    NOT_BUSINESS = "not_business"
    SELF_REMOVAL = "self_removal"
    ALREADY_MEMBER = "already_member"
    HAS_ACCOUNT = "has_account"
    WRONG_PERSON = "wrong_person"
    INVALID = "invalid_input"
    NO_SUCH_INVITATION = "no_such_invitation"


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
HELPDESK = "It has no administrator now, so please contact our helpdesk."
MEMBERS_PAGE = "on the Members page of the console"


def names(people: Sequence[str], conjunction: str = "or") -> str:
    """"Philip Smith", "Philip Smith or Anna Smith", "A, B, C or 2 more"."""
    shown = list(people[:3])
    if len(people) > 3:
        return f"{', '.join(shown)} {conjunction} {len(people) - 3} more"
    if len(shown) <= 1:
        return "".join(shown)
    return f"{', '.join(shown[:-1])} {conjunction} {shown[-1]}"


def _ask_to_make(customer: Customer, administrators: Sequence[str]) -> str:
    """Who can make this member administrator, and how."""
    if not administrators:
        return HELPDESK
    if customer.type is CustomerType.RESIDENTIAL:
        return (f"Please ask the administrator, {administrators[0]}, to hand administration "
                f"over to you {MEMBERS_PAGE}.")
    return (f"Please ask {names(administrators)} to make you an administrator "
            f"{MEMBERS_PAGE}.")


def may_promote(person: Person, membership: Membership | None, customer: Customer | None,
                channel: str, administrators: Sequence[str] = ()) -> Eligibility:
    """May ``person`` make himself administrator of ``customer``, now, as far
    as the console's own rules go? ``administrators`` are the names of the
    customer's administrators, for the advice."""
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
                       "administrators are told of changes by e-mail. Follow the link we sent "
                       f"to {person.email}, or send the link again.")
    if membership.role is Role.ADMINISTRATOR:
        return Refused(Refusal.ALREADY,
                       f"You are already an administrator of customer number {number}.")
    if membership.excluded_from_administration:
        return Refused(Refusal.EXCLUDED,
                       f"An administrator of customer number {number} has excluded you from "
                       f"administration. {_ask_to_make(customer, administrators)}")
    if not customer.self_promotion_open:
        if not administrators:
            opener = ("It has no administrator to open it again, so please contact our "
                      "helpdesk.")
        else:
            opener = (f"Only an administrator can open it again: {names(administrators)}. "
                      f"{_ask_to_make(customer, administrators)}")
        return Refused(Refusal.CLOSED,
                       f"The administrators of customer number {number} have closed "
                       f"self-promotion. {opener}")
    return Allowed()


def residential_taken(customer: Customer, administrators: Sequence[str] = ()) -> Refused:
    """The directory's one-administrator rule refused: the console's words for it."""
    who = f"the administrator, {administrators[0]}," if administrators else "the administrator"
    return Refused(Refusal.RESIDENTIAL_TAKEN,
                   f"Customer number {customer.number} is a residential customer, which has "
                   f"one administrator, and it has one already. Please ask {who} to hand "
                   f"administration over to you {MEMBERS_PAGE}.")


def advise(person: Person, membership: Membership, channel: str,
           administrators: Sequence[Membership]) -> Eligibility:
    """The console's advice before a member types anything: the rules of
    :func:`may_promote`, then the directory's one-administrator rule, read
    without the lock (the promotion checks them all again under it)."""
    customer = membership.customer
    others = [m for m in administrators if m.id != membership.id]
    decision = may_promote(person, membership, customer, channel,
                           [m.person.name for m in others])
    if decision and not one_administrator_rule(customer, others):
        return residential_taken(customer, [m.person.name for m in others])
    return decision
