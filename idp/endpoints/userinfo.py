"""The UserInfo endpoint (OIDC Core §5.3), GET and POST, bearer token in the header."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector, current_token
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oidc.core import UserInfoEndpoint as _UserInfoEndpoint
from flask import current_app

from idp import database
from idp.claims_release import Purpose, release
from idp.tokens import issuing, validation


class AccessTokenValidator(BearerTokenValidator):
    """Our JWT access tokens, checked against the directory (current state)."""

    def authenticate_token(self, token_string):
        token = validation.access_token(current_app, database.session(), token_string)
        if token is None or token.person is None:
            return None  # client-credentials tokens have no user to describe
        if issuing.userinfo_audience(current_app) not in token.audience:
            return None  # a token for an API (RFC 8707) is not for UserInfo
        return token


def resource_protector() -> ResourceProtector:
    protector = ResourceProtector()
    protector.register_token_validator(AccessTokenValidator())
    return protector


class UserInfoEndpoint(_UserInfoEndpoint):
    def generate_user_info(self, user, scope):
        return release(Purpose.USERINFO, user, current_token.get_client(), scope,
                       current_token.membership)

    def get_issuer(self):
        return current_app.config["KEYHOLDER"].ISSUER
