"""Which customer an authorization speaks for (docs/design.md, "One token
speaks for one customer").

- The client may name one with the request parameter ``customer_number``:
  it must be a customer of the signed-in person, or the request is refused.
- Otherwise a person with one membership gets that one, a person with none
  gets tokens without customer claims, and a person with several chooses on
  the account-chooser page (``prompt=none`` then answers
  ``account_selection_required``).

The choice is remembered for this authorization request only (in the signed
Flask session, keyed by the request's digest), so it survives the consent
page and nothing else: switching customers is a new authorization.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import request, session

from claims.customer_numbers import InvalidCustomerNumber, normalise_customer_number
from claims.vocabulary import CUSTOMER_NUMBER_PARAMETER
from idp.directory.models import Membership, Person
from idp.directory.services import Directory

CHOICE = "customer_choice"  # key in the signed Flask session
FIELD = "customer"          # the chooser form's field


class ChoiceRefused(ValueError):
    """The client's ``customer_number`` cannot be used; ``description`` is
    fixed text (it goes into a redirect's ``error_description``)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class Choice:
    membership: Membership | None = None  # decided (None: no customer at all)
    choices: tuple[Membership, ...] = ()  # undecided: the person must pick one

    @property
    def needed(self) -> bool:
        return bool(self.choices)


def _by_number(memberships, number: str) -> Membership | None:
    return next((m for m in memberships if m.customer.number == number), None)


def choose(directory: Directory, person: Person, request_digest: str,
           picked: str | None = None) -> Choice:
    """The choice for this request; ``picked`` is what the person chose on
    the chooser page (the caller has checked the form's CSRF token)."""
    memberships = tuple(directory.memberships_of(person))
    asked = request.values.get(CUSTOMER_NUMBER_PARAMETER)
    if asked is not None:
        try:
            number = normalise_customer_number(asked)
        except InvalidCustomerNumber:
            raise ChoiceRefused("'customer_number' is not a customer number.") from None
        member = _by_number(memberships, number)
        if member is None:
            raise ChoiceRefused(
                f"The signed-in person is not a member of customer number {number}.")
        return Choice(member)
    if len(memberships) <= 1:
        return Choice(memberships[0] if memberships else None)
    remembered = session.get(CHOICE) or {}
    if remembered.get("request") == request_digest:
        member = _by_number(memberships, remembered.get("customer", ""))
        if member is not None:
            return Choice(member)
    if picked is not None:
        member = _by_number(memberships, picked)
        if member is not None:
            session[CHOICE] = {"request": request_digest, "customer": picked}
            return Choice(member)
    return Choice(choices=memberships)


def forget() -> None:
    session.pop(CHOICE, None)
