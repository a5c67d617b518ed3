"""Token introspection (RFC 7662).

Client authentication is required. ``active: true`` is answered only to a
client the token is for (its audience, or the client it was issued to) and
only while the token is valid *now*: a revoked family or ``jti``, or a
suspended person, is ``active: false`` at once (docs/security.md:
"Introspection only for the token's parties", "Role changes count at once")."""

from __future__ import annotations

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import current_app

from idp.infrastructure import database
from idp.protocol.claims_release import Purpose, release
from idp.protocol.tokens import validation


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def query_token(self, token, token_type_hint):
        return validation.find(current_app, database.session(), token, token_type_hint)

    def check_permission(self, token, client, request):
        return token.is_for(client)

    def introspect_token(self, token):
        answer = {
            "active": True, "client_id": token.client_id,
            "exp": token.expires_at, "iat": token.issued_at, "sub": token.subject,
            "aud": token.audience, "iss": current_app.config["KEYHOLDER"].ISSUER,
        }
        if token.kind == "access_token":
            # RFC 7662 §2.2: "token_type" is an access token's type (RFC 6749
            # §7.1); a refresh token has none, so it is left out.
            answer["token_type"] = "Bearer"
        if token.scope:
            answer["scope"] = token.scope
        if token.jti:
            answer["jti"] = token.jti
        if token.person is not None:
            client = token.get_client()
            answer.update(release(Purpose.INTROSPECTION, token.person, client, token.scope,
                                  token.membership))
        return answer
