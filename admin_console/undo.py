""""I did not agree — undo this": an administrator of a business customer
undoes another member's self-promotion, with the single-use link e-mailed to
him (:func:`admin_console.promotion.tell_of_promotion`).

The decision (:func:`look` for the page, the same rules again under the
customer's lock in :func:`undo_promotion`) says why not in words: the link
unknown, expired or used; the promoted person himself; someone else than
the administrator the link was sent to; an administrator no more; the
promoted person no longer a member, or a user again (nothing to undo). A
refusal changes nothing.

Undoing is one transaction under the customer's lock (then the link's row,
in the order the promotion took them): the member becomes a user through
the console's own demotion (its audit event makes the ``token-claims-change``
security event, :mod:`idp.security_events.sources`), the token families that
speak for the member under that customer are revoked (each may carry the
administrator role), the audit trail records who undid it, every link about
this promotion is spent, and every administrator and the member are told by
e-mail in their language. Closing self-promotion from the same page is the
console's own action (:func:`admin_console.administration.set_self_promotion`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from flask import Flask, current_app
from flask_babel import format_timedelta
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from admin_console.acting import Done, demote
from admin_console.administration import set_self_promotion
from admin_console.eligibility import Refused
from claims.vocabulary import Role
from idp.account import links
from idp.account.links import LinkRefused
from idp.account.models import AccountLink, LinkPurpose
from idp.directory import locks
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.directory.services import AuditAction, Directory, person_actor
from idp.i18n import _l
from idp.infrastructure import database
from idp.outbox import mail
from idp.protocol.tokens.family_revocation import revoke_customer_grants

# "Fresh login to undo": the confirmation must come within this many seconds
# of the sign-in the link asked for, as a promotion's re-authentication.
FRESH_SECONDS = 600
HOW = "undone"  # the demotion's "how" in the audit trail (idp.directory.audit_words)


class UndoRefusal(StrEnum):
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    FORM = "form"                          # the page was open too long (CSRF)
    CROSS_SITE = "cross_site"
    PROMOTED_HIMSELF = "promoted_himself"
    WRONG_PERSON = "wrong_person"
    NOT_ADMINISTRATOR = "not_administrator"
    NOT_MEMBER = "not_member"
    ALREADY_USER = "already_user"


@dataclass(frozen=True)
class UndoRefused:
    """Why not, for the page; ``sign_in_as``: the address to sign in with,
    when signing in as someone else would help."""

    code: UndoRefusal
    message: str
    sign_in_as: str | None = None

    def __bool__(self) -> bool:
        return False


@dataclass(frozen=True)
class Contested:
    """What the confirmation page says will happen (read, nothing changed)."""

    member_name: str
    member_email: str
    customer_number: str
    customer_name: str
    promoted_at: datetime
    until: datetime
    told: tuple[str, ...]  # the administrators who will be told, besides the member
    self_promotion_open: bool

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Undone:
    member_name: str
    customer_number: str
    customer_name: str
    told: tuple[str, ...]  # the administrators told, besides the member
    self_promotion_open: bool

    def __bool__(self) -> bool:
        return True


def form_expired() -> UndoRefused:
    return UndoRefused(UndoRefusal.FORM, _("This page was open too long, so nothing was "
                                           "changed. Please open the link in the e-mail again."))


def cross_site() -> UndoRefused:
    return UndoRefused(UndoRefusal.CROSS_SITE,
                       _("This form was sent from another site, so nothing was changed."))


def unknown_link() -> UndoRefused:
    return UndoRefused(UndoRefusal.UNKNOWN, _(
        "This link is not valid. Please open it from the e-mail again, as a whole."))


def _refused_link(refusal: LinkRefused) -> UndoRefused:
    if refusal.code == "expired":
        window = timedelta(seconds=current_app.config["KEYHOLDER"].PROMOTION_UNDO_WINDOW)
        return UndoRefused(UndoRefusal.EXPIRED, _(
            "This link has expired: a self-promotion can be undone for %(window)s after the "
            "e-mail, and a newer promotion of the same member replaces the link. If this "
            "member should not be an administrator, please contact our helpdesk.",
            window=format_timedelta(window)))
    if refusal.code == "used":
        return UndoRefused(UndoRefusal.USED, _(
            "This self-promotion has been undone already: this link has been used."))
    return unknown_link()


def _readable(secret: object) -> bool:
    return isinstance(secret, str) and bool(secret) and len(secret) <= links.MAX_SECRET \
        and secret.isascii() and secret.isprintable()


def find_link(db: Session, secret: object) -> AccountLink | UndoRefused:
    """The usable link with ``secret`` (locked for this transaction), or why not."""
    found = links.find(db, LinkPurpose.PROMOTION_UNDO, secret)
    return found if found else _refused_link(found)


def _customer_of(db: Session, secret: object) -> int | None:
    """The customer a link is about, read without a lock: only to know which
    customer's lock to take before the link's."""
    if not _readable(secret):
        return None
    return db.scalar(select(AccountLink.customer_id).where(
        AccountLink.token_hash == links.digest(secret),
        AccountLink.purpose == LinkPurpose.PROMOTION_UNDO.value))


def _decide(db: Session, link: AccountLink, customer: Customer | None, person_id: str
            ) -> tuple[Membership, Membership] | UndoRefused:
    """(the administrator, the promoted member) when ``person_id`` may undo
    the promotion ``link`` is about, or why not."""
    if customer is None or link.subject_id is None:
        return unknown_link()
    if person_id == link.subject_id:
        return UndoRefused(UndoRefusal.PROMOTED_HIMSELF, _(
            "You cannot undo your own promotion with this link: it is for the other "
            "administrators. If you no longer want to be an administrator, step down in the "
            "console."))
    if person_id != link.person_id:
        signed_in = db.get(Person, person_id)
        return UndoRefused(UndoRefusal.WRONG_PERSON, _(
            "You are signed in as %(you)s, but this link was sent to %(email)s. Please sign "
            "in as %(email)s to use it.", you=signed_in.email if signed_in else "?",
            email=link.email), sign_in_as=link.email)
    administrator = locks.membership(db, person_id, customer.id)
    if administrator is None or administrator.role is not Role.ADMINISTRATOR \
            or not administrator.person.is_active:
        return UndoRefused(UndoRefusal.NOT_ADMINISTRATOR, _(
            "You are no longer an administrator of customer number %(number)s, so you cannot "
            "undo this promotion.", number=customer.number))
    member = locks.membership(db, link.subject_id, customer.id)
    if member is None:
        return UndoRefused(UndoRefusal.NOT_MEMBER, _(
            "The person this link is about is no longer a member of customer number "
            "%(number)s: there is nothing to undo.", number=customer.number))
    if member.role is Role.USER:
        return UndoRefused(UndoRefusal.ALREADY_USER, _(
            "%(name)s is a user of customer number %(number)s again: there is nothing to "
            "undo.", name=member.person.name, number=customer.number))
    return administrator, member


def _others(db: Session, customer: Customer, member: Membership) -> tuple[str, ...]:
    return tuple(m.person.name for m in locks.administrators(db, customer.id)
                 if m.id != member.id)


def look(db: Session, link: AccountLink, person_id: str) -> Contested | UndoRefused:
    """What undoing would do, for ``person_id`` (signed in afresh); changes nothing."""
    customer = db.get(Customer, link.customer_id) if link.customer_id is not None else None
    decided = _decide(db, link, customer, person_id)
    if not decided:
        return decided
    _, member = decided
    return Contested(member.person.name, member.person.email, customer.number, customer.name,
                     link.created_at, link.expires_at, _others(db, customer, member),
                     customer.self_promotion_open)


def _spend(db: Session, link: AccountLink) -> None:
    """This link used, and every other link about the same promotion with it."""
    links.use(link)
    db.execute(update(AccountLink).where(
        AccountLink.purpose == LinkPurpose.PROMOTION_UNDO.value,
        AccountLink.customer_id == link.customer_id,
        AccountLink.subject_id == link.subject_id,
        AccountLink.used_at.is_(None)).values(used_at=link.used_at))


def _tell(db: Session, customer: Customer, member: Person, by: Person) -> tuple[str, ...]:
    """E-mail the member and every administrator (the one who undid it too)."""
    at = utcnow()
    administrators = [m.person for m in locks.administrators(db, customer.id)]
    mail.queue(db, "promotion.undone", "promotion_undone",
               _l("You are a user of customer %(number)s again", number=customer.number),
               member, customer, member=member, by=by, at=at)
    for person in administrators:
        mail.queue(db, "promotion.undone", "promotion_undone",
                   _l("%(name)s is a user of customer %(number)s again", name=member.name,
                      number=customer.number), person, customer, member=member, by=by, at=at)
    return tuple(p.name for p in administrators)


def undo_promotion(app: Flask, secret: object, person_id: str) -> Undone | UndoRefused:
    """Undo the self-promotion ``secret``'s link is about, as ``person_id``
    (signed in afresh: the caller checked)."""
    with database.write_session(app) as db:
        customer_id = _customer_of(db, secret)
        customer = locks.customer(db, customer_id) if customer_id is not None else None
        link = find_link(db, secret)
        if not link:
            return link
        decided = _decide(db, link, customer, person_id)
        if not decided:
            return decided
        administrator, member = decided
        by = person_actor(administrator.person)
        demote(db, member, customer, by, HOW)
        revoke_customer_grants(db, member.person_id, customer.id, "promotion_undone")
        Directory(db).record(AuditAction.PROMOTION_UNDONE, by, customer=customer,
                             person=member.person, by=administrator.person.name)
        _spend(db, link)
        told = _tell(db, customer, member.person, administrator.person)
        return Undone(member.person.name, customer.number, customer.name, told,
                      customer.self_promotion_open)


def close_self_promotion(app: Flask, secret: object, person_id: str
                         ) -> Done | Refused | UndoRefused:
    """The page's "Close self-promotion", for the administrator the link was
    sent to (before or after undoing), through the console's own action."""
    with database.new_session(app) as db:
        link = db.scalar(select(AccountLink).where(
            AccountLink.token_hash == links.digest(secret),
            AccountLink.purpose == LinkPurpose.PROMOTION_UNDO.value)) \
            if _readable(secret) else None
        if link is None or link.customer_id is None:
            return unknown_link()
        if link.expires_at <= utcnow():
            return _refused_link(links.EXPIRED)
        if person_id != link.person_id:
            return UndoRefused(UndoRefusal.WRONG_PERSON, _(
                "This link was sent to %(email)s. Please sign in as %(email)s to use it.",
                email=link.email), sign_in_as=link.email)
        customer_id = link.customer_id
    return set_self_promotion(app, person_id, customer_id, False)
