"""ID tokens (OIDC Core §2, §3.1.3.6, §12.2), signed with the active key.

RS256 by default; a client registered for ES256 gets ES256. The header
always names the key (``kid``)."""

from __future__ import annotations

import time

from authlib.oidc.core import OpenIDCode, OpenIDToken
from authlib.oidc.core.util import create_half_hash
from flask import current_app
from joserfc import jwt

from idp.infrastructure import database
from idp.infrastructure.timestamps import epoch
from idp.keys import key_store
from idp.protocol.claims_release import Purpose, membership_for, release


class _IdTokenSigning:
    """What Authlib leaves to us for signing, shared by code and refresh.

    ``encode_id_token`` is Authlib's, but takes the active key once (so the
    ``kid`` in the header is the key that signs, even during a rotation)
    and draws the user claims from :mod:`idp.protocol.claims_release` with the client."""

    def get_client_algorithm(self, client):
        return client.id_token_signed_response_alg or "RS256"

    def get_client_claims(self, client):
        settings = current_app.config["KEYHOLDER"]
        now = int(time.time())
        return {"iss": settings.ISSUER, "aud": [client.id], "azp": client.id,
                "iat": now, "exp": now + settings.ID_TOKEN_LIFETIME}

    def resolve_client_private_key(self, client):
        return key_store(current_app).signing_key(self.get_client_algorithm(client))

    def encode_id_token(self, token, request):
        client = request.client
        alg = self.get_client_algorithm(client)
        key = self.resolve_client_private_key(client)
        claims = self.get_compatible_claims(request)
        if request.authorization_code:
            claims.update(self.get_authorization_code_claims(request.authorization_code))
        at_hash = create_half_hash(token["access_token"], alg)  # OIDC Core 3.1.3.6
        claims["at_hash"] = at_hash.decode()
        family = request.token_family
        member = membership_for(database.session(), request.user, family.customer_id)
        claims.update(release(Purpose.ID_TOKEN, request.user, client, token["scope"], member))
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, [alg])


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
        claims = super().get_compatible_claims(request)
        family = request.token_family
        if family.auth_time is not None:
            claims["auth_time"] = epoch(family.auth_time)
        if family.amr:
            claims["amr"] = list(family.amr)
        if family.sid:
            claims["sid"] = family.sid
        return claims
