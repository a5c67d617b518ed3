"""The client credentials grant (RFC 6749 §4.4), for service clients, and
for a web client managing its Shared Signals stream.

The token's subject is the client itself. No family, no refresh token; a
single token can still be revoked (RFC 7009) by its ``jti``. A web client
(which otherwise has users, not a grant of its own) may use it only for the
scope ``ssf`` and no resource: a token that opens the stream management API
and nothing else (docs/security-events.md)."""

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import UnauthorizedClientError

from claims.security_event_types import MANAGEMENT_SCOPE
from idp.clients.models import ClientType
from idp.protocol import resources
from idp.protocol.grants.token_generation import IssuingGrant


def receiver_only(client, scope: str | None, resources_asked: list[str]) -> bool:
    """A confidential web client asking for exactly the ``ssf`` scope."""
    return (client.type is ClientType.WEB and client.is_confidential
            and (scope or "").split() == [MANAGEMENT_SCOPE] and not resources_asked)


class ClientCredentialsGrant(IssuingGrant, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        asked = self.request.payload.datalist.get(resources.PARAMETER, [])
        if not (client.check_grant_type(self.GRANT_TYPE)
                or receiver_only(client, self.request.payload.scope, asked)):
            raise UnauthorizedClientError(
                f"The client is not authorized to use 'grant_type={self.GRANT_TYPE}'")
        self.request.client = client
        self.validate_requested_scope()

    def token_family(self, person, scope):
        return None
