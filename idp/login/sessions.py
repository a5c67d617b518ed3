"""The provider's single sign-on session ("Server-side sessions" and "Strict
cookies", docs/security.md).

The browser holds a random 256-bit secret in an ``HttpOnly``, ``SameSite=Lax``
cookie (``Secure`` and ``__Host-`` prefixed unless the issuer is plain http
on loopback); the database holds its SHA-256. Every login makes a new
session, so a secret planted before login (fixation) is worthless after it."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.directory.models import Person, PersonStatus, utcnow
from idp.login.models import SsoSession
from idp.protocol import backchannel_logout
from idp.protocol.tokens.family_revocation import revoke_session_grants
from idp.security_events import queue


def secure_cookies(app: Flask) -> bool:
    """Secure cookies everywhere but a plain-http issuer (a local demo)."""
    return urlsplit(app.config["KEYHOLDER"].ISSUER).scheme == "https"


def cookie_name(app: Flask) -> str:
    # The __Host- prefix pins the cookie to this host, Secure, path "/".
    return "__Host-keyholder_sso" if secure_cookies(app) else "keyholder_sso"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def start(db: Session, person: Person, amr: list[str], channel: str = "web"
          ) -> tuple[SsoSession, str]:
    """A new session for ``person``, ending the browser's previous one."""
    previous = current(db)
    if previous is not None:
        end(db, previous, revoke_tokens=previous.person_id != person.id)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = current_app.config["KEYHOLDER"].SESSION_LIFETIME
    sso = SsoSession(secret_hash=_digest(secret), sid=secrets.token_urlsafe(24),
                     person=person, auth_time=now, amr=amr, channel=channel, created_at=now,
                     expires_at=now + timedelta(seconds=lifetime))
    db.add(sso)
    db.flush()
    g.sso_session = sso
    return sso, secret


def current(db: Session) -> SsoSession | None:
    """The live session of this request's browser, or None."""
    if "sso_session" in g:
        return g.sso_session
    secret = request.cookies.get(cookie_name(current_app))
    found = None
    if secret and len(secret) <= 100:
        found = db.scalar(
            select(SsoSession).join(SsoSession.person)
            .where(SsoSession.secret_hash == _digest(secret), SsoSession.ended_at.is_(None),
                   SsoSession.expires_at > utcnow(), Person.status == PersonStatus.ACTIVE))
    g.sso_session = found
    return found


def end(db: Session, sso: SsoSession, *, revoke_tokens: bool = True) -> None:
    """End ``sso``; with ``revoke_tokens``, also the refresh tokens issued in it."""
    ended = db.execute(update(SsoSession).where(SsoSession.id == sso.id,
                                                SsoSession.ended_at.is_(None))
                       .values(ended_at=utcnow()))
    if ended.rowcount:  # its clients are told: logout tokens and session-revoked events
        backchannel_logout.schedule(db, sso)
        queue.session_revoked(db, sso.person_id, sid=sso.sid, initiating="user",
                              reason="Signed out.", clients=backchannel_logout.clients_of(db, sso))
    if revoke_tokens:
        revoke_session_grants(db, sso.id, "logout")
    if g.get("sso_session") is sso:
        g.sso_session = None


def end_all_of(db: Session, person_id: str) -> int:
    """End every live session of a person (a suspension), telling their
    clients by back-channel logout; the security event is the caller's (one
    for the whole suspension). Returns how many ended."""
    live = db.scalars(select(SsoSession).where(SsoSession.person_id == person_id,
                                               SsoSession.ended_at.is_(None))).all()
    for sso in live:
        sso.ended_at = utcnow()
        backchannel_logout.schedule(db, sso)
    return len(live)


def renew(db: Session, sso: SsoSession) -> tuple[SsoSession, str]:
    """A new session id for the same login (after a privilege change: the
    old cookie, wherever it leaked, opens nothing any more)."""
    secret = secrets.token_urlsafe(32)
    sso.secret_hash = _digest(secret)
    db.flush()
    return sso, secret


def reauthenticated(db: Session, sso: SsoSession) -> None:
    """The person typed the password again: a fresh ``auth_time``."""
    sso.auth_time = utcnow()
    if "pwd" not in sso.amr:
        sso.amr = [*sso.amr, "pwd"]
    db.flush()


def age_seconds(sso: SsoSession) -> float:
    return (utcnow() - sso.auth_time).total_seconds()


def set_cookie(response: Response, secret: str, sso: SsoSession) -> None:
    response.set_cookie(cookie_name(current_app), secret, expires=sso.expires_at,
                        httponly=True, samesite="Lax", secure=secure_cookies(current_app),
                        path="/")


def clear_cookie(response: Response) -> None:
    response.delete_cookie(cookie_name(current_app), httponly=True, samesite="Lax",
                           secure=secure_cookies(current_app), path="/")
