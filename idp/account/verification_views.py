"""The account's home (``/account/``) and e-mail verification: following
the link that verifies an address, and asking for it again. Opening a link
changes nothing; its page's button does (mail scanners open links too)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_wtf import FlaskForm
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from idp.account import blueprint, links
from idp.account.links import LinkRefused
from idp.account.models import LinkPurpose
from idp.account.pages import CROSS_SITE, TOO_OLD, from_our_pages, link_refused, to_login
from idp.account.verification import person_of, resend_limits, send_verification, verify
from idp.directory.services import person_actor
from idp.infrastructure import database, failure_counters
from idp.login import sessions
from idp.login.models import SsoSession
from idp.pages.forms import LogoutForm


class VerifyEmailForm(FlaskForm):
    token = HiddenField(validators=[DataRequired(), Length(max=links.MAX_SECRET)])


class SendVerificationForm(FlaskForm):
    """The button on /account/: the form is its CSRF token."""


# -- the account's home ------------------------------------------------------------

def _home(sso: SsoSession, notice: str | None = None, message: str | None = None,
          status: int = 200):
    return render_template("account/home.html", person=sso.person, notice=notice,
                           message=message, logout_form=LogoutForm(),
                           send_form=SendVerificationForm()), status


@blueprint.get("/")
def home():
    sso = sessions.current(database.session())
    if sso is None:
        return to_login()
    return _home(sso)


# -- e-mail verification ---------------------------------------------------------------

@blueprint.route("/verify-email", methods=["GET", "POST"])
def verify_email():
    form = VerifyEmailForm()
    db = database.session()
    refused = "account/verify_refused.html"
    if request.method == "GET":
        found = links.find(db, LinkPurpose.EMAIL_VERIFICATION, request.args.get("token", ""))
        person = person_of(db, found) if found else None
        db.rollback()
        if person is None:
            return link_refused(found if isinstance(found, LinkRefused) else links.UNKNOWN,
                                 refused)
        form.token.data = request.args["token"]
        return render_template("account/verify_email.html", form=form, email=person.email)
    if not from_our_pages():
        return link_refused(LinkRefused("cross_site", CROSS_SITE), refused, 403)
    if not form.validate_on_submit():
        return link_refused(LinkRefused("form", TOO_OLD) if form.csrf_token.errors
                             else links.UNKNOWN, refused)
    database.begin_write(db)
    found = links.find(db, LinkPurpose.EMAIL_VERIFICATION, form.token.data)
    outcome = verify(db, found) if found else found
    if isinstance(outcome, LinkRefused):
        db.rollback()
        return link_refused(outcome, refused)
    db.commit()
    return render_template("account/verify_done.html", email=outcome.email)


@blueprint.post("/verify-email/send")
def send_verification_again():
    db = database.session()
    sso = sessions.current(db)
    if sso is None:
        return to_login(url_for("account.home"))
    if not from_our_pages():
        return _home(sso, message=CROSS_SITE, status=403)
    if not SendVerificationForm().validate_on_submit():
        return _home(sso, message=TOO_OLD, status=400)
    database.restart_as_writer(db)
    sso = sessions.current(db)
    if sso is None or sso.ended_at is not None:
        db.rollback()
        return to_login(url_for("account.home"))
    person = sso.person
    if person.email_verified:
        db.rollback()
        return _home(sso, notice=_("Your e-mail address is verified already."))
    limits = resend_limits(person)
    blocked = failure_counters.check(db, limits)
    if blocked is not None:
        db.rollback()
        return _home(sso, message=ngettext(
            "Several links were sent already. Please wait %(num)d minute and try again.",
            "Several links were sent already. Please wait %(num)d minutes and try again.",
            blocked.minutes), status=429)
    failure_counters.record_failure(db, limits)
    send_verification(db, person, person_actor(person))
    db.commit()
    return _home(sso, notice=_("We sent a new link to %(email)s. It works for 7 days.",
                               email=person.email))
