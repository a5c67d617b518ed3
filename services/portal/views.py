"""The portal's pages. Each asks the token (services.portal.rules) before it
reads the operator's records, and reads only under the token's customer
number."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, g, redirect, render_template, url_for
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import HiddenField
from wtforms.validators import DataRequired, Length

from claims import Identity
from claims.vocabulary import Entitlement
from services import operator_data as data
from services.portal import rules
from services.portal.data_store import DATABASE
from services.refusals import Advice, message_page, refused
from services.relying_party import current_identity, identity_required, requires

blueprint = Blueprint("portal", __name__)
# (endpoint, label, the entitlements that open it: any of them)
SECTIONS = (
    ("portal.overview", "Overview", ()),
    ("portal.usage", "Usage", (Entitlement.USAGE_ALL, Entitlement.USAGE_OWN_MOBILE)),
    ("portal.options", "Options", (Entitlement.OPTIONS_ALL,
                                   Entitlement.OPTIONS_ACTIVATE_FREE_OWN_MOBILE)),
    ("portal.bills", "Bills", (Entitlement.BILLS,)),
    ("portal.bizz_club", "Bizz Club", (Entitlement.BIZZ_CLUB,)),
)


class ActivateOption(FlaskForm):
    subscription = HiddenField(validators=[DataRequired(), Length(max=32)])
    option = HiddenField(validators=[DataRequired(), Length(max=100)])


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
        return refused(identity, None, "Your login is not linked to a customer number, so "
                       "there is nothing to manage here.", title="Nothing to show")
    return None


def _refusal(identity: Identity, decision: rules.Refused):
    advice = None if decision.entitlement else [Advice(
        f"Ask an administrator of customer number {identity.customer_number}.")]
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
    return render_template("portal/overview.html", subscriptions=subscriptions)


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
    identity = identity_required()
    form = ActivateOption()
    if not form.validate_on_submit():
        return message_page("This form could not be accepted", "It was incomplete. Nothing "
                            "was changed.", status=400, link=url_for("portal.options"),
                            link_label="Back to the options")
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
    if data.activate_option(session, option, identity.subject):
        session.commit()
        flash(f"{option.name} is now active on {subscription.number}.")
    else:
        flash(f"{option.name} was already active on {subscription.number}.")
    return redirect(url_for("portal.options"), 303)


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
