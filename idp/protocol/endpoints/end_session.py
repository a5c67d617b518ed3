"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

Authlib checks the post-logout URI (exact match, only with a valid hint) and
that a ``client_id`` sent is the hint's audience. We decide what a valid hint
is: an ID token this provider issued (:func:`idp.protocol.tokens.hints.issued_id_token`,
the same decision as at /authorize), never just any JWT we signed, such as an
access token. Ending the session revokes the refresh tokens issued in it."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSessionEndpoint

from idp.infrastructure import database
from idp.login import sessions
from idp.protocol.tokens.hints import IssuedIdToken, issued_id_token


class EndSessionEndpoint(_EndSessionEndpoint):
    def _validate_id_token_hint(self, id_token_hint):
        # Replaces Authlib's check (signature against get_server_jwks() and no
        # claim checked but nbf and iat), the one place its validate_request
        # decides the hint. A refusal is an error page: no logout, no redirect.
        verdict = issued_id_token(id_token_hint)
        if not isinstance(verdict, IssuedIdToken):
            raise InvalidRequestError(verdict.reason)
        return verdict.claims

    def resolve_client_from_id_token_claims(self, id_token_claims):
        # Our ID tokens name one audience, in a list, and the same ``azp``.
        aud = id_token_claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        if len(audiences) == 1 and isinstance(audiences[0], str):
            return self.server.query_client(audiences[0])
        return None

    def end_session(self, end_session_request):
        db = database.session()
        sso = sessions.current(db)
        if sso is not None:
            sessions.end(db, sso)
