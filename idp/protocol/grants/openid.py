"""ID tokens (OIDC Core §2, §3.1.3.6, §12.2), signed with the active key.

RS256 by default; a client registered for ES256 gets ES256. The header
always names the key (``kid``)."""

from __future__ import annotations

import time
from typing import Any

from authlib.oidc.core import OpenIDCode, OpenIDToken
from authlib.oidc.core.util import create_half_hash
from flask import Flask, current_app
from joserfc import jwt

from claims.plugins import MembershipView, PersonView
from idp.infrastructure import database
from idp.infrastructure.timestamps import epoch
from idp.keys import key_store
from idp.protocol.claims_release import (
    Purpose,
    client_view,
    membership_for,
    membership_view,
    person_view,
    plugins,
    release_views,
)


def id_token_alg(client) -> str:
    return client.id_token_signed_response_alg or "RS256"


def family_claims(app: Flask, client, family) -> dict[str, Any]:
    """The ID token's own claims on a refresh or a device grant (OIDC Core
    §12.2): from the token family, the original ``auth_time``, ``amr`` and
    ``sid``; no nonce. ``family`` is a ``TokenGrant`` or the fast lane's view of one."""
    settings = app.config["KEYHOLDER"]
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": settings.ISSUER, "aud": [client.id], "azp": client.id, "iat": now,
        "exp": now + settings.ID_TOKEN_LIFETIME,
        "auth_time": epoch(family.auth_time) if family.auth_time is not None else now}
    if family.amr:
        claims["amr"] = list(family.amr)
    if family.sid:
        claims["sid"] = family.sid
    return claims


def signed_id_token(app: Flask, client, claims: dict[str, Any], access_token: str, scope: str,
                    person: PersonView, membership: MembershipView | None) -> str:
    """``claims`` with ``at_hash`` (OIDC Core 3.1.3.6) and the person's claims
    for ``scope``, signed with the one active key of the client's algorithm,
    named by ``kid`` (so the header names the key that signs, even during a
    rotation). The full path and the fast lane both sign here."""
    alg = id_token_alg(client)
    key = key_store(app).signing_key(alg)
    claims["at_hash"] = create_half_hash(access_token, alg).decode()
    claims.update(release_views(Purpose.ID_TOKEN, person, client_view(client), scope, membership,
                                plugins(app)))
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, [alg])


class _IdTokenSigning:
    """What Authlib leaves to us for signing, shared by code and refresh:
    :func:`signed_id_token`, with the user claims drawn from
    :mod:`idp.protocol.claims_release` with the client."""

    def get_client_algorithm(self, client):
        return id_token_alg(client)

    def get_client_claims(self, client):
        settings = current_app.config["KEYHOLDER"]
        now = int(time.time())
        return {"iss": settings.ISSUER, "aud": [client.id], "azp": client.id,
                "iat": now, "exp": now + settings.ID_TOKEN_LIFETIME}

    def resolve_client_private_key(self, client):
        return key_store(current_app).signing_key(self.get_client_algorithm(client))

    def encode_id_token(self, token, request):
        claims = self.get_compatible_claims(request)
        if request.authorization_code:
            claims.update(self.get_authorization_code_claims(request.authorization_code))
        member = membership_for(database.session(), request.user, request.token_family.customer_id)
        return signed_id_token(current_app, request.client, claims, token["access_token"],
                               token["scope"], person_view(request.user), membership_view(member))


class OpenIDCodeFlow(_IdTokenSigning, OpenIDCode):
    """The ID token of the code exchange: nonce, auth_time, amr, sid, at_hash."""

    def __init__(self) -> None:
        super().__init__(require_nonce=False)  # optional in the code flow (OIDC Core 3.1.2.1)

    def exists_nonce(self, nonce, request):
        # Replay of a nonce is the client's to detect (it checks the ID token's
        # nonce against its own state); a code is single use anyway.
        return False

    def get_authorization_code_claims(self, authorization_code):
        claims = super().get_authorization_code_claims(authorization_code)
        if authorization_code.sid:
            claims["sid"] = authorization_code.sid
        return claims


class OpenIDFromFamily(_IdTokenSigning, OpenIDToken):
    """The ID token of a refresh (OIDC Core §12.2) or a device grant: from the
    token family, the original auth_time, amr and sid; no nonce."""

    def get_compatible_claims(self, request):
        return family_claims(current_app, request.client, request.token_family)
