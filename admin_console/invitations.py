"""Invitations: an administrator of a business customer invites an e-mail
address into the customer number, as a user, with an own mobile or none
(this module: inviting, the pending invitations, withdrawing;
:mod:`admin_console.invitation_acceptance`: the invited person's side).

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
from idp.account.models import AccountLink, LinkPurpose
from idp.account.verification import absolute_url
from idp.directory import locks
from idp.directory.contacts import normalise_email, normalise_mobile
from idp.directory.errors import InvalidInput
from idp.directory.models import Person, utcnow
from idp.directory.services import Directory, person_actor
from idp.i18n import _l, current_language
from idp.infrastructure import database
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
class Pending:
    """An invitation not used yet, for the Members page."""

    id: int
    email: str
    mobile: str | None
    until: datetime
    invited_by: str


def name_of(db: Session, actor: str) -> str:
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
    return [Pending(row.id, row.email, row.mobile, row.expires_at, name_of(db, row.created_by))
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
