"""E-mail verification: a link, valid 7 days and usable once, sent to the
address of a person whose address nobody has confirmed yet (added by the
operator (unless ``--verified``), invited, or asked for again in the console or
on the account page). Following it makes ``email_verified`` true.

:func:`send_verification` works inside the caller's transaction and never
commits, like the directory: the link and its e-mail (through the outbox)
commit with the change that called for them, or not at all. It needs an app
context only, no request, so the command line can call it."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import update
from sqlalchemy.orm import Session

from idp.account import links
from idp.account.links import LinkRefused
from idp.account.models import AccountLink, LinkPurpose
from idp.directory.models import Person, utcnow
from idp.directory.services import Directory, person_actor
from idp.i18n import _l
from idp.infrastructure.failure_counters import Limit
from idp.outbox import mail

EMAIL_VERIFIED = "person.email_verified"      # details: how ("link", "password_reset")
VERIFICATION_SENT = "person.verification_sent"
SUBJECT = _l("Please confirm your e-mail address")  # in the recipient's language
# "Send the link again" (the account page, the console): links per person per
# window, on one counter whichever page asks ("Throttle, never lock out").
RESEND_WINDOW = timedelta(hours=1)
RESEND_PER_PERSON = 5


def absolute_url(endpoint: str, **query: str) -> str:
    """The issuer's URL of ``endpoint`` with ``query``, with or without a
    request (``url_for`` needs one, or ``SERVER_NAME``). Like
    :func:`idp.outbox.mail.console_url`, paths are under the issuer."""
    path = current_app.url_map.bind("localhost").build(endpoint, query)
    return current_app.config["KEYHOLDER"].ISSUER + path


def send_verification(db: Session, person: Person, actor: str) -> bool:
    """Queue the e-mail with a new verification link for ``person`` (the
    earlier ones stop working); False, sending nothing, when the address is
    verified already. ``actor`` is an audit actor ("operator",
    ``person_actor(...)``)."""
    if person.email_verified:
        return False
    secret = links.issue(db, LinkPurpose.EMAIL_VERIFICATION, email=person.email, actor=actor,
                         person=person)
    until = utcnow() + links.LIFETIMES[LinkPurpose.EMAIL_VERIFICATION]
    # "No tokens in logs or URLs": an e-mailed link has to carry its secret; it
    # is in the query string, which the access logs never record, and the page
    # it opens sends no Referer (Referrer-Policy: no-referrer).
    mail.queue(db, "email.verification", "verify_email", SUBJECT, person, None,
               link=absolute_url("account.verify_email", token=secret), until=until)
    Directory(db).record(VERIFICATION_SENT, actor, person=person)
    return True


def resend_limits(person: Person) -> list[Limit]:
    """The throttle of "send the link again" for ``person``: check it with
    ``failure_counters.check`` and count each link sent with ``record_failure``."""
    return [Limit(f"verify:person:{person.id}", RESEND_PER_PERSON, RESEND_WINDOW)]


def person_of(db: Session, link: AccountLink) -> Person | None:
    """The active person a link was sent to, while the address is still theirs."""
    person = db.get(Person, link.person_id) if link.person_id is not None else None
    if person is None or person.email != link.email or not person.is_active:
        return None
    return person


def verify(db: Session, link: AccountLink) -> Person | LinkRefused:
    """Follow a verification link found by :func:`links.find`: the link is
    used and the person's address verified (audited); or why not."""
    person = person_of(db, link)
    if person is None:
        return links.UNKNOWN
    links.use(link)
    mark_verified(db, person, "link")
    return person


def mark_verified(db: Session, person: Person, how: str) -> bool:
    """The person proved they read mail at their address (``how``: "link", or
    "password_reset": the reset link reached them there); False when it was
    verified already."""
    if person.email_verified:
        return False
    person.email_verified = True
    withdraw(db, person, LinkPurpose.EMAIL_VERIFICATION)
    Directory(db).record(EMAIL_VERIFIED, person_actor(person), person=person, how=how)
    return True


def withdraw(db: Session, person: Person, purpose: LinkPurpose) -> None:
    """The person's unused links of ``purpose`` stop working now."""
    db.execute(update(AccountLink).where(
        AccountLink.person_id == person.id, AccountLink.purpose == purpose.value,
        AccountLink.used_at.is_(None), AccountLink.expires_at > utcnow())
        .values(expires_at=utcnow()))
