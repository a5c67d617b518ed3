"""Pages that say no, why, and what to do about it.

The reason is the policy's (``claims.policy.decide`` through
``Identity.require``), shown in the person's language
(:mod:`services.reasons`), e.g. "Foot 11 is available to administrators of
the customer number; you are a user."; the advice depends on what would
change the answer: becoming administrator (a link to the provider's
console), using another customer number (business-only services), an own
mobile, or a fresh sign-in when the token predates a change.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app, render_template, request, url_for
from flask_babel import gettext as _

from claims import Identity
from claims.policy import RULES, decide
from claims.vocabulary import Channel, CustomerType, Entitlement, Role
from services import reasons


@dataclass(frozen=True)
class Advice:
    text: str
    link: str | None = None
    label: str | None = None


def advice_for(identity: Identity | None, entitlement: str) -> list[Advice]:
    """What the person could do to get ``entitlement`` (services are web clients)."""
    if identity is None or identity.role is None or identity.customer_type is None:
        return [Advice(_("Your login is not linked to a customer number. Ask an administrator "
                         "of your company or household to add you."))]
    try:
        rule = RULES[Entitlement(entitlement)]
    except ValueError:
        return []
    number, kind = identity.customer_number, identity.customer_type
    config = current_app.config["SERVICE"]
    mobile = identity.phone_number is not None  # the services ask for the phone scope
    if decide(rule.entitlement, identity.role, kind, Channel.WEB, has_own_mobile=mobile):
        return [Advice(_("Your access changed since you signed in. Signing in again picks up "
                         "the change."), url_for("rp.login"), _("Sign in again"))]
    if identity.role is Role.USER and decide(rule.entitlement, Role.ADMINISTRATOR, kind,
                                             Channel.WEB, has_own_mobile=mobile):
        return [Advice(_("Administrators of customer number %(number)s have it. You can become "
                         "one in your account, or ask a current administrator.", number=number),
                       config.console_url, _("Become administrator"))]
    if not decide(rule.entitlement, Role.ADMINISTRATOR, kind, Channel.WEB, has_own_mobile=True):
        what = reasons.shown_title(rule.label)
        text = (_("%(what)s comes with business customer numbers. If you belong to one, sign "
                  "in with it.", what=what) if kind is CustomerType.RESIDENTIAL else
                _("%(what)s comes with residential customer numbers. If you belong to one, "
                  "sign in with it.", what=what))
        return [Advice(text, url_for("rp.login", prompt="select_account"),
                       _("Use another customer number"))]
    return [Advice(_("Ask an administrator of customer number %(number)s to register your own "
                     "mobile for you.", number=number))]


def refused(identity: Identity | None, entitlement: str | None, reason: str, *,
            title: str | None = None, advice: list[Advice] | None = None, status: int = 403):
    """The 403 page: ``reason`` (the policy's is translated), and ``advice``
    (by default, what would bring ``entitlement``)."""
    if advice is None:
        advice = advice_for(identity, entitlement) if entitlement else []
    config = current_app.config["SERVICE"]
    if title is None:  # the whole service, or one of its pages or actions
        title = (_("%(service)s is not available to you",
                   service=reasons.shown_title(config.title))
                 if entitlement and entitlement == config.required_entitlement
                 else _("This is not available to you"))
    again = url_for("rp.login", next=request.full_path if request.query_string else request.path)
    return render_template("services/refused.html", title=title,
                           reason=reasons.translated(identity, entitlement, reason),
                           advice=advice, who=identity, check_again=again), status


def message_page(title: str, text: str, *, status: int, link: str | None = None,
                 link_label: str | None = None, detail: str | None = None):
    """A plain page with one message (errors of the sign-in, stale forms...);
    ``detail``: what our helpdesk needs (an error code), in small print."""
    return render_template("services/message.html", title=title, text=text, link=link,
                           link_label=link_label, detail=detail), status


__all__ = ["Advice", "advice_for", "message_page", "refused"]
