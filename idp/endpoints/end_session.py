"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

Authlib checks the hint's signature and the post-logout URI (exact match,
only with a valid hint). We add: the hint must be an ID token of this issuer;
and ending the session revokes the refresh tokens issued in it."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint
from flask import current_app

from idp import database
from idp.clients.models import ID_TOKEN_ALGORITHMS
from idp.keys import key_store
from idp.login import sessions


class EndSessionEndpoint(_EndSessionEndpoint):
    def get_server_jwks(self):
        return key_store(current_app).verification_keys()

    def get_algorithms(self):
        return list(ID_TOKEN_ALGORITHMS)

    def resolve_client_from_id_token_claims(self, id_token_claims):
        # Our ID tokens name one audience, in a list, and the same ``azp``.
        aud = id_token_claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        if len(audiences) == 1 and isinstance(audiences[0], str):
            return self.server.query_client(audiences[0])
        return None

    def validate_request(self, request):
        validated = super().validate_request(request)
        claims = validated.id_token_claims
        if claims is not None:
            if claims.get("iss") != current_app.config["KEYHOLDER"].ISSUER:
                raise InvalidRequestError("The 'id_token_hint' was not issued here.")
            if "sid" not in claims and "sub" not in claims:
                raise InvalidRequestError("The 'id_token_hint' is not an ID token.")
        return validated

    def end_session(self, end_session_request):
        db = database.session()
        sso = sessions.current(db)
        if sso is not None:
            sessions.end(db, sso)
