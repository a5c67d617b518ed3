"""Token issuance shared by the grants: our ``generate_token`` replaces
Authlib's generator so that a token knows its family and its claims."""

from __future__ import annotations

from flask import current_app

from idp.infrastructure import database, metrics
from idp.protocol import resources
from idp.protocol.claims_release import Purpose, membership_for, release
from idp.protocol.tokens import minting


class IssuingGrant:
    """Mixed into each grant. The family (``TokenGrant``) comes from the
    grant: a new one for a code exchange, the existing one for a refresh,
    none for client credentials."""

    def token_family(self, person, scope):
        raise NotImplementedError

    def token_resources(self, family) -> list[str]:
        """RFC 8707: the resources asked for in this token request (within
        what the family was granted), or all the family's."""
        asked = self.request.payload.datalist.get(resources.PARAMETER, [])
        granted = family.resources if family is not None else None
        if asked:
            return resources.requested(asked, allowed=granted)
        return list(granted or [])

    def audience(self, family) -> list[str] | str:
        return minting.audience(current_app, self.token_resources(family))

    def generate_token(self, user=None, scope=None, grant_type=None, expires_in=None,
                       include_refresh_token=True):
        client = self.request.client
        # Authlib's own generator filters here too: only scopes we know and allow.
        scope = client.get_allowed_scope(scope) if user is not None \
            else client.client_scope(scope)
        family = self.token_family(user, scope)
        self.request.token_family = family  # for the ID token (idp.protocol.grants.openid)
        extra = {}
        if user is not None:
            member = membership_for(database.session(), user, family.customer_id)
            extra = release(Purpose.ACCESS_TOKEN, user, client, scope, member)
        access, lifetime = minting.access_token(
            current_app, client=client, subject=user.id if user is not None else client.id,
            scope=scope, family=family, audience=self.audience(family), extra=extra)
        metrics.count_token(grant_type or self.GRANT_TYPE)
        token = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime}
        if scope:
            token["scope"] = scope
        if include_refresh_token and family is not None:
            row, secret = minting.new_refresh_token(family, scope)
            database.session().add(row)
            token["refresh_token"] = secret
        return token
