"""The portal's pages. Each asks the token (services.portal.rules) before it
reads the operator's records, and reads only under the token's customer
number."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length, Optional, Regexp

from claims import Identity
from claims.vocabulary import Entitlement, Role
from idp.i18n import _l
from services import operator_data as data
from services.portal import confirmation, rules
from services.portal.data_store import DATABASE
from services.portal.words import line, option_name
from services.refusals import Advice, message_page, refused
from services.relying_party import current_identity, identity_required, requires

blueprint = Blueprint("portal", __name__)
# (endpoint, label, the entitlements that open it: any of them)
SECTIONS = (
    ("portal.overview", _l("Overview"), ()),
    ("portal.usage", _l("Usage"), (Entitlement.USAGE_ALL, Entitlement.USAGE_OWN_MOBILE)),
    ("portal.options", _l("Options"), (Entitlement.OPTIONS_ALL,
                                       Entitlement.OPTIONS_ACTIVATE_FREE_OWN_MOBILE)),
    ("portal.bills", _l("Bills"), (Entitlement.BILLS,)),
    ("portal.bizz_club", _l("Bizz Club"), (Entitlement.BIZZ_CLUB,)),
)
# Why a confirmation is asked again (nothing was changed).
AGAIN = {
    confirmation.Problem.EXPIRED: _l("This confirmation was open too long, so nothing was "
                                     "changed. Please confirm again."),
    confirmation.Problem.PRICE_CHANGED: _l("The price changed since you were asked, so "
                                           "nothing was changed. Please confirm the new price."),
}
PRINTABLE = Regexp(r"[^\x00-\x1f\x7f]*\Z")  # no NUL, newline or other control character


class ActivateOption(FlaskForm):
    subscription = HiddenField(validators=[DataRequired(), Length(max=32), PRINTABLE])
    option = HiddenField(validators=[DataRequired(), Length(max=100), PRINTABLE])
    # The ticket of the confirmation page (paid options only): services.portal.confirmation.
    confirmation = HiddenField(validators=[Optional(), Length(max=500), PRINTABLE])


def db() -> Session:
    if "portal_session" not in g:
        g.portal_session = current_app.extensions[DATABASE]()
    return g.portal_session


@blueprint.context_processor
def sections() -> dict:
    identity = current_identity()  # None on the error page of a post without a session
    return {"sections": [(endpoint, label) for endpoint, label, needs in SECTIONS
                         if identity and (not needs or any(identity.has(n) for n in needs))]}


@blueprint.before_request
def customer_required():
    identity = identity_required()  # the app's guard has made sure of it
    if identity.customer_number is None:
        return refused(identity, None, _("Your login is not linked to a customer number, so "
                                         "there is nothing to manage here."),
                       title=_("Nothing to show"))
    return None


def _refusal(identity: Identity, decision: rules.Refused):
    advice = None if decision.entitlement else [Advice(
        _("Ask an administrator of customer number %(number)s.",
          number=identity.customer_number))]
    return refused(identity, decision.entitlement, decision.reason, advice=advice)


@blueprint.get("/")
def overview():
    identity = identity_required()
    number = identity.customer_number
    if identity.has(Entitlement.USAGE_ALL) or identity.has(Entitlement.OPTIONS_ALL):
        subscriptions = data.subscriptions_of(db(), number)
    elif identity.phone_number:
        own = data.find_subscription(db(), number, identity.phone_number)
        subscriptions = [own] if own is not None else []
    else:
        subscriptions = []
    config = current_app.config["SERVICE"]
    members = f"{config.issuer}/console?" + urlencode({"customer": number})
    return render_template(
        "portal/overview.html", subscriptions=subscriptions,
        administrator=identity.role is Role.ADMINISTRATOR,
        # What the role lets this person do: the token's entitlements, in the policy's order.
        entitlements=[e.value for e in Entitlement if identity.has(e)],
        become_url=config.console_url, members_url=members)


@blueprint.get("/usage")
def usage():
    identity = identity_required()
    decision, mobile = rules.usage_scope(identity)
    if not decision:
        return _refusal(identity, decision)
    rows = data.usage_for(db(), identity.customer_number, mobile)
    return render_template("portal/usage.html", rows=rows, own_only=mobile is not None)


@blueprint.get("/options")
def options():
    identity = identity_required()
    decision, mobile = rules.options_scope(identity)
    if not decision:
        return _refusal(identity, decision)
    found = data.options_of(db(), identity.customer_number, mobile)
    choices = [(option, rules.may_activate(identity, option.subscription, option))
               for option in found]
    return render_template("portal/options.html", choices=choices, form=ActivateOption(),
                           own_only=mobile is not None)


@blueprint.post("/options/activate")
def activate_option():
    """Activate an option. A paid one asks first, with its price: this POST
    shows the confirmation page, whose own POST (with its ticket) activates."""
    identity = identity_required()
    form = ActivateOption()
    if not form.validate_on_submit():
        return _unacceptable()
    session = db()
    # Looked up under the token's customer number: a number of another
    # customer is not found, whatever the form says.
    subscription = data.find_subscription(session, identity.customer_number,
                                          form.subscription.data)
    option = next((o for o in subscription.options if o.name == form.option.data), None) \
        if subscription is not None else None
    decision = rules.may_activate(identity, subscription, option)
    if not decision:
        return _refusal(identity, decision)
    fee = None  # a free option: one click
    if option.paid and not option.active:
        if not form.confirmation.data:
            return _confirmation_page(identity, option)
        checked = confirmation.check(form.confirmation.data, identity, option)
        if checked.problem is confirmation.Problem.NOT_THIS:
            return _unacceptable()
        if not checked:
            return _confirmation_page(identity, option, AGAIN[checked.problem], status=409)
        fee = option.monthly_fee_cents  # as confirmed: the UPDATE holds it to that
    name, number = option_name(option.name), line(subscription)
    if data.activate_option(session, option, identity.subject, at_fee_cents=fee):
        session.commit()
        flash(_("%(option)s is now active on %(number)s.", option=name, number=number))
    elif fee is not None and not option.active:  # its price changed a moment ago
        session.rollback()
        return _confirmation_page(identity, option, AGAIN[confirmation.Problem.PRICE_CHANGED],
                                  status=409)
    else:
        flash(_("%(option)s was already active on %(number)s.", option=name, number=number))
    return redirect(url_for("portal.options"), 303)


def _confirmation_page(identity: Identity, option: data.Option, notice=None,
                       status: int = 200):
    """"Activate <option> for <price> a month?", with the ticket its Confirm sends."""
    return render_template("portal/confirm_option.html", option=option,
                           name=option_name(option.name),
                           ticket=confirmation.issue(identity, option),
                           notice=notice), status


def _unacceptable():
    return message_page(_("This form could not be accepted"),
                        _("It was incomplete or garbled. Nothing was changed."), status=400,
                        link=url_for("portal.options"), link_label=_("Back to the options"))


@blueprint.get("/bills")
@requires(Entitlement.BILLS)
def bills(identity: Identity):
    return render_template("portal/bills.html", bills=data.bills_of(db(),
                                                                    identity.customer_number))


@blueprint.get("/bizz-club")
@requires(Entitlement.BIZZ_CLUB)
def bizz_club(identity: Identity):
    points = data.bizz_club_points(db(), identity.customer_number)
    return render_template("portal/bizz_club.html", points=points or 0)
