"""What the Security page lists (:mod:`idp.account.security_views`): the
person's sign-ins, the connected devices and services, the recent activity,
each in words for people, in the page's language. Reads only."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from babel.lists import format_list
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload

from idp.clients.models import Client, ClientType
from idp.directory import audit_words
from idp.directory.models import AuditEvent, Person, utcnow
from idp.i18n import _l
from idp.login.models import SsoSession
from idp.login.sessions import SIGNED_IN  # details: sid, channel, amr, network
from idp.protocol.tokens.models import RefreshToken, TokenGrant

# The audit actions of the page (besides ``person.signed_in``, audited by
# idp.login.sessions.start).
SESSION_ENDED = "person.session_ended"          # details: sid
CLIENT_DISCONNECTED = "person.client_disconnected"  # details: client, client_name

SHOWN = 50  # sign-ins and connected clients listed at most
ACTIVITY = 20  # audit events listed


# -- the browser, in words ---------------------------------------------------

# (marker in the User-Agent, name), first match wins: the order matters, as
# Edge and Opera say "Chrome" too, Chrome says "Safari", and iOS "Mac OS X".
BROWSERS = (("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("OPR/", "Opera"),
            ("SamsungBrowser/", "Samsung Internet"), ("FxiOS/", "Firefox"),
            ("Firefox/", "Firefox"), ("CriOS/", "Chrome"), ("HeadlessChrome/", "Chrome"),
            ("Chromium/", "Chromium"), ("Chrome/", "Chrome"), ("Safari/", "Safari"))
SYSTEMS = (("iPhone", "iPhone"), ("iPad", "iPad"), ("Android", "Android"),
           ("CrOS", "ChromeOS"), ("Windows", "Windows"), ("Macintosh", "macOS"),
           ("Mac OS X", "macOS"), ("Linux", "Linux"))
PRODUCT = re.compile(r"[A-Za-z][A-Za-z0-9._-]{0,39}")


def describe_browser(user_agent: str | None) -> str:
    """A readable summary of a ``User-Agent``: "Firefox on Linux"."""
    if not user_agent:
        return _("Unknown browser")
    browser = next((name for marker, name in BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in SYSTEMS if marker in user_agent), None)
    if browser is None:  # not a browser we know: its first product name, if any
        product = PRODUCT.match(user_agent)
        browser = product.group(0) if product and not product.group(0).startswith(
            "Mozilla") else _("Unknown browser")
    return _("%(browser)s on %(system)s", browser=browser, system=system) if system else browser


# -- what the page shows -----------------------------------------------------

CLIENT_TYPES = {ClientType.WEB: _l("Web service"), ClientType.NATIVE: _l("App"),
                ClientType.DEVICE: _l("TV box or device"), ClientType.SERVICE: _l("Service")}
# How a sign-in was proven (the ``amr`` of idp.login.sessions.start).
METHODS = {"pwd": _l("password"), "otp": _l("one-time code"), "mfa": _l("two factors"),
           "hwk": _l("security key"), "swk": _l("software key")}
CHANNELS = {"web": _l("on the web"), "app": _l("in the app")}


@dataclass(frozen=True)
class SignIn:
    sid: str
    browser: str
    user_agent: str
    started: datetime
    address: str
    channel: str
    this_browser: bool
    clients: tuple[str, ...]  # the names of the clients signed in there


@dataclass(frozen=True)
class Connection:
    family: str
    client_name: str
    client_type: str
    since: datetime
    last_used: datetime


@dataclass(frozen=True)
class Activity:
    at: datetime
    what: str  # a sentence of idp.directory.audit_words: "You signed in."
    detail: str  # which browser, how: "Firefox on Linux, on the web, with password"


def _live_session(now: datetime):
    return exists().where(SsoSession.id == TokenGrant.session_id,
                          SsoSession.ended_at.is_(None), SsoSession.expires_at > now)


def sign_ins(db: Session, person: Person, this: SsoSession) -> list[SignIn]:
    now = utcnow()
    live = db.scalars(select(SsoSession).where(
        SsoSession.person_id == person.id, SsoSession.ended_at.is_(None),
        SsoSession.expires_at > now).order_by(SsoSession.created_at.desc(), SsoSession.id.desc())
        .limit(SHOWN)).all()
    clients: dict[int, list[str]] = {}
    if live:
        rows = db.execute(select(TokenGrant.session_id, Client.name).join(TokenGrant.client)
                          .where(TokenGrant.session_id.in_([s.id for s in live]),
                                 TokenGrant.revoked_at.is_(None), TokenGrant.expires_at > now)
                          .distinct().order_by(Client.name))
        for session_id, name in rows:
            clients.setdefault(session_id, []).append(name)
    return [SignIn(s.sid, describe_browser(s.user_agent), s.user_agent or "", s.created_at,
                   s.ip_address or _("unknown"), str(CHANNELS.get(s.channel, s.channel)),
                   s.id == this.id, tuple(clients.get(s.id, ()))) for s in live]


def connected_families(person_id: str):
    """The query of the person's connected devices and services (see the module)."""
    now = utcnow()
    live_refresh = exists().where(RefreshToken.grant_id == TokenGrant.id,
                                  RefreshToken.used_at.is_(None))
    return (select(TokenGrant).join(TokenGrant.client)
            .where(TokenGrant.person_id == person_id, TokenGrant.revoked_at.is_(None),
                   TokenGrant.expires_at > now, live_refresh,
                   (Client.type != ClientType.WEB) | ~_live_session(now)))


def connections(db: Session, person: Person) -> list[Connection]:
    families = db.scalars(connected_families(person.id)
                          .options(selectinload(TokenGrant.client))
                          .order_by(TokenGrant.created_at.desc(), TokenGrant.id)
                          .limit(SHOWN)).all()
    last_used: dict[str, datetime] = {}
    if families:
        rows = db.execute(select(RefreshToken.grant_id, RefreshToken.created_at)
                          .where(RefreshToken.grant_id.in_([f.id for f in families]),
                                 RefreshToken.used_at.is_(None)))
        for grant_id, created in rows:
            last_used[grant_id] = max(created, last_used.get(grant_id, created))
    return [Connection(f.id, f.client.name,
                       str(CLIENT_TYPES.get(f.client.type, f.client.type.value)),
                       f.created_at, last_used.get(f.id, f.created_at)) for f in families]


def _detail(event: AuditEvent, browsers: dict[str, str]) -> str:
    """What the sentence does not say: the browser of a sign-in, and how."""
    details = event.details if isinstance(event.details, dict) else {}
    if event.action == SIGNED_IN:
        methods = [str(METHODS.get(m, m)) for m in details.get("amr") or [] if isinstance(m, str)]
        channel = CHANNELS.get(details.get("channel"))
        network = details.get("network")
        parts = [browsers.get(details.get("sid"), ""), str(channel) if channel else "",
                 _("with %(methods)s", methods=format_list(methods, locale=get_locale()))
                 if methods else "",
                 _("from network %(network)s", network=network) if network else ""]
        return ", ".join(p for p in parts if p)
    if event.action == SESSION_ENDED:
        return browsers.get(details.get("sid"), "")
    return ""


def activity(db: Session, person: Person) -> list[Activity]:
    """The newest events of the person's audit trail, as sentences to "you"."""
    events = db.scalars(select(AuditEvent).where(AuditEvent.person_id == person.id)
                        .order_by(AuditEvent.id.desc()).limit(ACTIVITY)).all()
    sids = {e.details.get("sid") for e in events if isinstance(e.details, dict)} - {None}
    browsers = {}
    if sids:
        browsers = {sid: describe_browser(agent) for sid, agent in db.execute(
            select(SsoSession.sid, SsoSession.user_agent).where(
                SsoSession.sid.in_(sorted(str(s) for s in sids)),
                SsoSession.person_id == person.id))}
    said = audit_words.sentences(db, events, viewer_id=person.id)
    return [Activity(e.at, words, _detail(e, browsers)) for e, words in zip(events, said,
                                                                           strict=True)]
