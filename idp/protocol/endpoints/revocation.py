"""Token revocation (RFC 7009).

A refresh token takes its whole family with it, and with the family every
access token it issued (RFC 7009 §2.1). An access token is remembered as
revoked until it expires. An unknown token is answered 200, as the RFC asks."""

from __future__ import annotations

from datetime import UTC, datetime

from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from flask import current_app

from idp.infrastructure import database
from idp.protocol.tokens import validation
from idp.protocol.tokens.family_revocation import revoke_access_token, revoke_grant


class RevocationEndpoint(_RevocationEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def query_token(self, token, token_type_hint):
        return validation.find(current_app, database.session(), token, token_type_hint)

    def revoke_token(self, token, request):
        db = database.session()
        if token.kind == "refresh_token":
            revoke_grant(db, token.family_id, "revoked_by_client")
        else:
            revoke_access_token(db, token.jti, datetime.fromtimestamp(token.expires_at, UTC))
