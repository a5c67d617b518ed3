"""The scopes Keyholder knows, and which claims each releases (OIDC Core §5.4).

The standard ones are here; claims plugins add theirs (``customer``, and
``phone`` for the member's own mobile, come from the customer plugin) through
:mod:`idp.claims_release`. Unknown scopes asked for by a client are dropped,
never an error, as OIDC Core 3.1.2.1 asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from idp.clients.models import Client

OPENID = "openid"
OFFLINE_ACCESS = "offline_access"

# Scope -> the standard claims it releases.
STANDARD_SCOPES: dict[str, tuple[str, ...]] = {
    OPENID: ("sub",),
    "profile": ("name", "locale"),
    "email": ("email", "email_verified"),
}


def supported_scopes() -> list[str]:
    from idp.claims_release import plugin_scopes

    return sorted({*STANDARD_SCOPES, *plugin_scopes()})


def allowed_scope(client: Client, requested: str | None) -> str:
    """The requested scopes this provider knows, in the order asked, without
    duplicates. Service clients get no user scopes (they have no user)."""
    from idp.clients.models import ClientType

    if client.type is ClientType.SERVICE:
        return ""
    known = set(supported_scopes())
    seen: list[str] = []
    for scope in (requested or "").split():
        if scope in known and scope not in seen:
            seen.append(scope)
    return " ".join(seen)
