"""The client credentials grant (RFC 6749 §4.4), for service clients.

The token's subject is the client itself. No family, no refresh token; a
single token can still be revoked (RFC 7009) by its ``jti``."""

from authlib.oauth2.rfc6749 import grants

from idp.protocol.grants.token_generation import IssuingGrant


class ClientCredentialsGrant(IssuingGrant, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]

    def token_family(self, person, scope):
        return None
