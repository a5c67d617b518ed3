"""The entitlement policy: the table of docs/design.md ("Entitlements") as
data, and decisions with reasons.

role x customer type x channel (x own mobile) -> entitlements. Business-only
and web-only rows are the design's inferences (Bizz Club and OneDrive for
Business are business programmes; OneDrive is on the web only). A member
without an own mobile has no own-mobile entitlement, whatever the role.

    >>> entitlements_for(Role.USER, CustomerType.BUSINESS, Channel.APP, has_own_mobile=True)
    ('usage:own_mobile', 'options:activate_free:own_mobile')
"""

from __future__ import annotations

from dataclasses import dataclass

from claims.vocabulary import Channel, CustomerType, Entitlement, Role

ADMINISTRATORS = frozenset({Role.ADMINISTRATOR})
EVERYONE = frozenset(Role)
BOTH_CHANNELS = frozenset(Channel)
WEB_ONLY = frozenset({Channel.WEB})
ALL_CUSTOMERS = frozenset(CustomerType)
BUSINESS_ONLY = frozenset({CustomerType.BUSINESS})


@dataclass(frozen=True)
class Rule:
    """Who gets one entitlement."""

    entitlement: Entitlement
    label: str  # what people call it, for reasons shown on pages
    roles: frozenset[Role] = ADMINISTRATORS
    channels: frozenset[Channel] = BOTH_CHANNELS
    customer_types: frozenset[CustomerType] = ALL_CUSTOMERS
    needs_own_mobile: bool = False


TABLE: tuple[Rule, ...] = (
    Rule(Entitlement.BILLS, "The bills of all subscriptions"),
    Rule(Entitlement.USAGE_ALL, "The usage of all subscriptions"),
    Rule(Entitlement.USAGE_OWN_MOBILE, "The usage of your own mobile", roles=EVERYONE,
         needs_own_mobile=True),
    Rule(Entitlement.OPTIONS_ALL, "The options of all subscriptions"),
    Rule(Entitlement.OPTIONS_ACTIVATE_PAID, "Activating paid options"),
    Rule(Entitlement.OPTIONS_ACTIVATE_FREE_OWN_MOBILE,
         "Activating free options for your own mobile", roles=EVERYONE, needs_own_mobile=True),
    Rule(Entitlement.BIZZ_CLUB, "The Bizz Club", customer_types=BUSINESS_ONLY),
    Rule(Entitlement.ONEDRIVE, "OneDrive for Business", channels=WEB_ONLY,
         customer_types=BUSINESS_ONLY),
    Rule(Entitlement.TV, "TV"),
    Rule(Entitlement.CLOUD, "The Cloud"),
    Rule(Entitlement.FOOT11, "Foot 11"),
)

RULES: dict[Entitlement, Rule] = {rule.entitlement: rule for rule in TABLE}


@dataclass(frozen=True)
class Allowed:
    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Denied:
    """Why not, in words for the person (and the logs)."""

    reason: str

    def __bool__(self) -> bool:
        return False


Decision = Allowed | Denied


def _each(values) -> str:
    names = sorted(v.value for v in values)
    return names[0] if len(names) == 1 else " and ".join(names)


def decide(entitlement: Entitlement | str, role: Role, customer_type: CustomerType,
           channel: Channel, *, has_own_mobile: bool) -> Decision:
    """May a member with this role, customer type and channel have ``entitlement``?"""
    rule = RULES[Entitlement(entitlement)]
    if role not in rule.roles:
        return Denied(f"{rule.label} is available to administrators of the customer number; "
                      f"you are a {role.value}.")
    if customer_type not in rule.customer_types:
        return Denied(f"{rule.label} is for {_each(rule.customer_types)} customers only; "
                      f"this customer number is {customer_type.value}.")
    if channel not in rule.channels:
        return Denied(f"{rule.label} is available on the {_each(rule.channels)} only.")
    if rule.needs_own_mobile and not has_own_mobile:
        return Denied(f"{rule.label} needs a mobile of your own under this customer number.")
    return Allowed()


def entitlements_for(role: Role, customer_type: CustomerType, channel: Channel, *,
                     has_own_mobile: bool) -> tuple[str, ...]:
    """Every entitlement allowed, in the table's order (the ``entitlements`` claim)."""
    return tuple(rule.entitlement.value for rule in TABLE
                 if decide(rule.entitlement, role, customer_type, channel,
                           has_own_mobile=has_own_mobile))
