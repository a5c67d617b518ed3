"""Invitations, the invited person's side (:mod:`admin_console.invitations`
has the administrator's, and the rules of both): the link's page, read
without changing anything, and accepting it, as a new person or as one who
has a login, in one transaction under the customer's lock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_console.acting import moment, tell
from admin_console.eligibility import Refusal, Refused
from admin_console.invitations import INVITATION_ACCEPTED, already_member, name_of
from claims.vocabulary import Role
from idp.account import links
from idp.account.links import LinkRefused
from idp.account.models import AccountLink, LinkPurpose
from idp.account.verification import mark_verified
from idp.directory import locks
from idp.directory.contacts import normalise_name
from idp.directory.errors import InvalidInput
from idp.directory.models import Customer, Membership, Person
from idp.directory.services import Directory, person_actor
from idp.i18n import _l, current_language
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS


def has_login(email: str) -> str:
    return _("There is a login with %(email)s already. Please sign in with it to accept the "
             "invitation.", email=email)


@dataclass(frozen=True)
class Joined:
    """The invitation was accepted: the person is a member now."""

    email: str
    name: str
    customer_number: str
    customer_name: str
    new_person: bool

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Invitation:
    """What the invitation's page shows (read without changing anything)."""

    email: str
    customer_number: str
    customer_name: str
    invited_by: str       # the inviting administrator's name
    mobile: str | None
    until: datetime
    has_login: bool       # the address belongs to a person already
    member_already: bool  # ... who is a member of the customer already

    def __bool__(self) -> bool:
        return True


def _customer_of(db: Session, secret: object) -> int | None:
    """The customer an invitation's secret is for, read without a lock: only
    to know which customer's lock to take before the link's."""
    if not isinstance(secret, str) or not secret or len(secret) > links.MAX_SECRET:
        return None
    return db.scalar(select(AccountLink.customer_id).where(
        AccountLink.token_hash == links.digest(secret),
        AccountLink.purpose == LinkPurpose.INVITATION.value))


def _locked(db: Session, secret: object) -> tuple[AccountLink, Customer] | LinkRefused:
    """The customer's lock, then the link's: the order :func:`invite` takes them in."""
    customer_id = _customer_of(db, secret)
    customer = locks.customer(db, customer_id) if customer_id is not None else None
    if customer is None:
        return links.UNKNOWN
    found = links.find(db, LinkPurpose.INVITATION, secret)
    if not found:
        return found
    return found, customer


def look(db: Session, secret: object) -> Invitation | LinkRefused:
    """What the invitation's page shows; changes nothing (opening a link must
    not use it: mail scanners open links too)."""
    found = links.find(db, LinkPurpose.INVITATION, secret)
    if not found:
        return found
    customer = db.get(Customer, found.customer_id)
    if customer is None:
        return links.UNKNOWN
    person = Directory(db).find_person(found.email)
    member = person is not None and db.scalar(select(Membership.id).where(
        Membership.person_id == person.id, Membership.customer_id == customer.id)) is not None
    return Invitation(found.email, customer.number, customer.name,
                      name_of(db, found.created_by), found.mobile, found.expires_at,
                      person is not None, member)


def _join(db: Session, link: AccountLink, customer: Customer, person: Person,
          new_person: bool) -> Joined:
    """The membership, the link used, the audit, the administrators told."""
    Directory(db).add_membership(person, customer, Role(link.role or Role.USER.value),
                                 link.mobile, actor=person_actor(person))
    links.use(link)
    Directory(db).record(INVITATION_ACCEPTED, person_actor(person), customer=customer,
                         person=person, how="invitation", invited_by=link.created_by)
    administrators = [m.person for m in locks.administrators(db, customer.id)]
    words = {"name": person.name, "email": person.email, "number": customer.number,
             "inviter": name_of(db, link.created_by), "at": moment()}
    tell(db, "membership.invitation_accepted",
         _l("%(name)s joined customer %(number)s", **words), administrators, customer,
         _l("%(name)s (%(email)s) accepted the invitation of %(inviter)s and is a user of "
            "customer %(number)s since %(at)s.", **words),
         _l("You can change %(name)s's role or remove %(name)s on the Members page of the "
            "console.", **words))
    return Joined(person.email, person.name, customer.number, customer.name, new_person)


def accept_as_new_person(app: Flask, secret: object, name: str, password: str
                         ) -> Joined | Refused | LinkRefused:
    """The link's page for an address without a login: the new person,
    verified, and the membership."""
    try:
        name = normalise_name(name)
        # Hashed before the lock is taken: argon2 takes its time.
        password_hash = app.extensions[PASSWORDS].hash(password)
    except InvalidInput as invalid:
        return Refused(Refusal.INVALID, invalid.reason)
    with database.write_session(app) as db:
        found = _locked(db, secret)
        if isinstance(found, LinkRefused):
            return found
        link, customer = found
        directory = Directory(db)
        if directory.find_person(link.email) is not None:
            return Refused(Refusal.HAS_ACCOUNT, has_login(link.email))
        # He reads his e-mails in the language of the page he accepted on.
        person = directory.add_person(link.email, name, password_hash, email_verified=True,
                                      locale=current_language(), actor=link.created_by)
        return _join(db, link, customer, person, new_person=True)


def accept_as_member(app: Flask, secret: object, person_id: str
                     ) -> Joined | Refused | LinkRefused:
    """The link's page for an address with a login, whose person is signed in."""
    with database.write_session(app) as db:
        found = _locked(db, secret)
        if isinstance(found, LinkRefused):
            return found
        link, customer = found
        person = db.get(Person, person_id)
        if person is None or person.email != link.email:
            return Refused(Refusal.WRONG_PERSON, _(
                "This invitation is for %(email)s. Please sign in as %(email)s to accept it.",
                email=link.email))
        if not person.is_active:
            return Refused(Refusal.SUSPENDED, _(
                "Your account is suspended. Please contact our helpdesk."))
        if locks.membership(db, person.id, customer.id) is not None:
            return Refused(Refusal.ALREADY_MEMBER, already_member(link.email, customer.number))
        # The link reached the person at this address: that verifies it.
        mark_verified(db, person, "invitation")
        return _join(db, link, customer, person, new_person=False)
