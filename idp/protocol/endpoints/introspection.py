"""Token introspection (RFC 7662).

Client authentication is required. ``active: true`` is answered only to a
client the token is for (its audience, or the client it was issued to) and
only while the token is valid *now*: a revoked family or ``jti``, or a
suspended person, is ``active: false`` at once (docs/security.md:
"Introspection only for the token's parties", "Role changes count at once").
:func:`answer` is the one description of an active token; the fast lane
(:mod:`idp.protocol.lane`) answers with it too."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import Flask, current_app

from idp.clients.models import Client
from idp.infrastructure import database, metrics
from idp.protocol.claims_release import Purpose, client_view, plugins, release_views
from idp.protocol.tokens import validation
from idp.protocol.tokens.validation import PresentedToken

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


def answer(app: Flask, token: PresentedToken, client: Client) -> dict[str, Any]:
    """RFC 7662 §2.2: what an active ``token`` (issued to ``client``) is."""
    described = {
        "active": True, "client_id": token.client_id,
        "exp": token.expires_at, "iat": token.issued_at, "sub": token.subject,
        "aud": token.audience, "iss": app.config["KEYHOLDER"].ISSUER,
    }
    if token.kind == "access_token":
        # RFC 7662 §2.2: "token_type" is an access token's type (RFC 6749
        # §7.1); a refresh token has none, so it is left out.
        described["token_type"] = "Bearer"
    if token.scope:
        described["scope"] = token.scope
    if token.jti:
        described["jti"] = token.jti
    if token.person is not None:
        described.update(release_views(Purpose.INTROSPECTION, token.person, client_view(client),
                                       token.scope, token.membership, plugins(app)))
    metrics.metrics().introspections_active.inc()
    return described


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token, token_type_hint):
        return validation.find(current_app, database.session(), token, token_type_hint)

    def check_permission(self, token, client, request):
        return token.is_for(client)

    def introspect_token(self, token):
        return answer(current_app, token, token.get_client())
