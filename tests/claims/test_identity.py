"""Identity.require and require_role explain a refusal in the policy's words."""

from __future__ import annotations

import pytest

from claims import ClaimsError, Forbidden, Identity, MalformedToken, MissingEntitlement, MissingRole
from claims.policy import entitlements_for
from claims.vocabulary import Channel, CustomerType, Entitlement, Role

BASE = {"iss": "https://id.example", "sub": "p-1", "client_id": "cloud", "exp": 2_000_000_000}


def identity(role: Role | None = None, customer_type: CustomerType | None = None,
             channel: Channel = Channel.WEB, *, mobile: bool = True,
             entitlements: list[str] | None = None) -> Identity:
    claims = dict(BASE)
    if role is not None:
        claims.update(customer_number="123456789", role=role.value)
    if customer_type is not None:
        claims["customer_type"] = customer_type.value
    if role is not None and customer_type is not None:
        claims["entitlements"] = list(entitlements_for(role, customer_type, channel,
                                                       has_own_mobile=mobile))
    if entitlements is not None:
        claims["entitlements"] = entitlements
    return Identity.from_claims(claims)


def reason(who: Identity, entitlement: Entitlement | str) -> str:
    with pytest.raises(MissingEntitlement) as refused:
        who.require(entitlement)
    assert refused.value.entitlement == str(entitlement)
    assert refused.value.code == "insufficient_entitlement"
    assert isinstance(refused.value, Forbidden) and isinstance(refused.value, ClaimsError)
    return refused.value.reason


def test_what_the_token_grants_is_allowed():
    mary = identity(Role.USER, CustomerType.BUSINESS)
    mary.require(Entitlement.USAGE_OWN_MOBILE)
    mary.require("options:activate_free:own_mobile")
    assert mary.has(Entitlement.USAGE_OWN_MOBILE) and not mary.has(Entitlement.FOOT11)


def test_a_user_is_told_it_is_for_administrators():
    assert reason(identity(Role.USER, CustomerType.BUSINESS), Entitlement.FOOT11) == (
        "Foot 11 is available to administrators of the customer number; you are a user.")


def test_a_residential_administrator_is_told_it_is_for_business_customers():
    assert reason(identity(Role.ADMINISTRATOR, CustomerType.RESIDENTIAL), "onedrive") == (
        "OneDrive for Business is for business customers only; this customer number is "
        "residential.")


def test_an_administrator_in_the_app_is_told_it_is_on_the_web_only():
    admin = identity(Role.ADMINISTRATOR, CustomerType.BUSINESS, Channel.APP)
    assert reason(admin, Entitlement.ONEDRIVE) == "OneDrive for Business is available on " \
                                                  "the web only."


def test_a_member_without_a_mobile_is_told_so():
    assert reason(identity(Role.USER, CustomerType.BUSINESS, mobile=False),
                  Entitlement.USAGE_OWN_MOBILE) == (
        "The usage of your own mobile needs a mobile of your own under this customer number.")


def test_a_token_older_than_a_promotion_is_told_to_sign_in_again():
    promoted = identity(Role.ADMINISTRATOR, CustomerType.BUSINESS,
                        entitlements=["usage:own_mobile"])
    assert "signing in again" in reason(promoted, Entitlement.TV)


def test_without_customer_claims_the_scope_is_named():
    assert "scope 'customer'" in reason(identity(), Entitlement.TV)
    with pytest.raises(MissingRole) as refused:
        identity().require_role(Role.ADMINISTRATOR)
    assert "scope 'customer'" in refused.value.reason


def test_an_entitlement_the_policy_does_not_know():
    assert reason(identity(Role.ADMINISTRATOR, CustomerType.BUSINESS), "karaoke") == \
        "This token does not grant 'karaoke'."


def test_a_partial_set_of_customer_claims():
    partial = Identity.from_claims({**BASE, "customer_number": "123456789"})
    assert "role and customer type" in reason(partial, Entitlement.TV)


def test_require_role():
    identity(Role.ADMINISTRATOR, CustomerType.BUSINESS).require_role(Role.ADMINISTRATOR)
    identity(Role.USER, CustomerType.BUSINESS).require_role("user")
    with pytest.raises(MissingRole) as refused:
        identity(Role.USER, CustomerType.BUSINESS).require_role(Role.ADMINISTRATOR)
    assert refused.value.reason == ("This is for administrators of the customer number; "
                                    "you are a user.")
    assert refused.value.code == "forbidden" and refused.value.role == "administrator"
    with pytest.raises(ValueError):
        identity(Role.USER, CustomerType.BUSINESS).require_role("owner")


def test_unknown_values_are_malformed_not_ignored():
    for claims in ({"role": "owner"}, {"customer_type": "charity"},
                   {"customer_number": "123 456 789"}, {"phone_number": 32470000002}):
        with pytest.raises(MalformedToken):
            Identity.from_claims({**BASE, **claims})


def test_identities_compare_and_hash_without_their_raw_claims():
    one = identity(Role.USER, CustomerType.BUSINESS)
    two = Identity.from_claims({**BASE, "customer_number": "123456789", "role": "user",
                                "customer_type": "business", "extra": "ignored",
                                "entitlements": sorted(one.entitlements)})
    assert one == two and hash(one) == hash(two)
    assert "123456789" in repr(one) and "extra" not in repr(one)
