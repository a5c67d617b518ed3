"""The login page and the signed-in page.

No user enumeration (docs/security.md): an unknown address and a wrong password
get the same message, status and work (a dummy argon2 verification). A
successful login makes a new session id and answers 303.

**The second factor** (:mod:`idp.account.totp`). A person who has one, after
the right password, is sent to ``/login/second-factor`` for a code of the
authenticator app or a recovery code; an administrator of a customer that
requires one, who has none yet, enrols there before the sign-in completes.
Until then there is no SSO session: what waits is a marker in the signed
Flask session (the person, where the login goes, the channel, the time and a
fingerprint of the password hash), good for 5 minutes (15 to enrol) and only
until the password changes, so going anywhere else means signing in again.
Wrong codes count as wrong passwords (the same counters, per account and per
client address), and the account's count is cleared only when the code is
right, so a known password does not buy fresh guesses at the code. The
session then starts with ``amr`` ``["pwd", "otp"]`` (RFC 8176)."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlsplit

from flask import (
    Blueprint,
    current_app,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from claims.vocabulary import Channel
from idp.account import totp
from idp.account.pages import too_many_attempts
from idp.clients.models import CHANNELS
from idp.clients.registry import query_client
from idp.directory.models import Person
from idp.directory.services import Directory, person_actor
from idp.i18n import _l
from idp.infrastructure import database
from idp.infrastructure.client_ip import client_ip
from idp.infrastructure.passwords import PASSWORDS
from idp.login import login_limits, sessions
from idp.pages.authorize import mark_fresh_login
from idp.pages.forms import LoginForm, LogoutForm

blueprint = Blueprint("login", __name__)

WRONG = _l("The e-mail address or the password is not right. Please try again.")
SUSPENDED = _l("This account is suspended. Please contact an administrator of your "
               "customer number or our helpdesk.")
WRONG_CODE = _l("This code is not right. Please type the 6-digit code your authenticator app "
                "shows now, or one of your recovery codes.")
TOO_LONG = _l("Your sign-in took too long. Please sign in again.")

PENDING = "second_factor_login"  # key in the signed Flask session
PENDING_SECONDS = {"code": 5 * 60, "enrol": 15 * 60}


class SecondFactorForm(FlaskForm):
    # A code of the app (6 digits) or a recovery code (10 characters, a dash).
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=totp.MAX_TYPED)])


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
            return _page(form, _("This page was open too long. Please sign in again."), 400)
        return _page(form, _("Please give your e-mail address and your password."), 400)

    db = database.session()
    database.begin_write(db)
    email, address = form.email.data, client_ip()
    blocked = login_limits.check(db, email, address)
    if blocked is not None:
        db.rollback()
        return _page(form, too_many_attempts(blocked), 429)
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
    target = safe_next(form.next.data) or url_for("login.signed_in")
    if totp.needed(db, person) is not None:
        # No session yet, and the account's failures stay counted until the code.
        _await_second_factor(person, target, _channel_of(target))
        db.commit()
        return redirect(url_for("login.second_factor"), 303)
    login_limits.record_success(db, email)
    return _signed_in(db, person, [totp.AMR_PASSWORD], target, _channel_of(target))


def _signed_in(db, person: Person, amr: list[str], target: str, channel: str, page=None):
    """Start the SSO session and answer with ``page`` or a redirect to ``target``."""
    sso, secret = sessions.start(db, person, amr, channel)
    mark_fresh_login(sso.sid, target)
    db.commit()
    response = page if page is not None else redirect(target, 303)
    sessions.set_cookie(response, secret, sso)
    return response


# -- the second factor ----------------------------------------------------------------


def _fingerprint(person: Person) -> str:
    """Names the password hash: a pending sign-in dies with the password."""
    return hashlib.sha256(person.password_hash.encode()).hexdigest()[:32]


def _await_second_factor(person: Person, target: str, channel: str) -> None:
    session[PENDING] = {"person": person.id, "next": target, "channel": channel,
                        "at": int(time.time()), "pwd": _fingerprint(person)}


def _pending(db) -> tuple[Person, dict, str] | str:
    """The person whose password was right in this browser, the pending
    sign-in and the step it waits for; or why not ("none", "expired")."""
    state = session.get(PENDING)
    if not isinstance(state, dict) or not isinstance(state.get("person"), str):
        return "none"
    person = db.get(Person, state["person"])
    if person is None or not person.is_active or not isinstance(state.get("pwd"), str) \
            or not hmac.compare_digest(_fingerprint(person), state["pwd"]):
        return "expired"
    step = totp.needed(db, person)
    age = time.time() - state.get("at", 0) if isinstance(state.get("at"), int) else -1
    if step is None or not 0 <= age <= PENDING_SECONDS[step]:
        return "expired"
    return person, state, step


def _again(state: object, why: str):
    """Back to the login page: nothing pending, or it is over."""
    session.pop(PENDING, None)
    target = safe_next(state.get("next")) if isinstance(state, dict) else None
    if why == "none":
        return redirect(url_for("login.login", next=target), 303)
    form = LoginForm(formdata=None)
    form.next.data = target or ""
    return _page(form, TOO_LONG)


@blueprint.route("/login/second-factor", methods=["GET", "POST"])
def second_factor():
    db = database.session()
    if request.method == "POST":
        database.begin_write(db)
    pending = _pending(db)
    if isinstance(pending, str):
        db.rollback()
        return _again(session.get(PENDING), pending)
    person, state, step = pending
    target = safe_next(state.get("next")) or url_for("login.signed_in")
    channel = state.get("channel") if state.get("channel") in {c.value for c in Channel} \
        else Channel.WEB.value
    form = SecondFactorForm()
    if step == "enrol":
        return _enrol(db, person, form, target, channel)

    def page(message=None, status=200):
        return render_template("login/second_factor.html", form=form, message=message), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        db.rollback()
        if form.csrf_token.errors:
            return page(_("This page was open too long. Please type the code again."), 400)
        return page(_("Please type the code your authenticator app shows, or a recovery code."),
                    400)
    address = client_ip()
    blocked = login_limits.check(db, person.email, address)
    if blocked is not None:
        db.rollback()
        return page(too_many_attempts(blocked), 429)
    verified = totp.verify(db, person, form.code.data, actor=person_actor(person))
    if verified is None:
        login_limits.record_failure(db, person.email, address)
        db.commit()
        return page(WRONG_CODE)
    login_limits.record_success(db, person.email)
    session.pop(PENDING, None)
    notice = None
    if verified.method == "recovery":  # say so, and how many are left, before going on
        notice = make_response(render_template(
            "login/second_factor.html", form=form, recovery_left=verified.recovery_left,
            continue_url=target))
    return _signed_in(db, person, [totp.AMR_PASSWORD, totp.AMR_OTP], target, channel, notice)


def _enrol(db, person: Person, form: SecondFactorForm, target: str, channel: str):
    """An administrator whose customer requires a second factor sets one up
    before the sign-in completes."""
    secret = totp.candidate(person)
    customers = totp.requiring_customers(db, person)

    def page(message=None, status=200):
        uri = totp.provisioning_uri(secret, person.email)
        return render_template(
            "account/second_factor_enrol.html", form=form, message=message, person=person,
            secret=totp.grouped(secret), qr=totp.qr_svg(uri), uri=uri, customers=customers,
            action=url_for("login.second_factor"), needs_password=False,
            signing_in=True), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        db.rollback()
        if form.csrf_token.errors:
            return page(_("This page was open too long. Please type the code again."), 400)
        return page(_("Please type the 6-digit code your authenticator app shows."), 400)
    address = client_ip()
    blocked = login_limits.check(db, person.email, address)
    if blocked is not None:
        db.rollback()
        return page(too_many_attempts(blocked), 429)
    codes = totp.enable(db, person, secret, form.code.data, actor=person_actor(person),
                        during="sign-in")
    if codes is None:
        login_limits.record_failure(db, person.email, address)
        db.commit()
        return page(_("This code is not right. Please type the 6-digit code your "
                      "authenticator app shows now."))
    login_limits.record_success(db, person.email)
    totp.forget_candidate()
    session.pop(PENDING, None)
    shown = make_response(render_template(
        "account/second_factor_recovery_codes.html", codes=codes, continue_url=target,
        signing_in=True))
    return _signed_in(db, person, [totp.AMR_PASSWORD, totp.AMR_OTP], target, channel, shown)


@blueprint.get("/")
def signed_in():
    sso = sessions.current(database.session())
    if sso is None:
        return redirect(url_for("login.login"))
    return render_template("login/signed_in.html", person=sso.person, form=LogoutForm())
