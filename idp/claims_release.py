"""The one place every token and endpoint draws its claims from.

ID tokens, UserInfo, JWT access tokens and introspection all ask
:func:`release` for the claims of (person, client, scopes); each *purpose*
gets what suits it. Scopes decide which claims are released (OIDC Core
§5.4). Claims plugins (the claims-plugin issue) will add their claims here,
so no endpoint changes when a plugin arrives.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from idp.clients.models import Client
from idp.directory.models import Person
from idp.scopes import STANDARD_SCOPES


class Purpose(StrEnum):
    ID_TOKEN = "id_token"
    USERINFO = "userinfo"
    ACCESS_TOKEN = "access_token"
    INTROSPECTION = "introspection"


def plugin_scopes() -> list[str]:
    """Scopes served by claims plugins (none yet)."""
    return []


def supported_claims() -> list[str]:
    """Every claim this provider can release (discovery's ``claims_supported``)."""
    standard = {c for claims in STANDARD_SCOPES.values() for c in claims}
    return sorted(standard | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "sid",
                              "azp", "at_hash"})


def _standard(person: Person, scopes: set[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": person.id}
    if "profile" in scopes:
        claims["name"] = person.name
        claims["locale"] = person.locale
    if "email" in scopes:
        claims["email"] = person.email
        claims["email_verified"] = person.email_verified
    if "phone" in scopes:
        # Until a token speaks for one chosen customer, the own mobile is
        # released only when the person has exactly one.
        mobiles = {m.mobile for m in person.memberships if m.mobile}
        if len(mobiles) == 1:
            claims["phone_number"] = mobiles.pop()
    return claims


def release(purpose: Purpose, person: Person, client: Client, scope: str) -> dict[str, Any]:
    """The claims of ``person`` that ``client`` may see under ``scope``, for ``purpose``."""
    scopes = set(scope.split()) & set(STANDARD_SCOPES)
    if purpose is Purpose.ACCESS_TOKEN:
        # An access token carries authorization data, not a profile; `sub`,
        # `scope` and `client_id` are set by the issuer.
        return {}
    claims = _standard(person, scopes)
    if purpose is Purpose.INTROSPECTION:
        claims.pop("locale", None)
    return claims
