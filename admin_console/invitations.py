"""Invitations: an administrator of a business customer invites an e-mail
address into the customer number, as a user, with an own mobile or none.

The invitation is a single-use link valid for 7 days (:mod:`idp.account.links`:
only its hash is stored; a new invitation of the same address to the same
customer withdraws the earlier one). Who the address belongs to is decided
when the link is followed, not when it is sent, so the inviting
administrator learns nothing about which addresses have a login:

- nobody yet: the new person chooses a name and a password, and is created
  with ``email_verified`` true (the link proved the address) and the
  membership, in one transaction;
- a person already: they sign in first, then accept, and become a member.

Every step is one transaction under the customer's lock (the link's row is
locked after it, in the same order as :func:`invite`, so an invitation and
its acceptance cannot deadlock): audited, and the administrators told by
e-mail through the outbox. A refusal (an expired, used or unknown link, an
address that is a member already, the wrong person signed in, a bad name or
password) changes nothing.

The invitation is written in the invited person's language when the address
has a login, else in the inviting administrator's; a new person's language
is the one of the page he accepted on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from admin_console.acting import Done, as_administrator, moment, other_administrators, tell
from admin_console.eligibility import Refusal, Refused
from claims.vocabulary import CustomerType, Role
from idp.account import links
from idp.account.links import LinkRefused
from idp.account.models import AccountLink, LinkPurpose
from idp.account.verification import absolute_url, mark_verified
from idp.directory import locks
from idp.directory.contacts import normalise_email, normalise_mobile, normalise_name
from idp.directory.errors import InvalidInput
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.directory.services import Directory, person_actor
from idp.i18n import _l, current_language
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from idp.outbox import mail

# Audit actions (details hold no secret: the address, whether a mobile came with it).
INVITED = "membership.invited"
INVITATION_ACCEPTED = "membership.invitation_accepted"
INVITATION_WITHDRAWN = "membership.invitation_withdrawn"

NO_SUCH_INVITATION = Refused(Refusal.NO_SUCH_INVITATION, _l(
    "This invitation was accepted, has expired or was withdrawn already."))
HELPDESK = _l("our helpdesk")


def already_member(email: str, number: str) -> str:
    return _("%(email)s is already a member of customer number %(number)s.", email=email,
             number=number)


def has_login(email: str) -> str:
    return _("There is a login with %(email)s already. Please sign in with it to accept the "
             "invitation.", email=email)


@dataclass(frozen=True)
class Recipient:
    """Whom an invitation goes to: an address, with a name when it is a
    login's, and the language to write in (:func:`idp.outbox.mail.language`)."""

    email: str
    name: str
    locale: str


@dataclass(frozen=True)
class Invited:
    email: str
    until: datetime

    @property
    def message(self) -> str:
        return _("We sent an invitation to %(email)s. It can be used once, until %(until)s.",
                 email=self.email, until=mail.when(self.until))

    def __bool__(self) -> bool:
        return True


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


@dataclass(frozen=True)
class Pending:
    """An invitation not used yet, for the Members page."""

    id: int
    email: str
    mobile: str | None
    until: datetime
    invited_by: str


def _name_of(db: Session, actor: str) -> str:
    """The name behind an audit actor ("person:<sub>")."""
    person = db.get(Person, actor.removeprefix("person:")) if actor.startswith("person:") \
        else None
    return person.name if person is not None else HELPDESK


# -- the administrator's side ----------------------------------------------------

def invite(app: Flask, actor_id: str, customer_id: int, email: str, mobile: str | None
           ) -> Invited | Refused:
    """Invite ``email`` into the customer as a user (``mobile``: the own
    mobile, as typed, or empty)."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        if customer.type is not CustomerType.BUSINESS:
            return Refused(Refusal.NOT_BUSINESS, _(
                "Invitations are for business customers. Please contact our helpdesk to add a "
                "member to a household."))
        try:
            address = normalise_email(email)
            own_mobile = normalise_mobile(mobile) if mobile and mobile.strip() else None
        except InvalidInput as invalid:
            return Refused(Refusal.INVALID, invalid.reason)
        existing = Directory(db).find_person(address)
        if existing is not None and locks.membership(db, existing.id, customer.id):
            return Refused(Refusal.ALREADY_MEMBER, already_member(address, customer.number))
        by = person_actor(actor.person)
        secret = links.issue(db, LinkPurpose.INVITATION, email=address, actor=by,
                             customer=customer, role=Role.USER.value, mobile=own_mobile)
        until = db.scalar(select(AccountLink.expires_at)
                          .where(AccountLink.token_hash == links.digest(secret)))
        # "No tokens in logs or URLs": the e-mailed link has to carry its
        # secret; it rides in the query string, which access logs never record.
        # An address without a login reads the inviting administrator's language.
        to = Recipient(address, existing.name, existing.locale) if existing is not None \
            else Recipient(address, "", current_language())
        words = {"actor": actor.person.name, "email": address, "number": customer.number,
                 "at": moment(), "until": moment(until)}
        mail.queue(db, "membership.invitation", "invitation",
                   _l("%(actor)s invites you to customer %(number)s", **words), to, customer,
                   by=actor.person, mobile=own_mobile, until=until,
                   has_login=existing is not None,
                   link=absolute_url("invitation.page", token=secret))
        Directory(db).record(INVITED, by, customer=customer, email=address,
                             mobile=own_mobile is not None)
        others = other_administrators(db, customer, actor)
        tell(db, "membership.invited",
             _l("%(actor)s invited %(email)s to customer %(number)s", **words), others, customer,
             _l("%(actor)s invited %(email)s to customer %(number)s as a user on %(at)s. The "
                "invitation can be used once, until %(until)s.", **words),
             _l("You can withdraw it on the Members page of the console until it is accepted."))
        return Invited(address, until)


def _pending_query(customer_id: int):
    return select(AccountLink).where(
        AccountLink.purpose == LinkPurpose.INVITATION.value,
        AccountLink.customer_id == customer_id, AccountLink.used_at.is_(None),
        AccountLink.expires_at > utcnow())


def pending(db: Session, customer_id: int) -> list[Pending]:
    """The customer's invitations that can still be accepted, oldest first."""
    rows = db.scalars(_pending_query(customer_id).order_by(AccountLink.id)).all()
    return [Pending(row.id, row.email, row.mobile, row.expires_at, _name_of(db, row.created_by))
            for row in rows]


def withdraw(app: Flask, actor_id: str, customer_id: int, invitation_id: int
             ) -> Done | Refused:
    """Withdraw an invitation of *this* customer that nobody accepted yet."""
    with database.write_session(app) as db:
        checked = as_administrator(db, actor_id, customer_id)
        if isinstance(checked, Refused):
            return checked
        customer, actor = checked
        link = db.scalar(_pending_query(customer.id).where(AccountLink.id == invitation_id)
                         .with_for_update())
        if link is None:
            return NO_SUCH_INVITATION
        link.expires_at = utcnow()
        by = person_actor(actor.person)
        Directory(db).record(INVITATION_WITHDRAWN, by, customer=customer, email=link.email)
        others = other_administrators(db, customer, actor)
        words = {"actor": actor.person.name, "email": link.email, "number": customer.number,
                 "at": moment()}
        tell(db, "membership.invitation_withdrawn",
             _l("%(actor)s withdrew the invitation of %(email)s", **words), others, customer,
             _l("%(actor)s withdrew the invitation of %(email)s to customer %(number)s on "
                "%(at)s.", **words),
             _l("The link in that invitation no longer works."))
        return Done(_("The invitation of %(email)s is withdrawn: its link no longer works.",
                      email=link.email))


# -- the invited person's side ----------------------------------------------------

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
                      _name_of(db, found.created_by), found.mobile, found.expires_at,
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
             "inviter": _name_of(db, link.created_by), "at": moment()}
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

