"""The account pages for passwords and e-mail verification, on the
``account`` blueprint (/account):

- ``/account/`` — what a signed-in person can do with their account;
- ``/account/password/forgot`` — "Forgot password?": a link by e-mail;
- ``/account/password/reset?token=...`` — the e-mailed link: a new password;
- ``/account/password`` — changing the password while signed in;
- ``/account/verify-email?token=...`` — the e-mailed verification link;
- ``/account/verify-email/send`` — a new verification link, asked for on
  ``/account/``.

The rules (docs/security.md): every form has a CSRF token and must come from
our own pages ("CSRF token on every form", "No cross-site form posts"); bad
input gets a sentence on the page and changes nothing; "No user
enumeration": "Forgot password?" answers the same words, status and work
whether or not the address has an account; "Throttle, never lock out":
requests for links are counted per typed address and per client address,
wrong current passwords with the login's counters.

A link's secret travels in the query string of the e-mailed URL (never
recorded by the access logs, never sent on as a Referer) and then in form
bodies. Opening a link changes nothing: mail scanners open links too, so the
page asks for a click (a new password, a confirmation) before the link is
used."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import EmailField, HiddenField, PasswordField
from wtforms.validators import DataRequired, Length

from idp.account import blueprint, links
from idp.account.links import LinkRefused
from idp.account.models import AccountLink, LinkPurpose
from idp.account.pages import (
    CROSS_SITE,
    TOO_OLD,
    form_refusal,
    from_our_pages,
    link_refused,
    to_login,
    too_many_attempts,
    unfilled,
)
from idp.account.passwords import policy_words, refusal_words, set_password
from idp.account.verification import (
    absolute_url,
    mark_verified,
    person_of,
    withdraw,
)
from idp.directory.contacts import normalise_email
from idp.directory.errors import InvalidEmail, InvalidPassword
from idp.directory.models import Person, utcnow
from idp.directory.services import Directory, person_actor
from idp.i18n import _l
from idp.infrastructure import database, failure_counters
from idp.infrastructure.client_ip import client_ip
from idp.infrastructure.failure_counters import Limit
from idp.infrastructure.passwords import MAX_LENGTH, PASSWORDS
from idp.login import login_limits, sessions
from idp.login.models import SsoSession
from idp.outbox import mail

# "Forgot password?" requests, counted whether or not an account exists.
# One hour at most: `keyholder purge` forgets windows older than that.
RESET_WINDOW = timedelta(hours=1)
RESET_PER_ADDRESS = 5   # links asked for one typed address per window
RESET_PER_CLIENT = 30   # per client address (offices share one)

# Lazy: each is translated in the language of the page or e-mail it is shown in.
RESET_SUBJECT = _l("Choose a new password")
NOT_THE_SAME = _l("The two new passwords are not the same. Please type the new password twice.")
NOT_AN_ADDRESS = _l("This is not an e-mail address (expected name@example.com).")
WRONG_CURRENT = _l("Your current password is not right, so nothing was changed.")


# -- forms (each carries a CSRF token) ------------------------------------------

class ForgotPasswordForm(FlaskForm):
    email = EmailField(_l("E-mail address"), validators=[DataRequired(), Length(max=254)])


class NewPasswordFields:
    # No maximum below the policy's: a long passphrase must not be cut.
    password = PasswordField(_l("New password"), validators=[DataRequired(),
                                                             Length(max=MAX_LENGTH)])
    again = PasswordField(_l("New password again"), validators=[DataRequired(),
                                                                Length(max=MAX_LENGTH)])


class ResetPasswordForm(FlaskForm, NewPasswordFields):
    token = HiddenField(validators=[DataRequired(), Length(max=links.MAX_SECRET)])


class ChangePasswordForm(FlaskForm, NewPasswordFields):
    current = PasswordField(_l("Current password"), validators=[DataRequired(),
                                                                Length(max=MAX_LENGTH)])


# -- helpers --------------------------------------------------------------------

def _reset_limits(address: str) -> list[Limit]:
    """Keyed by the address as typed (normalised), whether or not it has an account."""
    typed_key = hashlib.sha256(address.encode()).hexdigest()[:40]
    return [Limit(f"reset:address:{typed_key}", RESET_PER_ADDRESS, RESET_WINDOW),
            Limit(f"reset:ip:{client_ip()[:80]}", RESET_PER_CLIENT, RESET_WINDOW)]


# -- "Forgot password?" ------------------------------------------------------------

def _forgot_page(form: ForgotPasswordForm, message: str | None = None, status: int = 200,
                 invalid: tuple[str, ...] = ()):
    return render_template("account/password_forgot.html", form=form, message=message,
                           invalid=invalid), status


@blueprint.route("/password/forgot", methods=["GET", "POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if request.method == "GET":
        return _forgot_page(form)
    if not from_our_pages():
        return _forgot_page(form, CROSS_SITE, 403)
    if not form.validate_on_submit():
        return _forgot_page(form, form_refusal(
            form, NOT_AN_ADDRESS if form.email.data else _("Please give your e-mail address.")),
            400, unfilled(form, "email"))
    try:
        address = normalise_email(form.email.data)
    except InvalidEmail:  # says nothing about who has an account
        return _forgot_page(form, NOT_AN_ADDRESS, 400, ("email",))

    db = database.session()
    database.begin_write(db)
    limits = _reset_limits(address)
    blocked = failure_counters.check(db, limits)
    if blocked is not None:
        db.rollback()
        return _forgot_page(form, ngettext(
            "Too many links were asked for. Please wait %(num)d minute and try again.",
            "Too many links were asked for. Please wait %(num)d minutes and try again.",
            blocked.minutes), 429)
    failure_counters.record_failure(db, limits)  # every request counts, found or not
    person = Directory(db).find_person(address)
    _send_reset_link(db, person if person is not None and person.is_active else None, address)
    db.commit()
    return render_template("account/password_forgot_sent.html", email=address)


def _send_reset_link(db: Session, person: Person | None, address: str) -> None:
    """Issue the link and queue its e-mail; for nobody (no such account, or
    a suspended one), do the very same work and undo it ("No user
    enumeration": the same statements, templates and time either way). The
    e-mail itself leaves later, by the worker."""
    recipient = person if person is not None else Person(email=address, name=address)
    step = db.begin_nested()
    secret = links.issue(db, LinkPurpose.PASSWORD_RESET, email=address,
                         actor=f"ip:{client_ip()}"[:64], person=person)
    until = utcnow() + links.LIFETIMES[LinkPurpose.PASSWORD_RESET]
    mail.queue(db, "password.reset", "password_reset", RESET_SUBJECT, recipient, None,
               link=absolute_url("account.reset_password", token=secret),
               until=until, forgot_url=absolute_url("account.forgot_password"))
    db.flush()
    if person is None:
        step.rollback()
    else:
        step.commit()


# -- the e-mailed link: a new password ----------------------------------------------

def _reset_page(form: ResetPasswordForm, person: Person, message: str | None = None,
                status: int = 200, invalid: tuple[str, ...] = ()):
    return render_template("account/password_reset.html", form=form, person=person,
                           message=message, policy=policy_words(), invalid=invalid), status


def _reset_link(db: Session, secret: object) -> tuple[AccountLink, Person] | LinkRefused:
    found = links.find(db, LinkPurpose.PASSWORD_RESET, secret)
    if not found:
        return found
    person = person_of(db, found)
    return (found, person) if person is not None else links.UNKNOWN


@blueprint.route("/password/reset", methods=["GET", "POST"])
def reset_password():
    form = ResetPasswordForm()
    db = database.session()
    refused = "account/password_link_refused.html"
    if request.method == "GET":
        found = _reset_link(db, request.args.get("token", ""))
        db.rollback()
        if isinstance(found, LinkRefused):
            return link_refused(found, refused)
        form.token.data = request.args["token"]
        return _reset_page(form, found[1])
    if not from_our_pages():
        return link_refused(LinkRefused("cross_site", CROSS_SITE), refused, 403)
    complete = form.validate_on_submit()
    if form.csrf_token.errors:
        return link_refused(LinkRefused("form", TOO_OLD), refused)
    if form.token.errors:
        return link_refused(links.UNKNOWN, refused)
    database.begin_write(db)
    found = _reset_link(db, form.token.data)
    if isinstance(found, LinkRefused):
        db.rollback()
        return link_refused(found, refused)
    link, person = found
    if not complete:
        db.rollback()
        return _reset_page(form, person, _("Please type your new password twice."), 400,
                           unfilled(form, "password", "again"))
    if form.password.data != form.again.data:
        db.rollback()
        return _reset_page(form, person, NOT_THE_SAME, 400, ("again",))
    try:
        set_password(db, person, form.password.data, actor=person_actor(person), how="reset")
    except InvalidPassword:
        db.rollback()
        return _reset_page(form, person, refusal_words(form.password.data), 400, ("password",))
    links.use(link)
    # The link reached the person at their address: that verifies it, and
    # the login's count of wrong passwords for it starts again.
    mark_verified(db, person, "password_reset")
    login_limits.record_success(db, person.email)
    db.commit()
    # Nobody is signed in by a link: every session of the person has ended
    # (this browser's too, if it had one).
    response = current_app.make_response(render_template("account/password_reset_done.html",
                                                         person=person))
    sessions.clear_cookie(response)
    return response


# -- changing the password while signed in --------------------------------------------

def _change_page(form: ChangePasswordForm, sso: SsoSession, message: str | None = None,
                 status: int = 200, invalid: tuple[str, ...] = ()):
    return render_template("account/password_change.html", form=form, person=sso.person,
                           message=message, policy=policy_words(), invalid=invalid), status


@blueprint.route("/password", methods=["GET", "POST"])
def change_password():
    db = database.session()
    sso = sessions.current(db)
    if sso is None:
        return to_login()
    form = ChangePasswordForm()
    if request.method == "GET":
        return _change_page(form, sso)
    if not from_our_pages():
        return _change_page(form, sso, CROSS_SITE, 403)
    if not form.validate_on_submit():
        return _change_page(form, sso, form_refusal(
            form, _("Please type your current password, and the new one twice.")), 400,
            unfilled(form, "current", "password", "again"))

    database.restart_as_writer(db)
    sso = sessions.current(db)
    if sso is None or sso.ended_at is not None or not sso.person.is_active:  # ended meanwhile
        db.rollback()
        return to_login()
    person, address = sso.person, client_ip()
    # Throttled like the login, on the login's own counters: this form must
    # not be a second way to guess the password.
    blocked = login_limits.check(db, person.email, address)
    if blocked is not None:
        db.rollback()
        return _change_page(form, sso, too_many_attempts(blocked), 429)
    if not current_app.extensions[PASSWORDS].verify(person.password_hash,
                                                     form.current.data).ok:
        login_limits.record_failure(db, person.email, address)
        db.commit()
        return _change_page(form, sso, WRONG_CURRENT, 400, ("current",))
    if form.password.data != form.again.data:
        db.rollback()
        return _change_page(form, sso, NOT_THE_SAME, 400, ("again",))
    try:
        ended = set_password(db, person, form.password.data, actor=person_actor(person),
                             how="changed", keep=sso)
    except InvalidPassword:
        db.rollback()
        return _change_page(form, sso, refusal_words(form.password.data), 400, ("password",))
    login_limits.record_success(db, person.email)
    withdraw(db, person, LinkPurpose.PASSWORD_RESET)  # a link asked for before opens nothing
    sessions.reauthenticated(db, sso)   # the password was typed just now
    sso, secret = sessions.renew(db, sso)  # and this browser gets a new session secret
    db.commit()
    response = current_app.make_response(render_template(
        "account/password_changed.html", person=person, ended=ended))
    sessions.set_cookie(response, secret, sso)
    return response
