"""The domain's words as people read them, in each language: roles, customer
types, entitlements. The wire keeps its English names (claims.vocabulary);
pages show these. The help page's own terms: administrateur / utilisateur,
beheerder / gebruiker, numéro de client / klantnummer."""

from __future__ import annotations

from claims.vocabulary import CustomerType, Entitlement, Role
from idp.i18n import _l

ROLES = {Role.ADMINISTRATOR.value: _l("administrator"), Role.USER.value: _l("user")}
CUSTOMER_TYPES = {CustomerType.BUSINESS.value: _l("business customer"),
                  CustomerType.RESIDENTIAL.value: _l("residential customer")}
ENTITLEMENTS = {
    Entitlement.BILLS.value: _l("see the bills"),
    Entitlement.USAGE_ALL.value: _l("see the usage of every subscription"),
    Entitlement.USAGE_OWN_MOBILE.value: _l("see the usage of your own mobile"),
    Entitlement.OPTIONS_ALL.value: _l("manage the options of every subscription"),
    Entitlement.OPTIONS_ACTIVATE_PAID.value: _l("activate paid options"),
    Entitlement.OPTIONS_ACTIVATE_FREE_OWN_MOBILE.value:
        _l("activate free options for your own mobile"),
    Entitlement.BIZZ_CLUB.value: _l("use the Bizz Club points"),
    Entitlement.ONEDRIVE.value: _l("use OneDrive for Business"),
    Entitlement.TV.value: _l("watch TV"),
    Entitlement.CLOUD.value: _l("use the Cloud"),
    Entitlement.FOOT11.value: _l("use Foot 11"),
}


def _word(table: dict, value: object) -> str:
    value = getattr(value, "value", value)
    return str(table[value]) if value in table else str(value or "")


def role(value: object) -> str:
    """``administrator`` -> "administrateur" on a French page."""
    return _word(ROLES, value)


def customer_type(value: object) -> str:
    return _word(CUSTOMER_TYPES, value)


def entitlement(value: object) -> str:
    return _word(ENTITLEMENTS, value)
