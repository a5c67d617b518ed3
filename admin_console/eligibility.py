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

from flask_babel import gettext as _
from flask_babel import ngettext

from claims.policy import Allowed
from claims.vocabulary import Channel, CustomerType, Role
from idp.directory.administrators import one_administrator_rule
from idp.directory.models import Customer, Membership, Person
from idp.i18n import _l


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
    message: str  # in the page's language (lazy for a module-level refusal)

    def __bool__(self) -> bool:
        return False


Eligibility = Allowed | Refused

# The same words for a mistyped number and for another company's number: the
# number is printed on every bill, so which numbers exist must not leak.
WRONG_NUMBER = _l("This is not the customer number of an account you belong to. Please check "
                  "the number on your bill and try again.")


def names(people: Sequence[str], conjunction: str = "or") -> str:
    """"Philip Smith", "Philip Smith or Anna Smith", "A, B, C or 2 more"
    (``conjunction``: "or" or "and"), in the page's language."""
    shown = list(people[:3])
    if len(people) > 3:
        more = len(people) - 3
        if conjunction == "and":
            return ngettext("%(names)s and %(num)d more", "%(names)s and %(num)d more", more,
                            names=", ".join(shown))
        return ngettext("%(names)s or %(num)d more", "%(names)s or %(num)d more", more,
                        names=", ".join(shown))
    if len(shown) <= 1:
        return "".join(shown)
    first, last = ", ".join(shown[:-1]), shown[-1]
    if conjunction == "and":
        return _("%(first)s and %(last)s", first=first, last=last)
    return _("%(first)s or %(last)s", first=first, last=last)


def _ask_to_make(customer: Customer, administrators: Sequence[str]) -> str:
    """Who can make this member administrator, and how."""
    if not administrators:
        return _("It has no administrator now, so please contact our helpdesk.")
    if customer.type is CustomerType.RESIDENTIAL:
        return _("Please ask the administrator, %(name)s, to hand administration over to you "
                 "on the Members page of the console.", name=administrators[0])
    return _("Please ask %(names)s to make you an administrator on the Members page of the "
             "console.", names=names(administrators))


def may_promote(person: Person, membership: Membership | None, customer: Customer | None,
                channel: str, administrators: Sequence[str] = ()) -> Eligibility:
    """May ``person`` make himself administrator of ``customer``, now, as far
    as the console's own rules go? ``administrators`` are the names of the
    customer's administrators, for the advice."""
    if channel != Channel.WEB.value:
        return Refused(Refusal.APP_CHANNEL, _(
            "Becoming administrator is done on the web site, not in the app. Please sign in on "
            "the web site and try again."))
    if membership is None or customer is None:
        return Refused(Refusal.WRONG_NUMBER, str(WRONG_NUMBER))
    number = customer.number
    if not person.is_active:
        return Refused(Refusal.SUSPENDED, _(
            "Your account is suspended, so it cannot become administrator. Please contact our "
            "helpdesk."))
    if not person.email_verified:
        return Refused(Refusal.UNVERIFIED, _(
            "Please confirm your e-mail address first: administrators are told of changes by "
            "e-mail. Follow the link we sent to %(email)s, or send the link again.",
            email=person.email))
    if membership.role is Role.ADMINISTRATOR:
        return Refused(Refusal.ALREADY, _(
            "You are already an administrator of customer number %(number)s.", number=number))
    if membership.excluded_from_administration:
        return Refused(Refusal.EXCLUDED, _(
            "An administrator of customer number %(number)s has excluded you from "
            "administration. %(next)s", number=number,
            next=_ask_to_make(customer, administrators)))
    if not customer.self_promotion_open:
        if not administrators:
            opener = _("It has no administrator to open it again, so please contact our "
                       "helpdesk.")
        else:
            opener = _("Only an administrator can open it again: %(names)s. %(next)s",
                       names=names(administrators),
                       next=_ask_to_make(customer, administrators))
        return Refused(Refusal.CLOSED, _(
            "The administrators of customer number %(number)s have closed self-promotion. "
            "%(next)s", number=number, next=opener))
    return Allowed()


def residential_taken(customer: Customer, administrators: Sequence[str] = ()) -> Refused:
    """The directory's one-administrator rule refused: the console's words for it."""
    if administrators:
        return Refused(Refusal.RESIDENTIAL_TAKEN, _(
            "Customer number %(number)s is a residential customer, which has one "
            "administrator, and it has one already. Please ask the administrator, %(name)s, "
            "to hand administration over to you on the Members page of the console.",
            number=customer.number, name=administrators[0]))
    return Refused(Refusal.RESIDENTIAL_TAKEN, _(
        "Customer number %(number)s is a residential customer, which has one administrator, "
        "and it has one already. Please ask the administrator to hand administration over to "
        "you on the Members page of the console.", number=customer.number))


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
