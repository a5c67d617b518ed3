"""The provider's single sign-on session ("Server-side sessions" and "Strict
cookies", docs/security.md).

The browser holds a random 256-bit secret in an ``HttpOnly``, ``SameSite=Lax``
cookie (``Secure`` and ``__Host-`` prefixed unless the issuer is plain http
on loopback); the database holds its SHA-256. Every login makes a new
session, so a secret planted before login (fixation) is worthless after it.

Each session remembers what the person's Security page shows of it: the
browser's ``User-Agent`` (printable characters only, at most 300) and the
client address the edge believed ("Client IP only from a trusted proxy").
Each sign-in is audited (``person.signed_in``: its channel, ``amr``, the
session's ``sid`` and the network it came from). The audit keeps the network
(IPv4 /24, IPv6 /48), never the full address: it outlives the session by
far, and a network is enough for a person to tell "that was not me"; the
full address stays on the session row, purged a day after the session."""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import Flask, Response, current_app, g, request
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.account import totp
from idp.directory.models import Person, PersonStatus, utcnow
from idp.directory.services import Directory, person_actor
from idp.infrastructure.client_ip import client_ip
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


SIGNED_IN = "person.signed_in"  # the audit action of every sign-in
USER_AGENT_LENGTH = 300  # SsoSession.user_agent


def _user_agent(header: str | None) -> str | None:
    """The browser's User-Agent as shown to the person: printable, bounded."""
    text = "".join(c for c in header or "" if c.isprintable()).strip()
    return text[:USER_AGENT_LENGTH] or None


def _address(text: str) -> str | None:
    """The client's address in its canonical form; None when it is not one."""
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    canonical = str(mapped or address)
    return canonical if len(canonical) <= 45 else None


def _network(address: str | None) -> str | None:
    """The network of ``address`` the audit keeps: IPv4 /24, IPv6 /48."""
    if address is None:
        return None
    ip = ipaddress.ip_address(address)
    return str(ipaddress.ip_network((ip, 24 if ip.version == 4 else 48), strict=False))


class SecondFactorMissing(RuntimeError):
    """A session was about to start without the second factor the person needs."""


def start(db: Session, person: Person, amr: list[str], channel: str = "web"
          ) -> tuple[SsoSession, str]:
    """A new session for ``person``, ending the browser's previous one.

    Fail closed: a person who has a second factor, or must enrol one, gets no
    session without ``otp`` in ``amr`` (the login page's second step is the
    way; a flow that skipped it raises :class:`SecondFactorMissing`)."""
    if totp.AMR_OTP not in amr and totp.needed(db, person) is not None:
        raise SecondFactorMissing(f"person {person.id} signs in with a second factor")
    previous = current(db)
    if previous is not None:
        end(db, previous, revoke_tokens=previous.person_id != person.id)
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = current_app.config["KEYHOLDER"].SESSION_LIFETIME
    address = _address(client_ip())
    sso = SsoSession(secret_hash=_digest(secret), sid=secrets.token_urlsafe(24),
                     person=person, auth_time=now, amr=amr, channel=channel, created_at=now,
                     expires_at=now + timedelta(seconds=lifetime),
                     user_agent=_user_agent(request.headers.get("User-Agent")),
                     ip_address=address)
    db.add(sso)
    db.flush()
    Directory(db).record(SIGNED_IN, person_actor(person), person=person, channel=channel,
                         amr=list(amr), sid=sso.sid, network=_network(address))
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


def person_locale(db: Session) -> str | None:
    """The saved language of this browser's signed-in person, or None. Unlike
    :func:`current`, leaves ``g`` alone: for a look-up in a session of its own."""
    if "sso_session" in g:
        return g.sso_session.person.locale if g.sso_session is not None else None
    secret = request.cookies.get(cookie_name(current_app))
    if not secret or len(secret) > 100:
        return None
    return db.scalar(
        select(Person.locale).join(SsoSession.person)
        .where(SsoSession.secret_hash == _digest(secret), SsoSession.ended_at.is_(None),
               SsoSession.expires_at > utcnow(), Person.status == PersonStatus.ACTIVE))


def end(db: Session, sso: SsoSession, *, revoke_tokens: bool = True) -> None:
    """End ``sso``; with ``revoke_tokens``, also the refresh tokens issued in it."""
    ended = db.execute(update(SsoSession).where(SsoSession.id == sso.id,
                                                SsoSession.ended_at.is_(None))
                       .values(ended_at=utcnow()))
    if ended.rowcount:  # its clients are told: logout tokens and session-revoked events
        backchannel_logout.schedule(db, sso)
        queue.session_revoked(db, sso.person_id, sid=sso.sid, initiating="user",
                              reason="Signed out.", session_id=sso.id)
    if revoke_tokens:
        revoke_session_grants(db, sso.id, "logout")
    if g.get("sso_session") is sso:
        g.sso_session = None


def end_all_of(db: Session, person_id: str, *, keep: SsoSession | None = None) -> int:
    """End every live session of a person but ``keep`` (a suspension, a new
    password), telling their clients by back-channel logout; the security
    event is the caller's (one for the whole change). Returns how many ended."""
    query = select(SsoSession).where(SsoSession.person_id == person_id,
                                     SsoSession.ended_at.is_(None))
    if keep is not None:
        query = query.where(SsoSession.id != keep.id)
    live = db.scalars(query).all()
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
