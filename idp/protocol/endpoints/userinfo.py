"""The UserInfo endpoint (OIDC Core §5.3), GET and POST, bearer token in the header.

Its challenges follow RFC 6750 §3 with the issuer as the realm: a request
without a bearer token gets ``Bearer realm="..."`` and no error code (§3.1:
the client may not have known a token was needed); a refused token gets
``error="invalid_token"`` as well."""

from __future__ import annotations

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749.errors import MissingAuthorizationError, UnsupportedTokenTypeError
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from flask import Flask, current_app

from idp.clients.models import Client
from idp.infrastructure import database
from idp.protocol.claims_release import Purpose, client_view, plugins, release_views
from idp.protocol.tokens import minting, validation
from idp.protocol.tokens.validation import PresentedToken


def for_userinfo(app: Flask, token: PresentedToken | None) -> PresentedToken | None:
    """``token`` if UserInfo may take it (whether it is still valid is checked after)."""
    if token is None or token.person is None:
        return None  # client-credentials tokens have no user to describe
    if minting.userinfo_audience(app) not in token.audience:
        return None  # a token for an API (RFC 8707) is not for UserInfo
    return token


def user_info(app: Flask, token: PresentedToken, client: Client) -> dict:
    """OIDC Core §5.3.2: the claims of the token's person that its scopes release."""
    return release_views(Purpose.USERINFO, token.person, client_view(client), token.scope,
                         token.membership, plugins(app))


class AccessTokenValidator(BearerTokenValidator):
    """Our JWT access tokens, checked against the directory (current state)."""

    def authenticate_token(self, token_string):
        return for_userinfo(current_app, validation.access_token(
            current_app, database.session(), token_string))


class NoBearerToken(OAuth2Error):
    """RFC 6750 §3.1: no authentication information (no ``Authorization``
    header, or another scheme than Bearer): the challenge alone, without
    an error code in the header or the body (Authlib would answer
    ``error="missing_authorization"``)."""

    status_code = 401

    def __init__(self, realm: str) -> None:
        super().__init__()
        self.realm = realm

    def get_body(self):
        return []

    def get_headers(self):
        return [*default_json_headers, ("WWW-Authenticate", f'Bearer realm="{self.realm}"')]


class BearerProtector(ResourceProtector):
    """Authlib's resource protector, with the realm on every challenge."""

    def __init__(self, realm: str) -> None:
        super().__init__()
        self.realm = realm
        self.register_token_validator(AccessTokenValidator(realm=realm))

    def parse_request_authorization(self, request):
        try:
            return super().parse_request_authorization(request)
        except (MissingAuthorizationError, UnsupportedTokenTypeError) as error:
            raise NoBearerToken(self.realm) from error


class UserInfoEndpoint(_UserInfoEndpoint):
    def generate_user_info(self, user, scope):
        return user_info(current_app, current_token, current_token.get_client())

    def get_issuer(self):
        return current_app.config["KEYHOLDER"].ISSUER
