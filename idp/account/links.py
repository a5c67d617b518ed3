"""Single-use links sent by e-mail: a password reset (30 minutes), an e-mail
verification and an invitation (7 days each).

The link carries a 256-bit random secret; the database keeps its SHA-256
only, so a copy of the database opens nothing. A link is looked up under a
row lock and marked used in the transaction that acts on it, so of two
clicks one wins. Issuing a new link of one purpose for one person (or one
address and customer) withdraws the earlier ones: only the newest works."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.account.models import AccountLink, LinkPurpose
from idp.directory.models import Customer, Person, utcnow
from idp.i18n import _l

LIFETIMES = {
    LinkPurpose.PASSWORD_RESET: timedelta(minutes=30),
    LinkPurpose.EMAIL_VERIFICATION: timedelta(days=7),
    LinkPurpose.INVITATION: timedelta(days=7),
}
MAX_SECRET = 100  # characters; ours are 43


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class LinkRefused:
    """Why a link cannot be used, in words for the page."""

    code: str  # "unknown", "used", "expired"
    message: str  # or a lazy string, translated where the page shows it

    def __bool__(self) -> bool:
        return False


UNKNOWN = LinkRefused("unknown", _l("This link is not valid. Please ask for a new one."))
USED = LinkRefused("used", _l("This link has been used already. Please ask for a new one."))
EXPIRED = LinkRefused("expired", _l("This link has expired. Please ask for a new one."))


def issue(db: Session, purpose: LinkPurpose, *, email: str, actor: str,
          person: Person | None = None, customer: Customer | None = None,
          role: str | None = None, mobile: str | None = None,
          subject_id: str | None = None, lifetime: timedelta | None = None) -> str:
    """A new link; returns its secret (for the e-mail, never stored).
    ``lifetime``: instead of the purpose's own (one from a setting)."""
    now = utcnow()
    # By address in every case: the same statement whether or not the
    # address has an account (no timing tells them apart).
    earlier = (AccountLink.purpose == purpose.value, AccountLink.used_at.is_(None))
    mine = AccountLink.email == email
    if customer is not None:
        mine = mine & (AccountLink.customer_id == customer.id)
    if subject_id is not None:  # a link about someone withdraws only those about him
        mine = mine & (AccountLink.subject_id == subject_id)
    db.execute(update(AccountLink).where(*earlier, mine).values(expires_at=now))
    secret = secrets.token_urlsafe(32)
    db.add(AccountLink(purpose=purpose.value, token_hash=digest(secret),
                       person_id=person.id if person is not None else None, email=email,
                       customer_id=customer.id if customer is not None else None, role=role,
                       mobile=mobile, subject_id=subject_id, created_by=actor, created_at=now,
                       expires_at=now + (LIFETIMES[purpose] if lifetime is None else lifetime)))
    db.flush()
    return secret


def find(db: Session, purpose: LinkPurpose, secret: object) -> AccountLink | LinkRefused:
    """The unused, unexpired link of ``purpose`` with ``secret``, locked for
    this transaction; or why not."""
    if not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET \
            or not secret.isascii() or not secret.isprintable():
        return UNKNOWN
    link = db.scalar(select(AccountLink).where(AccountLink.token_hash == digest(secret),
                                               AccountLink.purpose == purpose.value)
                     .with_for_update())
    if link is None:
        return UNKNOWN
    if link.used_at is not None:
        return USED
    if link.expires_at <= utcnow():
        return EXPIRED
    return link


def use(link: AccountLink) -> None:
    link.used_at = utcnow()
