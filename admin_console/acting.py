"""What every administrator's action in the console shares: the check,
under the customer's lock, that the actor is (still) an administrator of
that customer; the change notices, in each reader's language; the result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask_babel.speaklater import LazyString
from sqlalchemy.orm import Session

from admin_console.eligibility import Refusal, Refused
from claims.vocabulary import Role
from idp.directory import locks
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.directory.services import AuditAction, Directory
from idp.i18n import _l
from idp.outbox import mail


@dataclass(frozen=True)
class Done:
    message: str  # what happened, for the page (in its language)

    def __bool__(self) -> bool:
        return True


NOT_ADMINISTRATOR = Refused(Refusal.NOT_ADMINISTRATOR,
                            _l("Only an administrator of this customer number can do this."))
NO_SUCH_MEMBER = Refused(Refusal.NO_SUCH_MEMBER,
                         _l("This person is not a member of this customer number."))


def moment(at: datetime | None = None) -> LazyString:
    """A date for an e-mail's sentence, written when the e-mail is (in its
    reader's language and the customer's time zone); now by default."""
    return LazyString(mail.when, at or utcnow())


def as_administrator(db: Session, person_id: str, customer_id: int
                     ) -> tuple[Customer, Membership] | Refused:
    customer = locks.customer(db, customer_id)
    actor = locks.membership(db, person_id, customer_id) if customer else None
    if actor is None or actor.role is not Role.ADMINISTRATOR or not actor.person.is_active:
        return NOT_ADMINISTRATOR
    return customer, actor


def tell(db: Session, kind: str, subject: LazyString, people: list[Person],
         customer: Customer, summary: LazyString, next_step: LazyString) -> None:
    """The change notice to each of ``people``, in his language: the texts are
    lazy (``_l``), so they are translated for each reader."""
    for person in people:
        mail.queue(db, kind, "change_notice", subject, person, customer, summary=summary,
                   next_step=next_step)


def other_administrators(db: Session, customer: Customer, actor: Membership) -> list[Person]:
    return [m.person for m in locks.administrators(db, customer.id) if m.id != actor.id]


def demote(db: Session, member: Membership, customer: Customer, actor: str, how: str) -> None:
    member.role = Role.USER
    Directory(db).record(AuditAction.DEMOTED, actor, customer=customer, person=member.person,
                         how=how)
