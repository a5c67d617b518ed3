"""Names that appear on the wire, declared once (docs/design.md: the domain
and the claims contract).

Claims may be added, never renamed: partner services depend on these."""

from enum import StrEnum


class Role(StrEnum):
    """A member's role under one customer number. Binary on purpose: the help
    page says "it is not possible to delegate certain parts"."""

    ADMINISTRATOR = "administrator"
    USER = "user"


class CustomerType(StrEnum):
    BUSINESS = "business"
    RESIDENTIAL = "residential"


class Channel(StrEnum):
    """Where the person uses the service: the web site or the app."""

    WEB = "web"
    APP = "app"


class Entitlement(StrEnum):
    """What a member may do or see: the help page's list (docs/design.md,
    "Entitlements")."""

    BILLS = "bills"
    USAGE_ALL = "usage:all"
    USAGE_OWN_MOBILE = "usage:own_mobile"
    OPTIONS_ALL = "options:all"
    OPTIONS_ACTIVATE_PAID = "options:activate_paid"
    OPTIONS_ACTIVATE_FREE_OWN_MOBILE = "options:activate_free:own_mobile"
    BIZZ_CLUB = "bizz_club"
    ONEDRIVE = "onedrive"
    TV = "tv"
    CLOUD = "cloud"
    FOOT11 = "foot11"


# Scopes of the claims contract.
CUSTOMER_SCOPE = "customer"
PHONE_SCOPE = "phone"

# Claim names (released with CUSTOMER_SCOPE, and PHONE_NUMBER with PHONE_SCOPE).
CUSTOMER_NUMBER = "customer_number"
ROLE = "role"
CUSTOMER_TYPE = "customer_type"
ENTITLEMENTS = "entitlements"
PHONE_NUMBER = "phone_number"

# The authorization request parameter with which a client preselects the
# customer a token speaks for (docs/design.md, "One token speaks for one customer").
CUSTOMER_NUMBER_PARAMETER = "customer_number"
