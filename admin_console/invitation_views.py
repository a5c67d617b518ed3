"""Invitations over HTTP: the administrators' forms on the Members page
(``/console/invitations``), and the page the e-mailed link opens
(``/console/invitation?token=...``), which needs no session: a new person
has none. The rules are :mod:`admin_console.invitations`.

The link's secret arrives in the query string (access logs never record it,
and our pages send no Referer), then travels in form bodies. Opening the
link changes nothing (mail scanners open links too): joining takes a click.
An address with a login signs in first, through the login page with a
``next`` back here, and then accepts. Forms carry a CSRF token and must come
from our own pages ("No cross-site form posts", docs/security.md)."""

from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from admin_console import context, invitations
from admin_console import invitation_acceptance as acceptance
from admin_console.administrators_views import (
    TOO_OLD,
    administrator,
    members_page,
    number_in,
    report,
)
from admin_console.blueprint import blueprint as console
from admin_console.eligibility import Refusal, Refused
from admin_console.forms import InvitationForm, InvitationIdForm, InviteForm, NewMemberForm
from admin_console.invitation_acceptance import Invitation, Joined
from idp.account import links
from idp.account.links import LinkRefused
from idp.i18n import _l
from idp.infrastructure import database
from idp.infrastructure.passwords import MIN_LENGTH
from idp.infrastructure.security_headers import same_origin
from idp.login import sessions

blueprint = Blueprint("invitation", __name__, url_prefix="/console/invitation",
                      template_folder="templates")

NOT_THE_SAME = _l("The two passwords are not the same. Please type your new password twice.")
POLICY = _l("At least %(num)d characters; no other rules. A few unrelated words make a long "
            "password that is easy to remember and hard to guess.", num=MIN_LENGTH)


# -- the administrators' side (on the console's blueprint) ---------------------------

@console.post("/invitations")
def invite():
    console_ = administrator()
    form = InviteForm()
    if not form.validate_on_submit():
        message = str(TOO_OLD) if form.csrf_token.errors else \
            _("Please give the e-mail address to invite (and an own mobile if there is one).")
        return members_page(console_, form, message, 400)
    result = invitations.invite(current_app, console_.person.id, console_.customer.id,
                                form.email.data, form.mobile.data)
    if not result:
        return members_page(console_, form, str(result.message), 400)
    report(result)
    return redirect(url_for("console.members"), 303)


@console.post("/invitations/withdraw")
def withdraw():
    console_ = administrator()
    form = InvitationIdForm()
    valid = form.validate_on_submit()
    invitation_id = number_in(form.invitation.data)
    if not valid and form.csrf_token.errors:
        flash(str(TOO_OLD), "refused")
    elif invitation_id is None:
        flash(str(invitations.NO_SUCH_INVITATION.message), "refused")
    else:
        report(invitations.withdraw(current_app, console_.person.id, console_.customer.id,
                                    invitation_id))
    return redirect(url_for("console.members"), 303)


# -- the invited person's side (no session needed) -----------------------------------

@blueprint.before_request
def from_our_pages():
    if request.method == "POST" and not same_origin(current_app.config["KEYHOLDER"].ISSUER):
        return refused(LinkRefused("cross_site", _("This form was sent from another site, so "
                                                   "nothing was changed.")), 403)
    return None


def refused(refusal: LinkRefused | Refused, status: int = 400):
    return render_template("console/invitation_refused.html", refusal=refusal), status


def _look(secret: object) -> Invitation | LinkRefused:
    db = database.session()
    found = acceptance.look(db, secret)
    db.rollback()  # the link's row lock, taken by the look-up, goes at once
    return found


def _login_url(invitation: Invitation, secret: str) -> str:
    return url_for("login.login", next=url_for("invitation.page", token=secret),
                   login_hint=invitation.email)


def _page(invitation: Invitation, secret: str, form=None, message: str | None = None,
          status: int = 200):
    sso = sessions.current(database.session())
    if invitation.member_already:
        return refused(Refused(Refusal.ALREADY_MEMBER, invitations.already_member(
            invitation.email, invitation.customer_number)))
    if invitation.has_login:
        form = form if form is not None else InvitationForm(formdata=None, token=secret)
        signed_in_as = sso.person.email if sso is not None else None
    else:
        form = form if form is not None else NewMemberForm(formdata=None, token=secret)
        signed_in_as = None
    return render_template("console/invitation.html", invitation=invitation, form=form,
                           message=message, signed_in_as=signed_in_as,
                           login_url=_login_url(invitation, secret), policy=POLICY), status


@blueprint.get("")
def page():
    secret = request.args.get("token", "")
    found = _look(secret)
    if isinstance(found, LinkRefused):
        return refused(found)
    return _page(found, secret)


def _joined(result: Joined):
    if result.new_person:
        return render_template("console/invitation_joined.html", joined=result,
                               login_url=url_for("login.login", next=url_for("console.home"),
                                                 login_hint=result.email))
    session[context.CHOSEN] = result.customer_number  # the console shows the new customer
    flash(_("Welcome to %(name)s: you are now a user of customer number %(number)s.",
            name=result.customer_name, number=result.customer_number), "done")
    return redirect(url_for("console.home"), 303)


def _posted(form: InvitationForm) -> tuple[Invitation | LinkRefused, bool]:
    """The invitation a posted form is about (or why not), and whether the
    rest of the form is complete."""
    complete = form.validate_on_submit()
    if form.csrf_token.errors:
        return LinkRefused("form", _("This page was open too long, so nothing was changed. "
                                     "Please open the link in the e-mail again.")), False
    if form.token.errors:
        return links.UNKNOWN, False
    return _look(form.token.data), complete


@blueprint.post("/new")
def join_as_new_person():
    form = NewMemberForm()
    found, complete = _posted(form)
    if isinstance(found, LinkRefused):
        return refused(found)
    secret = form.token.data
    if found.has_login:
        return _page(found, secret, status=400, message=acceptance.has_login(found.email))
    if not complete:
        return _page(found, secret, form, _("Please give your name, and your new password "
                                            "twice."), 400)
    if form.password.data != form.again.data:
        return _page(found, secret, form, str(NOT_THE_SAME), 400)
    result = acceptance.accept_as_new_person(current_app, secret, form.name.data,
                                              form.password.data)
    if isinstance(result, LinkRefused):
        return refused(result)
    if not result:
        return _page(found, secret, form, result.message, 400)
    return _joined(result)


@blueprint.post("/accept")
def accept():
    form = InvitationForm()
    found, _ = _posted(form)
    if isinstance(found, LinkRefused):
        return refused(found)
    sso = sessions.current(database.session())
    if sso is None:
        return redirect(_login_url(found, form.token.data), 303)
    result = acceptance.accept_as_member(current_app, form.token.data, sso.person.id)
    if isinstance(result, LinkRefused):
        return refused(result)
    if not result:
        return _page(found, form.token.data, message=result.message, status=400)
    return _joined(result)
