"""The second factor of a signed-in person, at ``/account/second-factor``
(the rules are :mod:`idp.account.totp`; the sign-in's step is in
:mod:`idp.login.views`).

- Setting it up: the page shows a QR code and the secret in text; it is on
  only when a right code of the app is typed, and then shows ten recovery
  codes, once.
- New recovery codes, in place of the old ones, shown once.
- Turning it off: the password and a current code (or a recovery code).

Like the console's sensitive acts, setting up and new recovery codes ask
for the password again when the sign-in is older than 10 minutes; turning
off always asks for it. Wrong passwords and wrong codes count as failed
sign-ins ("Throttle, never lock out"). Every form carries a CSRF token, and
a post from another site is refused before anything runs."""

from __future__ import annotations

from functools import wraps

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from idp.account import blueprint, totp
from idp.account.pages import CROSS_SITE, from_our_pages, too_many_attempts, unfilled
from idp.directory.services import person_actor
from idp.i18n import _l
from idp.infrastructure import database
from idp.infrastructure.client_ip import client_ip
from idp.infrastructure.passwords import PASSWORDS
from idp.login import login_limits, sessions

REAUTHENTICATE_AFTER = 600  # seconds since the last password, as the console's

EXPIRED = _l("This page was open too long. Nothing was changed; please try again.")
WRONG_PASSWORD = _l("This password is not right. Please type the password you sign in with.")
WRONG_CODE = _l("This code is not right. Please type the 6-digit code your authenticator app "
                "shows now, or one of your recovery codes.")
NO_CODE = _l("Please type the 6-digit code your authenticator app shows.")


class EnrolForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=totp.MAX_TYPED)])
    password = PasswordField(_l("Your password"), validators=[Length(max=1024)])


class RenewForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[Length(max=1024)])


class DisableForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[DataRequired(), Length(max=1024)])
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=totp.MAX_TYPED)])


def wrong_app_code() -> str:
    """A wrong code while setting up: the app's entry is under the operator's name."""
    return _("This code is not right. Please type the 6-digit code your authenticator app "
             "shows now for %(name)s.", name=totp.issuer_name())


def signed_in(view):
    """The view gets the live SSO session; without one, the login page and
    back here. Posts from another site are refused."""

    @wraps(view)
    def guarded(*args, **kwargs):
        if request.method == "POST" and not from_our_pages():
            return render_template("account/refused.html", message=CROSS_SITE,
                                   back=url_for("account.second_factor")), 403
        sso = sessions.current(database.session())
        if sso is None:
            return redirect(url_for("login.login", next=url_for("account.second_factor")))
        return view(sso, *args, **kwargs)

    return guarded


def _needs_password(sso) -> bool:
    return sessions.age_seconds(sso) > REAUTHENTICATE_AFTER


def _throttled(db, person) -> str | None:
    blocked = login_limits.check(db, person.email, client_ip())
    return None if blocked is None else too_many_attempts(blocked)


def _failed(db, person, message: str) -> str:
    """Count a wrong password or code as a failed sign-in, and say so."""
    login_limits.record_failure(db, person.email, client_ip())
    db.commit()
    return message


def _password_is_right(db, sso, password: str) -> bool:
    result = current_app.extensions[PASSWORDS].verify(sso.person.password_hash, password)
    if result.ok:
        sessions.reauthenticated(db, sso)
    return result.ok


# -- the pages -------------------------------------------------------------------------


def _status_page(sso, message=None, status=200, *, renew_form=None, disable_form=None,
                 invalid=()):
    db, person = database.session(), sso.person
    return render_template(
        "account/second_factor.html", person=person, message=message, invalid=invalid,
        enabled_at=person.totp_enabled_at, left=totp.recovery_codes_left(db, person),
        customers=totp.requiring_customers(db, person),
        renew_form=renew_form or RenewForm(formdata=None),
        disable_form=disable_form or DisableForm(formdata=None),
        needs_password=_needs_password(sso)), status


def _enrol_page(sso, form, message=None, status=200, *, invalid=()):
    db, person = database.session(), sso.person
    secret = totp.candidate(person)
    uri = totp.provisioning_uri(secret, person.email)
    return render_template(
        "account/second_factor_enrol.html", form=form, message=message, invalid=invalid,
        person=person,
        secret=totp.grouped(secret), qr=totp.qr_svg(uri), uri=uri,
        customers=totp.requiring_customers(db, person),
        action=url_for("account.enrol"), needs_password=_needs_password(sso),
        signing_in=False), status


@blueprint.get("/second-factor")
@signed_in
def second_factor(sso):
    if totp.enrolled(sso.person):
        return _status_page(sso)
    return _enrol_page(sso, EnrolForm(formdata=None))


@blueprint.post("/second-factor/enrol")
@signed_in
def enrol(sso):
    form = EnrolForm()
    if totp.enrolled(sso.person):
        flash(_("Two-step sign-in is already on."), "done")
        return redirect(url_for("account.second_factor"), 303)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            return _enrol_page(sso, form, EXPIRED, 400)
        return _enrol_page(sso, form, NO_CODE, 400, invalid=("code",))
    needs_password = _needs_password(sso)
    secret = totp.candidate(sso.person)
    db = database.session()
    database.restart_as_writer(db)
    person = sso.person
    throttled = _throttled(db, person)
    if throttled:
        db.rollback()
        return _enrol_page(sso, form, throttled, 429)
    if needs_password and not _password_is_right(db, sso, form.password.data or ""):
        return _enrol_page(sso, form, _failed(db, person, WRONG_PASSWORD), 400,
                           invalid=("password",))
    codes = totp.enable(db, person, secret, form.code.data, actor=person_actor(person),
                        during="account")
    if codes is None:
        return _enrol_page(sso, form, _failed(db, person, wrong_app_code()), 400,
                           invalid=("code",))
    db.commit()
    totp.forget_candidate()
    return render_template("account/second_factor_recovery_codes.html", codes=codes,
                           continue_url=url_for("account.second_factor"), signing_in=False,
                           first=True)


@blueprint.post("/second-factor/recovery-codes")
@signed_in
def renew_recovery_codes(sso):
    form = RenewForm()
    if not totp.enrolled(sso.person):
        return redirect(url_for("account.second_factor"), 303)
    if not form.validate_on_submit():
        return _status_page(sso, EXPIRED, 400, renew_form=form)
    needs_password = _needs_password(sso)
    db = database.session()
    database.restart_as_writer(db)
    person = sso.person
    throttled = _throttled(db, person)
    if throttled:
        db.rollback()
        return _status_page(sso, throttled, 429, renew_form=form)
    if needs_password and not _password_is_right(db, sso, form.password.data or ""):
        return _status_page(sso, _failed(db, person, WRONG_PASSWORD), 400, renew_form=form,
                            invalid=("renew-password",))
    codes = totp.renew_recovery_codes(db, person, actor=person_actor(person))
    db.commit()
    if codes is None:
        return redirect(url_for("account.second_factor"), 303)
    return render_template("account/second_factor_recovery_codes.html", codes=codes,
                           continue_url=url_for("account.second_factor"), signing_in=False,
                           first=False)


@blueprint.post("/second-factor/disable")
@signed_in
def disable(sso):
    form = DisableForm()
    if not totp.enrolled(sso.person):
        return redirect(url_for("account.second_factor"), 303)
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            return _status_page(sso, EXPIRED, 400, disable_form=form)
        return _status_page(sso, _("Please type your password and a code of your "
                                   "authenticator app (or a recovery code)."), 400,
                            disable_form=form, invalid=tuple(
                                f"off-{name}" for name in unfilled(form, "password", "code")))
    db = database.session()
    database.restart_as_writer(db)
    person = sso.person
    throttled = _throttled(db, person)
    if throttled:
        db.rollback()
        return _status_page(sso, throttled, 429, disable_form=form)
    if not _password_is_right(db, sso, form.password.data):
        return _status_page(sso, _failed(db, person, WRONG_PASSWORD), 400, disable_form=form,
                            invalid=("off-password",))
    verified = totp.verify(db, person, form.code.data, actor=person_actor(person))
    if verified is None:
        return _status_page(sso, _failed(db, person, WRONG_CODE), 400, disable_form=form,
                            invalid=("off-code",))
    customers = totp.requiring_customers(db, person)
    totp.disable(db, person, actor=person_actor(person),
                 how="recovery_code" if verified.method == "recovery" else "code")
    db.commit()
    if customers:
        flash(ngettext("Two-step sign-in is off. %(names)s requires it of its administrators: "
                       "your next sign-in will ask you to set it up again.",
                       "Two-step sign-in is off. %(names)s require it of their administrators: "
                       "your next sign-in will ask you to set it up again.",
                       len(customers), names=", ".join(c.name for c in customers)), "done")
    else:
        flash(_("Two-step sign-in is off. You sign in with your password only."), "done")
    return redirect(url_for("account.second_factor"), 303)
