"""The scopes Keyholder knows, and which claims each releases (OIDC Core §5.4).

The standard ones are here; claims plugins add theirs (``customer``, and
``phone`` for the member's own mobile, come from the customer plugin): when
:mod:`idp.protocol.claims_release` loads them it records the app's whole set
with :func:`set_supported_scopes`. Unknown scopes asked for by a client are
dropped, never an error, as OIDC Core 3.1.2.1 asks.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, current_app

EXTENSION = "keyholder.scopes"

OPENID = "openid"
OFFLINE_ACCESS = "offline_access"

# Scope -> the standard claims it releases.
STANDARD_SCOPES: dict[str, tuple[str, ...]] = {
    OPENID: ("sub",),
    "profile": ("name", "locale"),
    "email": ("email", "email_verified"),
}


def set_supported_scopes(app: Flask, plugin_scopes: Iterable[str]) -> None:
    app.extensions[EXTENSION] = tuple(sorted({*STANDARD_SCOPES, *plugin_scopes}))


def supported_scopes() -> list[str]:
    return list(current_app.extensions[EXTENSION])


def allowed_scope(requested: str | None) -> str:
    """The requested scopes this provider knows, in the order asked, without
    duplicates."""
    known = set(current_app.extensions[EXTENSION])
    seen: list[str] = []
    for scope in (requested or "").split():
        if scope in known and scope not in seen:
            seen.append(scope)
    return " ".join(seen)
