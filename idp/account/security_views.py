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
  the 20 newest, in sentences (:mod:`idp.directory.audit_words`).

What the lists hold, in words, is :mod:`idp.account.security_lists`.

Every form carries a CSRF token and must come from our own pages ("CSRF
token on every form", "No cross-site form posts"). Ids in forms are looked
up only among the person's own sessions and families ("Scoped to the
customer shown", the same rule for a person): another person's id, a
made-up one or a malformed one gets one answer, "not found", and nothing
changes. Each change is one transaction ("All or nothing") and audited."""

from __future__ import annotations

import re

from flask import (
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from wtforms import HiddenField

from idp.account import blueprint
from idp.account.pages import CROSS_SITE, from_our_pages, to_login
from idp.account.security_lists import (
    CLIENT_DISCONNECTED,
    SESSION_ENDED,
    activity,
    connections,
    describe_browser,
    sign_ins,
)
from idp.directory.models import Person, utcnow
from idp.directory.services import Directory, person_actor
from idp.i18n import _l
from idp.infrastructure import database
from idp.login import sessions
from idp.login.models import SsoSession
from idp.protocol.backchannel_logout import queue_logout_token
from idp.protocol.tokens.family_revocation import revoke_grant
from idp.protocol.tokens.models import TokenGrant
from idp.security_events import queue

REVOKED_REASON = "disconnected"  # TokenGrant.revoked_reason of a disconnected family

# What an id in a form may look like: session ids and family ids are
# URL-safe base64 of 24 and 16 random bytes.
ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

EXPIRED_FORM = _l("This page was open too long. Nothing was changed; please try again.")
NO_SUCH_SIGN_IN = _l("There is no such sign-in on your account. Nothing was changed; the "
                     "list below is up to date.")
NO_SUCH_CLIENT = _l("There is no such device or service on your account. Nothing was "
                    "changed; the list below is up to date.")


class SignOutThereForm(FlaskForm):
    sid = HiddenField()


class DisconnectForm(FlaskForm):
    family = HiddenField()


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
    flash(_("That sign-in (%(browser)s) had ended already.", browser=browser) if ended_already
          else _("Signed out there: %(browser)s. The services signed in there were told.",
                 browser=browser), "done")
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
            flash(_("%(name)s was disconnected already.", name=name), "done")
            return redirect(url_for("account.security"), 303)
        disconnect(db, family, sso.person)
    flash(_("%(name)s is disconnected. It cannot use your account any more until you connect "
            "it again.", name=name), "done")
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


__all__ = ["CLIENT_DISCONNECTED", "SESSION_ENDED", "describe_browser", "disconnect"]
