"""The console's pages for everyone: my role, the customer switcher,
"Become administrator" with its re-authentication, the advice that says why
not before anything is typed (:func:`admin_console.eligibility.advise`), and
"Send the link again" when promotion waits for a confirmed address.
Administrators' pages are in :mod:`admin_console.administrators_views`,
invitations in :mod:`admin_console.invitation_views`. Views only translate
HTTP: the rules live in :mod:`admin_console.promotion` and
:mod:`admin_console.administration`."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from admin_console import context
from admin_console.blueprint import blueprint
from admin_console.eligibility import Refusal, advise, names
from admin_console.forms import BecomeAdministratorForm, ButtonForm
from admin_console.intent_notice import announce_intent, last_notice
from admin_console.promotion import become_administrator
from idp.account.verification import send_verification
from idp.directory import locks
from idp.directory.models import Person
from idp.directory.services import person_actor
from idp.infrastructure import database, failure_counters
from idp.infrastructure.client_ip import client_ip
from idp.infrastructure.failure_counters import Limit
from idp.infrastructure.passwords import PASSWORDS
from idp.login import login_limits, sessions

REAUTHENTICATE_AFTER = 600  # seconds since the last password ("Fresh login to promote")
# "Send the link again": counted per person on the same key as the account
# page's button, so the two together send at most this many an hour.
RESEND_LIMIT = 5
RESEND_WINDOW = timedelta(hours=1)


def waiting(blocked) -> str:
    """How long a throttled person waits, in the page's language."""
    return ngettext("%(num)d minute", "%(num)d minutes", blocked.minutes)


def _advice(console):
    """Why this member cannot become administrator now, if he cannot (the
    rules read without the lock; the promotion checks them again under it),
    and the customer's administrators."""
    if console.membership is None or console.is_administrator:
        return None, []
    administrators = locks.administrators(database.session(), console.customer.id)
    decision = advise(console.person, console.membership, console.sso.channel, administrators)
    return (None if decision else decision), administrators


@blueprint.get("/")  # the header's and the e-mails' links end in a slash
@blueprint.get("")  # registered first: url_for builds this one
def home():
    number = request.args.get("customer")
    if number is not None:
        if not context.choose(number):
            flash(_("You are not a member of that customer number."), "refused")
        return redirect(url_for("console.home"), 303)
    console = context.load()
    notice = (last_notice(database.session(), current_app, console.person.id,
                          console.customer.id)
              if console.customer is not None and not console.is_administrator else None)
    advice, administrators = _advice(console)
    return render_template("console/home.html", console=console, form=ButtonForm(),
                           notice=notice, advice=advice,
                           administrators=administrators, unverified=Refusal.UNVERIFIED)


def _needs_password(console) -> bool:
    return sessions.age_seconds(console.sso) > REAUTHENTICATE_AFTER


def _password_is_right(console, password: str) -> str | None:
    """Check the re-authentication password; None when right, else why not."""
    db = database.session()
    database.restart_as_writer(db)
    blocked = login_limits.check(db, console.person.email, client_ip())
    if blocked is not None:
        return _("Too many wrong passwords. Please wait %(wait)s and try again.",
                 wait=waiting(blocked))
    result = current_app.extensions[PASSWORDS].verify(console.person.password_hash, password)
    if not result.ok:
        login_limits.record_failure(db, console.person.email, client_ip())
        db.commit()
        return _("This password is not right. Please type the password you sign in with.")
    sessions.reauthenticated(db, console.sso)
    db.commit()
    return None


@blueprint.route("/become-administrator", methods=["GET", "POST"])
def become():
    console = context.load()
    form = BecomeAdministratorForm()
    needs_password = _needs_password(console)

    def page(message=None, status=200, code=None):
        return render_template("console/become_administrator.html", console=console, form=form,
                               needs_password=needs_password, message=message,
                               send_link=code is Refusal.UNVERIFIED
                               or not console.person.email_verified,
                               button=ButtonForm()), status

    if console.is_administrator:
        flash(_("You are already an administrator of this customer number."), "done")
        return redirect(url_for("console.home"), 303)
    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        if form.csrf_token.errors:
            return page(_("This page was open too long. Nothing was changed; please try again."),
                        400)
        return page(_("Please type your customer number (9 digits)."), 400)
    if needs_password:
        wrong = _password_is_right(console, form.password.data or "")
        if wrong:
            return page(wrong, 400)
        needs_password = False
    result = become_administrator(
        current_app, console.person.id, form.customer_number.data, address=client_ip(),
        channel=console.sso.channel,
        context_customer_id=console.customer.id if console.customer else None)
    if not result:
        return page(str(result.message), 400 if result.code != "throttled" else 429,
                    result.code)
    # A new session id: the old cookie, wherever it went, does not carry the new role.
    db = database.session()
    database.restart_as_writer(db)
    sso, secret = sessions.renew(db, console.sso)
    db.commit()
    context.choose(result.customer_number)
    flash(_("You are now an administrator of customer number %(number)s. We told the other "
            "administrators by e-mail (%(names)s).", number=result.customer_number,
            names=names(result.told, "and")) if result.told else
          _("You are now an administrator of customer number %(number)s. There was no other "
            "administrator to tell.", number=result.customer_number), "done")
    response = redirect(url_for("console.home"), 303)
    sessions.set_cookie(response, secret, sso)
    return response


@blueprint.post("/tell-administrators")
def tell_administrators():
    console = context.load()
    if not ButtonForm().validate_on_submit() or console.customer is None:
        flash(_("This page was open too long. Nothing was sent; please try again."), "refused")
        return redirect(url_for("console.home"), 303)
    result = announce_intent(current_app, console.person.id, console.customer.id)
    if not result:
        flash(result.message, "refused")
    elif result.names:
        flash(_("We told %(names)s by e-mail that you intend to become administrator.",
                names=names(result.names, "and")), "done")
    else:
        flash(_("This customer number has no administrator to tell. You can become "
                "administrator yourself."), "done")
    return redirect(url_for("console.home"), 303)


@blueprint.post("/verification-link")
def send_verification_link():
    """"Send the link again": a new e-mail verification link, when promotion
    waits for a verified address."""
    console = context.load()
    if not ButtonForm().validate_on_submit():
        flash(_("This page was open too long. Nothing was sent; please try again."), "refused")
        return redirect(url_for("console.home"), 303)
    with database.write_session(current_app) as db:
        person = db.get(Person, console.person.id)
        limits = [Limit(f"verify:person:{person.id}", RESEND_LIMIT, RESEND_WINDOW)]
        blocked = failure_counters.check(db, limits)
        if person.email_verified:
            message, category = _("Your e-mail address is confirmed already."), "done"
        elif blocked is not None:
            message, category = (_("We sent several links already. Please wait %(wait)s "
                                   "before asking for another one.",
                                   wait=waiting(blocked)), "refused")
        else:
            failure_counters.record_failure(db, limits)
            send_verification(db, person, person_actor(person))
            message, category = (_("We sent a new link to %(email)s. Follow it to confirm "
                                   "your address; the earlier links no longer work.",
                                   email=person.email), "done")
    flash(message, category)
    return redirect(url_for("console.home"), 303)
