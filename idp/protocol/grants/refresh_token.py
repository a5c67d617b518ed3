"""The refresh token grant (RFC 6749 §6) with rotation (RFC 9700 §4.14.2).

Each use returns a new refresh token of the same family and consumes the old
one with a conditional UPDATE; a second use of a consumed token is theft (or
a bug) and revokes the whole family. A token is bound to its client, cannot
widen its scope (Authlib checks), and dies with its family's absolute
lifetime, a revocation, a logout or the person's suspension.

**A retry is not theft.** A client whose answer was lost (a worker killed
after the commit, a dropped connection) sends the same token again. Within
``KEYHOLDER_REFRESH_RETRY_GRACE`` seconds of its use, by the same client,
while the token that replaced it is still unused and nothing else happened
in the family, the retry gets a fresh rotation: the replacement (which the
client never received) is consumed in its place and a new one issued. Any
other second use still revokes the family, as RFC 9700 §4.14.2 asks; codes
have no such grace (RFC 6749 §4.1.2)."""

from __future__ import annotations

from datetime import timedelta

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import InvalidGrantError
from flask import current_app
from sqlalchemy import or_, select, update

from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.protocol.claims_release import membership_for
from idp.protocol.grants.token_generation import IssuingGrant
from idp.protocol.tokens import minting
from idp.protocol.tokens.family_revocation import revoke_grant
from idp.protocol.tokens.models import RefreshToken


class RefreshTokenGrant(IssuingGrant, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token):
        db = database.session()
        row = db.scalar(select(RefreshToken).where(
            RefreshToken.token_hash == minting.digest(refresh_token)))
        if row is None or row.grant.client_id != self.request.client.id:
            return None
        family = row.grant
        if family.revoked_at is not None or family.expires_at <= utcnow():
            return None
        if row.used_at is not None:
            if self._retry_within_grace(db, row):
                row.retried = True
                return row
            revoke_grant(db, family.id, "refresh_token_reuse")
            return None
        return row

    def _retry_within_grace(self, db, row: RefreshToken) -> bool:
        grace = current_app.config["KEYHOLDER"].REFRESH_RETRY_GRACE
        if not grace or utcnow() - row.used_at > timedelta(seconds=grace):
            return False
        later = db.execute(select(RefreshToken.used_at, RefreshToken.created_at).where(
            RefreshToken.grant_id == row.grant_id, RefreshToken.id != row.id,
            or_(RefreshToken.used_at.is_not(None), RefreshToken.created_at >= row.used_at),
            RefreshToken.id > row.id)).all()
        # Exactly its replacement, unused: the client never got it.
        return len(later) == 1 and later[0].used_at is None

    def authenticate_user(self, refresh_token):
        """Consume the token, now that Authlib has checked client and scope
        (a refused scope must not spend it); one parallel request wins."""
        db = database.session()
        family = refresh_token.grant
        person = family.person
        if person is None or not person.is_active:
            raise InvalidGrantError("The person of this token is not active.")
        if family.customer_id is not None and membership_for(db, person, family.customer_id) \
                is None:
            raise InvalidGrantError("The person is no longer a member of this customer.")
        if getattr(refresh_token, "retried", False):  # its replacement, in its place
            spend = (RefreshToken.grant_id == family.id, RefreshToken.id > refresh_token.id)
        else:
            spend = (RefreshToken.id == refresh_token.id,)
        consumed = db.execute(update(RefreshToken)
                              .where(*spend, RefreshToken.used_at.is_(None))
                              .values(used_at=utcnow()))
        if consumed.rowcount != 1:
            revoke_grant(db, family.id, "refresh_token_reuse")
            raise InvalidGrantError("This refresh token was used already.")
        return person

    def revoke_old_credential(self, refresh_token):
        """Already consumed in :meth:`authenticate_refresh_token`."""

    def token_family(self, person, scope):
        return self.request.refresh_token.grant
