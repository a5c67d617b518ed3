"""The pages of "I did not agree — undo this" (``/console/undo-promotion``):
the rules are :mod:`admin_console.undo`.

Following the link asks for a fresh sign-in as the administrator it was sent
to, as ``prompt=login`` does: the login page, then back here, and the page
shows only when the login page sent this browser back for this very link a
moment ago (the provider's fresh-login marker,
:func:`idp.pages.authorize.mark_fresh_login`). Opening the page changes
nothing (mail scanners open links too); a button does, within
:data:`admin_console.undo.FRESH_SECONDS` of that sign-in. A link that cannot
be used anyway (unknown, expired, used) says so before any sign-in.

The link's secret arrives in the query string (access logs never record it,
and our pages send no Referer), then travels in form bodies. Forms carry a
CSRF token and must come from our own pages ("No cross-site form posts",
docs/security.md): this blueprint is outside the console's guard, which
would send a visitor without a session to the login page without the hint."""

from __future__ import annotations

import hashlib

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from admin_console import undo
from admin_console.undo import UndoRefusal, UndoRefused
from idp.account.links import MAX_SECRET
from idp.infrastructure import database
from idp.infrastructure.security_headers import same_origin
from idp.login import sessions
from idp.login.models import SsoSession
from idp.pages.authorize import FRESH_LOGIN, FRESH_LOGIN_SECONDS

blueprint = Blueprint("promotion_undo", __name__, url_prefix="/console/undo-promotion",
                      template_folder="templates")

# Refusals about who follows the link; the others are about the link or the member.
WHO = {UndoRefusal.PROMOTED_HIMSELF, UndoRefusal.WRONG_PERSON, UndoRefusal.NOT_ADMINISTRATOR,
       UndoRefusal.CROSS_SITE}
NOTHING_TO_UNDO = {UndoRefusal.NOT_MEMBER, UndoRefusal.ALREADY_USER}


class UndoForm(FlaskForm):
    """A button of the page: the link's secret travels in the form's body."""

    token = HiddenField(validators=[DataRequired(), Length(max=MAX_SECRET)])


@blueprint.before_request
def from_our_pages():
    if request.method == "POST" and not same_origin(current_app.config["KEYHOLDER"].ISSUER):
        return refused(undo.cross_site())
    return None


def refused(refusal: UndoRefused, secret: str | None = None):
    status = 403 if refusal.code in WHO else 409 if refusal.code in NOTHING_TO_UNDO else 400
    login_url = _login_url(secret, refusal.sign_in_as) \
        if secret is not None and refusal.sign_in_as else None
    return render_template("console/undo_refused.html", refusal=refusal,
                           login_url=login_url), status


def _page_url(secret: str) -> str:
    return url_for("promotion_undo.page", token=secret)


def _login_url(secret: str, email: str) -> str:
    return url_for("login.login", next=_page_url(secret), login_hint=email)


def _signed_in_for(sso: SsoSession | None, secret: str) -> bool:
    """The login page sent this browser back for this link a moment ago."""
    marker = session.get(FRESH_LOGIN) or {}
    return sso is not None and marker.get("sid") == sso.sid \
        and sessions.age_seconds(sso) <= FRESH_LOGIN_SECONDS \
        and marker.get("next") == hashlib.sha256(_page_url(secret).encode()).hexdigest()


def _fresh(sso: SsoSession | None) -> bool:
    return sso is not None and sessions.age_seconds(sso) <= undo.FRESH_SECONDS


def _sign_in(secret: str):
    """To the login page (as the link's administrator), then back to the link."""
    db = database.session()
    link = undo.find_link(db, secret)
    email = link.email if link else None
    db.rollback()  # the link's row lock, taken by the look-up, goes at once
    if email is None:
        return refused(link)
    return redirect(_login_url(secret, email), 303)


@blueprint.get("")
def page():
    secret = request.args.get("token", "")
    db = database.session()
    link = undo.find_link(db, secret)
    if not link:
        db.rollback()
        return refused(link)
    sso, email = sessions.current(db), link.email
    if not _signed_in_for(sso, secret):
        db.rollback()  # the link's row lock, taken by the look-up, goes at once
        return redirect(_login_url(secret, email), 302)
    found = undo.look(db, link, sso.person_id)
    db.rollback()
    if not found:
        return refused(found, secret)
    return render_template("console/undo.html", contested=found,
                           form=UndoForm(formdata=None, token=secret))


def _posted() -> tuple[str | None, UndoRefused | None]:
    """The secret of a posted form, or why the form cannot be used."""
    form = UndoForm()
    valid = form.validate_on_submit()
    if form.csrf_token.errors:
        return None, undo.form_expired()
    if not valid:
        return None, undo.unknown_link()  # no secret, or one far too long
    return form.token.data, None


@blueprint.post("")
def confirm():
    secret, refusal = _posted()
    if refusal is not None:
        return refused(refusal)
    sso = sessions.current(database.session())
    if not _fresh(sso):
        return _sign_in(secret)
    result = undo.undo_promotion(current_app, secret, sso.person_id)
    if not result:
        return refused(result, secret)
    return render_template("console/undo_done.html", undone=result, message=None,
                           self_promotion_open=result.self_promotion_open,
                           customer_number=result.customer_number,
                           form=UndoForm(formdata=None, token=secret))


@blueprint.post("/close-self-promotion")
def close_self_promotion():
    secret, refusal = _posted()
    if refusal is not None:
        return refused(refusal)
    sso = sessions.current(database.session())
    if sso is None:
        return _sign_in(secret)
    result = undo.close_self_promotion(current_app, secret, sso.person_id)
    if isinstance(result, UndoRefused):
        return refused(result, secret)
    if not result:  # the console's own refusal: an administrator no more
        return refused(UndoRefused(UndoRefusal.NOT_ADMINISTRATOR, result.message))
    return render_template("console/undo_done.html", undone=None, message=result.message,
                           self_promotion_open=False, customer_number=None,
                           form=UndoForm(formdata=None, token=secret))
