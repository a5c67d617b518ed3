"""The authorization server: every grant, extension and endpoint we register,
in one place (STYLE: "keep every register_* call in one visible block").

What each registered class changes in Authlib's defaults is said in its own
module; SECURITY §0 lists why."""

from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.authenticate_client import authenticate_client_secret_basic
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from flask import Flask, current_app

from idp.clients.registry import query_client
from idp.endpoints.end_session import EndSessionEndpoint
from idp.endpoints.introspection import IntrospectionEndpoint
from idp.endpoints.revocation import RevocationEndpoint
from idp.endpoints.userinfo import UserInfoEndpoint, resource_protector
from idp.grants.authorization_code import AuthorizationCodeGrant
from idp.grants.client_credentials import ClientCredentialsGrant
from idp.grants.openid import OpenIDCodeFlow, OpenIDRefresh
from idp.grants.pkce import S256CodeChallenge
from idp.grants.refresh_token import RefreshTokenGrant

EXTENSION = "keyholder.authorization_server"


class Issuer(IssuerParameter):
    """RFC 9207: ``iss`` on every authorization response."""

    def get_issuer(self) -> str:
        return current_app.config["KEYHOLDER"].ISSUER


class RefuseRequestObjects:
    """OIDC Core §6: we do not process ``request`` / ``request_uri``, so we
    say so (``request_not_supported``) rather than ignore them silently."""

    def __call__(self, server):
        server.register_hook("before_get_authorization_grant", self.check)

    def check(self, server, request):
        if "request" in request.payload.data:
            raise RequestNotSupportedError()
        if "request_uri" in request.payload.data:
            raise RequestURINotSupportedError()


def _client_secret_basic(query_client, request):
    # Authlib decodes the header as UTF-8 without catching the error: a
    # malformed header would be a 500 instead of invalid_client.
    try:
        return authenticate_client_secret_basic(query_client, request)
    except (UnicodeDecodeError, ValueError):
        return None


def _save_token(token, request):
    """The grants add their rows to the request's session; the token view
    commits once the response is built."""


def create_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer()
    server.init_app(app, query_client=query_client, save_token=_save_token)

    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(), OpenIDCodeFlow()])
    server.register_grant(RefreshTokenGrant, [OpenIDRefresh()])
    server.register_grant(ClientCredentialsGrant)

    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(UserInfoEndpoint(resource_protector=resource_protector()))
    server.register_endpoint(EndSessionEndpoint)

    server.register_extension(Issuer())
    server.register_extension(RefuseRequestObjects())
    server.register_client_auth_method("client_secret_basic", _client_secret_basic)

    app.extensions[EXTENSION] = server
    return server


def server() -> AuthorizationServer:
    return current_app.extensions[EXTENSION]


__all__ = ["create_server", "server"]
