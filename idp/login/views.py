"""The login page and the signed-in page.

No user enumeration (docs/security.md): an unknown address and a wrong password
get the same message, status and work (a dummy argon2 verification). A
successful login makes a new session id and answers 303."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from claims.vocabulary import Channel
from idp.clients.models import CHANNELS
from idp.clients.registry import query_client
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.infrastructure.client_ip import client_ip
from idp.infrastructure.passwords import PASSWORDS
from idp.login import login_limits, sessions
from idp.pages.authorize import mark_fresh_login
from idp.pages.forms import LoginForm, LogoutForm

blueprint = Blueprint("login", __name__)

WRONG = "The e-mail address or the password is not right. Please try again."
SUSPENDED = ("This account is suspended. Please contact an administrator of your "
             "customer number or our helpdesk.")


def safe_next(target: str | None) -> str | None:
    """A path on this site, or None ("No open redirects")."""
    if not target or len(target) > 4096 or not target.startswith("/"):
        return None
    if target.startswith(("//", "/\\")) or any(c in target for c in "\r\n\t\\"):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def _channel_of(target: str) -> str:
    """A login for a native app's (or a TV box's) authorization request starts
    an app session; every other login is on the web (docs/design.md, "Channels")."""
    parts = urlsplit(target)
    if parts.path != url_for("authorize.authorize"):
        return Channel.WEB.value
    client_id = (parse_qs(parts.query).get("client_id") or [""])[0]
    client = query_client(client_id) if client_id else None
    return CHANNELS.get(client.type, Channel.WEB).value if client is not None else \
        Channel.WEB.value


def _page(form: LoginForm, message: str | None = None, status: int = 200):
    return render_template("login/login.html", form=form, message=message), status


@blueprint.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        form.email.data = (request.args.get("login_hint") or "")[:254]
        return _page(form)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            return _page(form, "This page was open too long. Please sign in again.", 400)
        return _page(form, "Please give your e-mail address and your password.", 400)

    db = database.session()
    database.begin_write(db)
    email, address = form.email.data, client_ip()
    blocked = login_limits.check(db, email, address)
    if blocked is not None:
        db.rollback()
        return _page(form, f"Too many attempts. Please wait {blocked.wait_words()} and try "
                           "again.", 429)
    person = Directory(db).find_person(email)
    result = current_app.extensions[PASSWORDS].verify(
        person.password_hash if person else None, form.password.data)
    if person is None or not result.ok:
        login_limits.record_failure(db, email, address)
        db.commit()
        return _page(form, WRONG)
    if not person.is_active:
        db.rollback()
        return _page(form, SUSPENDED, 403)
    if result.new_hash:
        person.password_hash = result.new_hash
    login_limits.record_success(db, email)
    target = safe_next(form.next.data) or url_for("login.signed_in")
    sso, secret = sessions.start(db, person, ["pwd"], _channel_of(target))
    mark_fresh_login(sso.sid, target)
    db.commit()
    response = redirect(target, 303)
    sessions.set_cookie(response, secret, sso)
    return response


@blueprint.get("/")
def signed_in():
    sso = sessions.current(database.session())
    if sso is None:
        return redirect(url_for("login.login"))
    return render_template("login/signed_in.html", person=sso.person, form=LogoutForm())
