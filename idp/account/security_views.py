"""The Security page, ``/account/security``: where the person is signed in,
which devices and services hold a refresh token, and the recent activity of
the account; "Sign out there" and "Disconnect".

- **Sign-ins** are the person's live SSO sessions, newest first, with the
  browser (a summary of its ``User-Agent``), when and from which address it
  signed in, and which one is this browser. "Sign out there" ends exactly
  that session the way logout does (:func:`idp.login.sessions.end`): its
  token families are revoked, its clients get a back-channel logout token
  and a session-revoked security event.
- **Connected devices and services** are the person's token families with a
  live refresh token that are not a web site's sign-in in a live browser
  session: a TV box (device flow; its family names the browser session that
  approved it, but the tokens live on the box), the app, and any service
  whose browser session has ended while its refresh token goes on. A web
  site's family in a live session belongs to that sign-in and ends with it.
  "Disconnect" revokes exactly that family (its refresh tokens and access
  tokens), queues a session-revoked event for that client only and, when the
  family has a ``sid`` and the client a back-channel logout URI, a logout
  token for it.
- **Recent activity** is the audit trail about the person, newest first,
  the 20 newest.

Every form carries a CSRF token and must come from our own pages ("CSRF
token on every form", "No cross-site form posts"). Ids in forms are looked
up only among the person's own sessions and families ("Scoped to the
customer shown", the same rule for a person): another person's id, a
made-up one or a malformed one gets one answer, "not found", and nothing
changes. Each change is one transaction ("All or nothing") and audited."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from flask import (
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import exists, select
from sqlalchemy.orm import Session, selectinload
from wtforms import HiddenField

from idp.account import blueprint
from idp.account.pages import CROSS_SITE, from_our_pages, to_login
from idp.clients.models import Client, ClientType
from idp.directory.models import AuditEvent, Person, utcnow
from idp.directory.services import Directory, person_actor
from idp.infrastructure import database
from idp.login import sessions
from idp.login.models import SsoSession
from idp.protocol.backchannel_logout import queue_logout_token
from idp.protocol.tokens.family_revocation import revoke_grant
from idp.protocol.tokens.models import RefreshToken, TokenGrant
from idp.security_events import queue

# The audit actions of this page (besides ``person.signed_in``, audited by
# idp.login.sessions.start).
SESSION_ENDED = "person.session_ended"          # details: sid
CLIENT_DISCONNECTED = "person.client_disconnected"  # details: client, client_name

SHOWN = 50  # sign-ins and connected clients listed at most
ACTIVITY = 20  # audit events listed
REVOKED_REASON = "disconnected"  # TokenGrant.revoked_reason of a disconnected family

# What an id in a form may look like: session ids and family ids are
# URL-safe base64 of 24 and 16 random bytes.
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

EXPIRED_FORM = "This page was open too long. Nothing was changed; please try again."
NO_SUCH_SIGN_IN = ("There is no such sign-in on your account. Nothing was changed; the "
                   "list below is up to date.")
NO_SUCH_CLIENT = ("There is no such device or service on your account. Nothing was "
                  "changed; the list below is up to date.")


class SignOutThereForm(FlaskForm):
    sid = HiddenField()


class DisconnectForm(FlaskForm):
    family = HiddenField()


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
        return "Unknown browser"
    browser = next((name for marker, name in BROWSERS if marker in user_agent), None)
    system = next((name for marker, name in SYSTEMS if marker in user_agent), None)
    if browser is None:  # not a browser we know: its first product name, if any
        product = PRODUCT.match(user_agent)
        browser = product.group(0) if product and not product.group(0).startswith(
            "Mozilla") else "Unknown browser"
    return f"{browser} on {system}" if system else browser


# -- what the page shows -----------------------------------------------------

CLIENT_TYPES = {ClientType.WEB: "Web service", ClientType.NATIVE: "App",
                ClientType.DEVICE: "TV box or device", ClientType.SERVICE: "Service"}
METHODS = {"pwd": "password", "otp": "one-time code", "mfa": "two factors",
           "hwk": "security key", "swk": "software key"}
CHANNELS = {"web": "on the web", "app": "in the app"}
ACTIONS = {
    "person.signed_in": "Signed in",
    "person.password_changed": "Password changed",
    "person.suspended": "Account suspended",
    "person.unsuspended": "Account active again",
    SESSION_ENDED: "Signed out a browser",
    CLIENT_DISCONNECTED: "Disconnected a device or service",
    "person.second_factor_enabled": "Second factor turned on",
    "person.second_factor_disabled": "Second factor turned off",
    "person.recovery_codes_renewed": "New recovery codes made",
    "person.recovery_code_used": "Signed in with a recovery code",
    "person.email_verified": "E-mail address confirmed",
    "person.verification_sent": "Confirmation link sent by e-mail",
    "person.added": "Account created",
    "membership.invited": "Invited to a customer number",
    "membership.invitation_accepted": "Accepted an invitation",
    "membership.invitation_withdrawn": "Invitation withdrawn",
    "membership.added": "Became a member of a customer number",
    "membership.removed": "Removed from a customer number",
    "membership.promoted": "Became administrator",
    "membership.demoted": "Became user",
    "membership.excluded": "Excluded from administration",
    "membership.included": "Allowed to become administrator again",
    "promotion.refused": "Could not become administrator",
    "promotion.intent_announced": "Told the administrators",
}
PASSWORD_HOW = {"changed": "by you, signed in", "reset": "by a link sent by e-mail",
                "operator": "by our helpdesk"}


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
    what: str
    detail: str
    who: str


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
                   s.ip_address or "unknown", CHANNELS.get(s.channel, s.channel),
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
    return [Connection(f.id, f.client.name, CLIENT_TYPES.get(f.client.type, f.client.type.value),
                       f.created_at, last_used.get(f.id, f.created_at)) for f in families]


def _who(actor: str, person: Person) -> str:
    if actor == person_actor(person):
        return "You"
    if actor == "operator":
        return "Our helpdesk"
    return "An administrator" if actor.startswith("person:") else "Keyholder"


def activity_words(action: str) -> str:
    if action in ACTIONS:
        return ACTIONS[action]
    name = action.rpartition(".")[2].replace("_", " ").strip()  # an action added later
    return name[:1].upper() + name[1:] if name else "Account change"


def _detail(event: AuditEvent, browsers: dict[str, str]) -> str:
    details = event.details if isinstance(event.details, dict) else {}
    if event.action == "person.signed_in":
        methods = [METHODS.get(m, str(m)) for m in details.get("amr") or []]
        parts = [browsers.get(details.get("sid"), ""), CHANNELS.get(details.get("channel"), ""),
                 "with " + " and ".join(methods) if methods else "",
                 f"from network {details['network']}" if details.get("network") else ""]
        return ", ".join(p for p in parts if p)
    if event.action == "person.password_changed":
        return PASSWORD_HOW.get(details.get("how"), "")
    if event.action == SESSION_ENDED:
        return browsers.get(details.get("sid"), "")
    if event.action == CLIENT_DISCONNECTED:
        return str(details.get("client_name") or "")
    return ""


def activity(db: Session, person: Person) -> list[Activity]:
    events = db.scalars(select(AuditEvent).where(AuditEvent.person_id == person.id)
                        .order_by(AuditEvent.id.desc()).limit(ACTIVITY)).all()
    sids = {e.details.get("sid") for e in events if isinstance(e.details, dict)} - {None}
    browsers = {}
    if sids:
        browsers = {sid: describe_browser(agent) for sid, agent in db.execute(
            select(SsoSession.sid, SsoSession.user_agent).where(
                SsoSession.sid.in_(sorted(str(s) for s in sids)),
                SsoSession.person_id == person.id))}
    return [Activity(e.at, activity_words(e.action), _detail(e, browsers), _who(e.actor, person))
            for e in events]


def _page(sso: SsoSession, message: str | None = None, status: int = 200):
    db = database.session()
    person = sso.person
    return render_template(
        "account/security.html", person=person, message=message,
        sign_ins=sign_ins(db, person, sso), connections=connections(db, person),
        activity=activity(db, person), sign_out_form=SignOutThereForm(),
        disconnect_form=DisconnectForm(),
        notices=get_flashed_messages(with_categories=True)), status


# -- the routes ----------------------------------------------------------------


def _signed_in() -> SsoSession | None:
    return sessions.current(database.session())


def _to_login():
    return to_login(url_for("account.security"), 303)


def _posted_id(form: FlaskForm, field: str) -> tuple[str | None, tuple[str, int] | None]:
    """The id this post names (None when it is not an id at all), or why the
    post changes nothing, with its status."""
    if not from_our_pages():
        return None, (CROSS_SITE, 403)
    if not form.validate_on_submit():
        return None, (EXPIRED_FORM, 400)
    value = getattr(form, field).data
    return (value if isinstance(value, str) and ID.fullmatch(value) else None), None


@blueprint.get("/security")
def security():
    sso = _signed_in()
    if sso is None:
        return _to_login()
    return _page(sso)


@blueprint.post("/security/sign-out")
def security_sign_out():
    sso = _signed_in()
    if sso is None:
        return _to_login()
    checked, refused = _posted_id(SignOutThereForm(), "sid")
    if refused is not None:
        return _page(sso, *refused)
    with database.write_session(current_app) as db:
        there = db.scalar(select(SsoSession).where(
            SsoSession.sid == checked, SsoSession.person_id == sso.person_id)
            .with_for_update()) if checked else None
        if there is None:
            db.rollback()
            return _page(sso, NO_SUCH_SIGN_IN, 404)
        ended_already = there.ended_at is not None or there.expires_at <= utcnow()
        if not ended_already:
            sessions.end(db, there)
            Directory(db).record(SESSION_ENDED, person_actor(sso.person), person=sso.person,
                                 sid=there.sid)
        this_browser = there.id == sso.id
        browser = describe_browser(there.user_agent)
    if this_browser and not ended_already:
        response = redirect(url_for("login.login"), 303)
        sessions.clear_cookie(response)
        return response
    flash(f"That sign-in ({browser}) had ended already." if ended_already else
          f"Signed out there: {browser}. The services signed in there were told.", "done")
    return redirect(url_for("account.security"), 303)


@blueprint.post("/security/disconnect")
def security_disconnect():
    sso = _signed_in()
    if sso is None:
        return _to_login()
    checked, refused = _posted_id(DisconnectForm(), "family")
    if refused is not None:
        return _page(sso, *refused)
    with database.write_session(current_app) as db:
        family = db.scalar(select(TokenGrant).where(
            TokenGrant.id == checked, TokenGrant.person_id == sso.person_id)
            .options(selectinload(TokenGrant.client)).with_for_update()) if checked else None
        if family is None:
            db.rollback()
            return _page(sso, NO_SUCH_CLIENT, 404)
        name = family.client.name
        if family.revoked_at is not None or family.expires_at <= utcnow():
            db.rollback()
            flash(f"{name} was disconnected already.", "done")
            return redirect(url_for("account.security"), 303)
        disconnect(db, family, sso.person)
    flash(f"{name} is disconnected. It cannot use your account any more until you connect "
          "it again.", "done")
    return redirect(url_for("account.security"), 303)


def disconnect(db: Session, family: TokenGrant, person: Person) -> None:
    """Revoke ``family`` and tell its client, in the caller's transaction."""
    revoke_grant(db, family.id, REVOKED_REASON)
    client = family.client
    queue.session_revoked(db, person.id, initiating="user",
                          reason=f"{client.name} was disconnected on the Security page.",
                          sid=family.sid, clients=[client.id])
    if family.sid is not None:
        queue_logout_token(db, client, family.sid, person.id)
    Directory(db).record(CLIENT_DISCONNECTED, person_actor(person), person=person,
                         client=client.id, client_name=client.name)


__all__ = ["activity_words", "describe_browser", "disconnect"]
