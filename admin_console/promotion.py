"""Becoming administrator (the help page's steps 3 to 5; step 2 is
:mod:`admin_console.intent_notice`).

The promotion is one transaction: the customer's lock, the rules checked
again under it, the role, the audit event and the e-mails in the outbox. Its
caller gives the person a new session id afterwards. Wrong customer numbers
are counted per person, per customer and per client address, and audited.

A business customer's other administrators are told of a self-promotion
with a single-use link, "I did not agree — undo this", valid
``KEYHOLDER_PROMOTION_UNDO_WINDOW`` (:mod:`admin_console.undo`). Any new
promotion of the member withdraws the links about an earlier one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import Flask, current_app
from flask_babel import ngettext
from sqlalchemy import update
from sqlalchemy.orm import Session

from admin_console.eligibility import (
    WRONG_NUMBER,
    Refusal,
    Refused,
    may_promote,
    residential_taken,
)
from claims.customer_numbers import InvalidCustomerNumber, normalise_customer_number
from claims.vocabulary import CustomerType
from idp.account import links
from idp.account.models import AccountLink, LinkPurpose
from idp.account.verification import absolute_url
from idp.directory import locks
from idp.directory.administrators import make_administrator
from idp.directory.errors import OneAdministratorOnly
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.directory.services import AuditAction, Directory, person_actor
from idp.i18n import _l
from idp.infrastructure import database, failure_counters
from idp.infrastructure.failure_counters import Limit
from idp.outbox import mail

HOUR = timedelta(hours=1)
PERSON_LIMIT = 5     # wrong numbers per person per hour (docs/design.md, "Rate limits")
CUSTOMER_LIMIT = 20  # per customer the person belongs to, per hour
ADDRESS_LIMIT = 20   # per client address per hour
SELF_PROMOTION = "self-promotion"  # the audit's "how"
UNDO_PAGE = "promotion_undo.page"  # admin_console.undo_views


@dataclass(frozen=True)
class Promoted:
    customer_number: str
    told: tuple[str, ...]  # names of the other administrators e-mailed

    def __bool__(self) -> bool:
        return True


def _limits(person: Person, address: str) -> list[Limit]:
    return [Limit(f"promote:person:{person.id}", PERSON_LIMIT, HOUR),
            Limit(f"promote:ip:{address[:80]}", ADDRESS_LIMIT, HOUR),
            *(Limit(f"promote:customer:{m.customer_id}", CUSTOMER_LIMIT, HOUR)
              for m in person.memberships)]


def _withdraw_undo_links(db: Session, member: Membership) -> None:
    """A new promotion: the links that undo an earlier one of ``member`` stop working."""
    now = utcnow()
    db.execute(update(AccountLink).where(
        AccountLink.purpose == LinkPurpose.PROMOTION_UNDO.value,
        AccountLink.customer_id == member.customer_id,
        AccountLink.subject_id == member.person_id,
        AccountLink.used_at.is_(None), AccountLink.expires_at > now).values(expires_at=now))


def _undo_link(db: Session, member: Membership, customer: Customer, administrator: Person
               ) -> str:
    """A new "I did not agree" link for ``administrator``; its URL, with the secret."""
    window = timedelta(seconds=current_app.config["KEYHOLDER"].PROMOTION_UNDO_WINDOW)
    secret = links.issue(db, LinkPurpose.PROMOTION_UNDO, email=administrator.email,
                         actor=person_actor(member.person), person=administrator,
                         customer=customer, subject_id=member.person_id, lifetime=window)
    return absolute_url(UNDO_PAGE, token=secret)


def tell_of_promotion(db: Session, member: Membership, customer: Customer, how: str,
                      others: list[Membership]) -> tuple[str, ...]:
    """The e-mails of a promotion: each other administrator, and the member.
    A business customer's self-promotion carries each administrator's undo link."""
    at = utcnow()
    person = member.person
    contestable = how == SELF_PROMOTION and customer.type is CustomerType.BUSINESS
    until = at + timedelta(seconds=current_app.config["KEYHOLDER"].PROMOTION_UNDO_WINDOW) \
        if contestable and others else None
    for other in others:
        mail.queue(db, "promotion.notice", "promotion_notice",
                   _l("%(name)s became an administrator of customer %(number)s",
                      name=person.name, number=customer.number),
                   other.person, customer, member=person, at=at, how=how, until=until,
                   undo_link=_undo_link(db, member, customer, other.person) if until else None)
    mail.queue(db, "promotion.confirmation", "promotion_confirmation",
               _l("You are now an administrator of customer %(number)s",
                  number=customer.number), person, customer,
               at=at, others=", ".join(o.person.name for o in others), until=until)
    return tuple(o.person.name for o in others)


def promote(db: Session, member: Membership, customer: Customer, actor: str, how: str
            ) -> Promoted:
    """Make ``member`` administrator, audit it and queue its e-mails. The
    directory takes the customer's lock and decides the residential
    one-administrator rule: :class:`OneAdministratorOnly` when it refuses."""
    others = make_administrator(db, member)
    _withdraw_undo_links(db, member)
    Directory(db).record(AuditAction.PROMOTED, actor, customer=customer, person=member.person,
                         how=how)
    told = tell_of_promotion(db, member, customer, how, others)
    return Promoted(customer.number, told)


def become_administrator(app: Flask, person_id: str, typed: str, *, address: str,
                         channel: str, context_customer_id: int | None = None
                         ) -> Promoted | Refused:
    """The console's "Become administrator": ``typed`` is the customer number
    as the person typed it."""
    with database.write_session(app) as db:
        directory = Directory(db)
        person = db.get(Person, person_id)
        actor = person_actor(person)
        context = db.get(Customer, context_customer_id) if context_customer_id else None
        limits = _limits(person, address)
        blocked = failure_counters.check(db, limits)
        if blocked is not None:
            return Refused(Refusal.THROTTLED, ngettext(
                "Too many wrong customer numbers. Please wait %(num)d minute and try again.",
                "Too many wrong customer numbers. Please wait %(num)d minutes and try again.",
                blocked.minutes))

        def wrong(message: str) -> Refused:
            failure_counters.record_failure(db, limits)
            directory.record(AuditAction.PROMOTION_REFUSED, actor, customer=context,
                             person=person, refusal=Refusal.WRONG_NUMBER.value)
            return Refused(Refusal.WRONG_NUMBER, message)

        try:
            number = normalise_customer_number(typed)
        except InvalidCustomerNumber as invalid:
            return wrong(invalid.reason)
        customer = locks.customer_by_number(db, number)
        member = locks.membership(db, person.id, customer.id) if customer else None
        if member is None:
            return wrong(WRONG_NUMBER)
        administrators = [m.person.name for m in locks.administrators(db, customer.id)
                          if m.id != member.id]
        decision = may_promote(person, member, customer, channel, administrators)
        if decision:
            try:
                return promote(db, member, customer, actor, how=SELF_PROMOTION)
            except OneAdministratorOnly:
                decision = residential_taken(customer, administrators)
        directory.record(AuditAction.PROMOTION_REFUSED, actor, customer=customer,
                         person=person, refusal=decision.code.value)
        return decision
