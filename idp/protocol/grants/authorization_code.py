"""The authorization code grant (RFC 6749 §4.1) with OIDC and PKCE.

Differences from Authlib's defaults (docs/security.md, "Authlib defaults
Keyholder replaces"):
- a missing ``redirect_uri`` is an error, never a fall-back (OIDC Core 3.1.2.1);
- a code is claimed with a conditional UPDATE before anything else is
  checked, so it is single use even under parallel redemption, and is burnt
  by a failed attempt too; the row stays, so a second use is recognised and
  revokes every token issued from the first (RFC 6749 §4.1.2);
- public clients (``none``) may redeem, with PKCE S256 (see :mod:`idp.protocol.grants.pkce`).
"""

from __future__ import annotations

from datetime import timedelta

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError
from flask import current_app, g
from sqlalchemy import select, update

from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.login import sessions
from idp.protocol.grants.token_generation import IssuingGrant
from idp.protocol.tokens import minting
from idp.protocol.tokens.family_revocation import revoke_code_grants
from idp.protocol.tokens.models import AuthorizationCode


class AuthorizationCodeGrant(IssuingGrant, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request, client):
        # Constant messages: Authlib's own put the URI in error_description,
        # and a quote or non-ASCII character there is a 500.
        uris = request.payload.datalist.get("redirect_uri", [])
        if not uris:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        if len(uris) > 1 or not client.check_redirect_uri(uris[0]):
            raise InvalidRequestError("The 'redirect_uri' is not registered for this client.")
        return uris[0]

    def save_authorization_code(self, code, request):
        data = request.payload.data
        sso = sessions.current(database.session())
        now = utcnow()
        lifetime = current_app.config["KEYHOLDER"].AUTHORIZATION_CODE_LIFETIME
        database.session().add(AuthorizationCode(
            code_hash=minting.digest(code), client_id=request.client.id,
            person_id=request.user.id, session_id=sso.id if sso else None,
            redirect_uri=request.payload.redirect_uri, scope=request.scope or "",
            nonce=data.get("nonce"), code_challenge=data["code_challenge"],
            code_challenge_method=data["code_challenge_method"],
            auth_time=sso.auth_time if sso else now, amr=list(sso.amr) if sso else [],
            sid=sso.sid if sso else None, customer_id=g.get("chosen_customer_id"),
            resources=list(g.get("resources") or []), created_at=now,
            expires_at=now + timedelta(seconds=lifetime)))

    def query_authorization_code(self, code, client):
        db = database.session()
        row = db.scalar(select(AuthorizationCode).where(
            AuthorizationCode.code_hash == minting.digest(code)))
        if row is None or row.client_id != client.id:
            return None
        claimed = db.execute(
            update(AuthorizationCode)
            .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None),
                   AuthorizationCode.expires_at > utcnow())
            .values(used_at=utcnow()))
        if claimed.rowcount != 1:
            # Read again: the row loaded above may predate a parallel claim.
            if db.scalar(select(AuthorizationCode.used_at).where(
                    AuthorizationCode.id == row.id)) is not None:
                revoke_code_grants(db, row.id, "code_reuse")
            return None
        return row

    def delete_authorization_code(self, authorization_code):
        """Kept as a used tombstone until it expires (see the module docstring)."""

    def authenticate_user(self, authorization_code):
        person = authorization_code.person
        return person if person.is_active else None

    def token_family(self, person, scope):
        code = self.request.authorization_code
        family = minting.new_family(current_app, client=self.request.client, person=person,
                                    scope=scope, session_id=code.session_id, code_id=code.id,
                                    auth_time=code.auth_time, amr=code.amr, sid=code.sid,
                                    customer_id=code.customer_id, resources=code.resources)
        database.session().add(family)
        return family
