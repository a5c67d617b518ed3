"""Letting the administrators know (the help page's step 2, "Becoming administrator").

A member of a customer may e-mail its current administrators that they
intend to become one: once per ``KEYHOLDER_INTENT_NOTICE_INTERVAL`` (a day by
default), so that the button cannot fill the administrators' mailboxes.

When it was last sent is read from the audit trail, which records every
notice anyway (``promotion.intent_announced``, with how many were told): no
second copy of that fact to keep in step. A notice that told nobody (the
customer had no other administrator) does not count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.directory import locks
from idp.directory.models import AuditEvent, Person, utcnow
from idp.directory.services import AuditAction, Directory, person_actor
from idp.i18n import _l
from idp.infrastructure import database
from idp.outbox import mail


@dataclass(frozen=True)
class Told:
    """The notice went out: the names of the administrators e-mailed (none
    when the customer has no other administrator)."""

    names: tuple[str, ...]

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class TooSoon:
    """Refused: a notice went out at ``last_sent``; the next one may go at ``next_allowed``."""

    code = "intent_notice_too_soon"
    last_sent: datetime
    next_allowed: datetime

    @property
    def message(self) -> str:
        return _("You already let the administrators know on %(sent)s. Nothing was sent. You "
                 "can let them know again from %(next)s.", sent=mail.when(self.last_sent),
                 next=mail.when(self.next_allowed))

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class LastNotice:
    """What the console page shows: when the last notice went out, and when
    the next one may."""

    sent: datetime
    next_allowed: datetime

    @property
    def allowed_now(self) -> bool:
        return utcnow() >= self.next_allowed


def interval(app: Flask) -> timedelta:
    return timedelta(seconds=app.config["KEYHOLDER"].INTENT_NOTICE_INTERVAL)


def last_notice(db: Session, app: Flask, person_id: str, customer_id: int
                ) -> LastNotice | None:
    """The last notice of ``person_id`` under ``customer_id`` that told
    someone, or None when there was none."""
    sent = db.scalar(
        select(AuditEvent.at)
        .where(AuditEvent.customer_id == customer_id, AuditEvent.person_id == person_id,
               AuditEvent.action == AuditAction.INTENT_ANNOUNCED.value,
               AuditEvent.details["told"].as_integer() > 0)
        .order_by(AuditEvent.id.desc()).limit(1))
    return LastNotice(sent, sent + interval(app)) if sent is not None else None


def announce_intent(app: Flask, person_id: str, customer_id: int) -> Told | TooSoon:
    """Tell the current administrators that this member intends to become
    one, unless a notice already went out within the interval."""
    with database.write_session(app) as db:
        person = db.get(Person, person_id)
        # The customer's lock first: two clicks at once are serialised, and the
        # second sees the first one's audit event (no read-then-write race).
        customer = locks.customer(db, customer_id)
        if customer is None or locks.membership(db, person.id, customer.id) is None:
            return Told(())
        last = last_notice(db, app, person.id, customer.id)
        if last is not None and not last.allowed_now:
            return TooSoon(last.sent, last.next_allowed)
        admins = [m for m in locks.administrators(db, customer.id) if m.person_id != person.id]
        for admin in admins:
            mail.queue(db, "promotion.intent", "intent_notice",
                       _l("%(name)s intends to become an administrator of customer %(number)s",
                          name=person.name, number=customer.number),
                       admin.person, customer, member=person)
        Directory(db).record(AuditAction.INTENT_ANNOUNCED, person_actor(person),
                             customer=customer, person=person, told=len(admins))
        return Told(tuple(a.person.name for a in admins))
