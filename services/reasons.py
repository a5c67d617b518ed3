"""Why not, in the person's language.

The claims toolkit (``claims.policy``, shared with partners) gives its reasons
in English. The services show them translated: the same decision is made
again here (:func:`why_not`, in the order of ``claims.policy.decide``), and
the sentence comes from a table by entitlement, whose English is the
policy's own (a test holds them together). A case the table lacks (a policy
that grew) shows the toolkit's English reason.

Configured titles (a service's, a link's) are looked up in the catalogue
too (:func:`shown_title`): the demo's are there; others show as configured."""

from __future__ import annotations

from flask_babel import gettext

from claims import Identity
from claims.policy import RULES
from claims.vocabulary import Channel, CustomerType, Entitlement, Role
from idp.i18n import _l
from idp.i18n.words import entitlement as entitlement_word

E = Entitlement
_ADMINISTRATORS_ONLY = {
    E.BILLS: _l("The bills of all subscriptions is available to administrators of the customer "
                "number; you are a user."),
    E.USAGE_ALL: _l("The usage of all subscriptions is available to administrators of the "
                    "customer number; you are a user."),
    E.OPTIONS_ALL: _l("The options of all subscriptions is available to administrators of the "
                      "customer number; you are a user."),
    E.OPTIONS_ACTIVATE_PAID: _l("Activating paid options is available to administrators of the "
                                "customer number; you are a user."),
    E.BIZZ_CLUB: _l("The Bizz Club is available to administrators of the customer number; you "
                    "are a user."),
    E.ONEDRIVE: _l("OneDrive for Business is available to administrators of the customer "
                   "number; you are a user."),
    E.TV: _l("TV is available to administrators of the customer number; you are a user."),
    E.CLOUD: _l("The Cloud is available to administrators of the customer number; you are a "
                "user."),
    E.FOOT11: _l("Foot 11 is available to administrators of the customer number; you are a "
                 "user."),
}
_BUSINESS_ONLY = {  # to a residential customer number
    E.BIZZ_CLUB: _l("The Bizz Club is for business customers only; this customer number is "
                    "residential."),
    E.ONEDRIVE: _l("OneDrive for Business is for business customers only; this customer "
                   "number is residential."),
}
_WEB_ONLY = {
    E.ONEDRIVE: _l("OneDrive for Business is available on the web only."),
}
_OWN_MOBILE = {
    E.USAGE_OWN_MOBILE: _l("The usage of your own mobile needs a mobile of your own under this "
                           "customer number."),
    E.OPTIONS_ACTIVATE_FREE_OWN_MOBILE: _l("Activating free options for your own mobile needs "
                                           "a mobile of your own under this customer number."),
}

# The demo's titles of services and places, so that a configured title is
# shown in the page's language (proper names go through the catalogue too).
TITLES = (_l("The Cloud"), _l("Foot 11"), _l("OneDrive for Business"), _l("The Bizz Club"),
          _l("Proximus TV"), _l("MyProximus self-care"), _l("Self-care"),
          _l("Account and roles"), _l("My account"))


def shown_title(title: str) -> str:
    """A configured title in the page's language, when the catalogue has it."""
    return gettext(title) if title else title


def why_not(identity: Identity, entitlement: str) -> str | None:
    """The translated reason ``identity`` lacks ``entitlement``; None when the
    table has no sentence for the case (show the toolkit's reason then)."""
    if not identity.has_customer_claims:
        return gettext("Your login is not linked to a customer number.")
    try:
        rule = RULES[Entitlement(entitlement)]
    except ValueError:
        return None
    if identity.role is None or identity.customer_type is None:
        return gettext("Your sign-in does not say your role, so we cannot tell whether this "
                       "is for you. Please sign in again.")
    if identity.role not in rule.roles:
        sentence = _ADMINISTRATORS_ONLY.get(rule.entitlement)
        return str(sentence) if sentence is not None and identity.role is Role.USER else None
    if identity.customer_type not in rule.customer_types:
        sentence = _BUSINESS_ONLY.get(rule.entitlement)
        business_only = rule.customer_types == {CustomerType.BUSINESS}
        return str(sentence) if sentence is not None and business_only else None
    if Channel.APP not in rule.channels:  # allowed on the web only: an app's token
        sentence = _WEB_ONLY.get(rule.entitlement)
        return str(sentence) if sentence is not None else None
    if rule.needs_own_mobile:  # a token does not say whether the person has one
        sentence = _OWN_MOBILE.get(rule.entitlement)
        return str(sentence) if sentence is not None else None
    # The policy allows it now: the token predates a change (a promotion).
    return gettext("This sign-in does not allow you to %(action)s yet; signing in again may "
                   "help.", action=entitlement_word(rule.entitlement))


def translated(identity: Identity | None, entitlement: str | None, reason: str) -> str:
    """``reason`` (the toolkit's) in the page's language, when it is the
    policy's reason ``identity`` lacks ``entitlement`` for."""
    if identity is None or not entitlement or identity.has(entitlement):
        return reason
    return why_not(identity, entitlement) or reason


__all__ = ["TITLES", "shown_title", "translated", "why_not"]
