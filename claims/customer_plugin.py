"""Keyholder's own claims plugin: the customer claims of the claims contract
(docs/design.md).

Scope ``customer`` releases ``customer_number``, ``role``, ``customer_type``
and ``entitlements`` (from :mod:`claims.policy`, for the client's channel);
scope ``phone`` releases the member's own mobile under that customer. A
person who belongs to no customer gets none of them. Registered in the
``keyholder.claims`` entry-point group by Keyholder's ``pyproject.toml``."""

from __future__ import annotations

from typing import Any

from claims.plugins import ClaimsRequest
from claims.policy import entitlements_for
from claims.vocabulary import (
    CUSTOMER_NUMBER,
    CUSTOMER_SCOPE,
    CUSTOMER_TYPE,
    ENTITLEMENTS,
    PHONE_NUMBER,
    PHONE_SCOPE,
    ROLE,
)


class CustomerClaims:
    name = "customer"
    scopes = {
        CUSTOMER_SCOPE: (CUSTOMER_NUMBER, ROLE, CUSTOMER_TYPE, ENTITLEMENTS),
        PHONE_SCOPE: (PHONE_NUMBER,),
    }

    def claims(self, request: ClaimsRequest) -> dict[str, Any]:
        member = request.membership
        if member is None:
            return {}
        released: dict[str, Any] = {}
        if CUSTOMER_SCOPE in request.scopes:
            channel = request.client.channel
            released[CUSTOMER_NUMBER] = member.customer_number
            released[ROLE] = member.role.value
            released[CUSTOMER_TYPE] = member.customer_type.value
            released[ENTITLEMENTS] = list(entitlements_for(
                member.role, member.customer_type, channel,
                has_own_mobile=member.mobile is not None)) if channel else []
        if PHONE_SCOPE in request.scopes and member.mobile:
            released[PHONE_NUMBER] = member.mobile
        return released
