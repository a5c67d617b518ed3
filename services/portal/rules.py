"""Who may see and do what in the portal. Everything comes from the token:
the entitlements the policy granted, and ``phone_number`` for "own mobile".
Nothing a form sends (a subscription number in a hidden field) is trusted:
the subscription is looked up under the token's customer number, and these
rules decide; refusals carry the policy's reason, in the person's language."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from claims import Identity
from claims.errors import MissingEntitlement
from claims.policy import Allowed, Decision, Denied
from claims.vocabulary import Entitlement
from idp.i18n.formats import phone
from services import reasons
from services.operator_data import Option, Subscription
from services.portal.words import line


@dataclass(frozen=True)
class Refused(Denied):
    """A refusal, and the entitlement whose advice applies (None: no advice)."""

    entitlement: str | None = None


def require(identity: Identity, entitlement: Entitlement) -> Decision:
    try:
        identity.require(entitlement)
    except MissingEntitlement as refusal:
        # The policy's reason, in the person's language (it is shown beside options too).
        return Refused(reasons.translated(identity, entitlement.value, refusal.reason),
                       entitlement.value)
    return Allowed()


def _own_mobile(identity: Identity, subscription: Subscription) -> bool:
    return (subscription.is_mobile and identity.phone_number is not None
            and subscription.number == identity.phone_number)


def _no_phone_number() -> Refused:
    return Refused(_("Your mobile number was not shared with this service; please sign in "
                     "again."))


def _scope(identity: Identity, every: Entitlement,
           own: Entitlement) -> tuple[Decision, str | None]:
    """All subscriptions (``every``), or only the own mobile (``own``): the
    decision and the mobile to keep to (None: all)."""
    if identity.has(every):
        return Allowed(), None
    decision = require(identity, own)
    if decision and identity.phone_number is None:
        return _no_phone_number(), None
    return decision, identity.phone_number


def usage_scope(identity: Identity) -> tuple[Decision, str | None]:
    return _scope(identity, Entitlement.USAGE_ALL, Entitlement.USAGE_OWN_MOBILE)


def options_scope(identity: Identity) -> tuple[Decision, str | None]:
    return _scope(identity, Entitlement.OPTIONS_ALL,
                  Entitlement.OPTIONS_ACTIVATE_FREE_OWN_MOBILE)


def may_activate(identity: Identity, subscription: Subscription | None,
                 option: Option | None) -> Decision:
    """May this person activate ``option`` of ``subscription``? Paid options
    need ``options:activate_paid`` (administrators), and ``options:all`` for
    another subscription than one's own mobile; free ones ``options:all``, or
    ``options:activate_free:own_mobile`` for one's own mobile only."""
    if subscription is None or option is None or option.subscription_id != subscription.id:
        return Refused(_("There is no such option on the subscriptions of customer number "
                         "%(number)s.", number=identity.customer_number))
    own = _own_mobile(identity, subscription)
    if option.paid:
        decision = require(identity, Entitlement.OPTIONS_ACTIVATE_PAID)
        return require(identity, Entitlement.OPTIONS_ALL) if decision and not own else decision
    if identity.has(Entitlement.OPTIONS_ALL):
        return Allowed()
    decision = require(identity, Entitlement.OPTIONS_ACTIVATE_FREE_OWN_MOBILE)
    if decision and identity.phone_number is None:
        return _no_phone_number()
    if decision and not own:
        return Refused(_("You can activate free options for your own mobile (%(mobile)s) "
                         "only; %(number)s is not yours. Its options are managed by the "
                         "administrators of customer number %(customer)s.",
                         mobile=phone(identity.phone_number), number=line(subscription),
                         customer=identity.customer_number))
    return decision


__all__ = ["Refused", "may_activate", "options_scope", "require", "usage_scope"]
