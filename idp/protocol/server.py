"""The authorization server: every grant, extension and endpoint we register,
in one visible block, so a reader sees the whole server here.

What each registered class changes in Authlib's defaults is said in its own
module; docs/security.md ("Authlib defaults Keyholder replaces") lists them
and why."""

from __future__ import annotations

from flask import Flask, current_app

from idp.clients.registry import query_client
from idp.protocol.client_authentication import (
    AuthorizationServer,
    client_secret_basic,
    client_secret_post,
)
from idp.protocol.endpoints.end_session import EndSessionEndpoint
from idp.protocol.endpoints.introspection import IntrospectionEndpoint
from idp.protocol.endpoints.revocation import RevocationEndpoint
from idp.protocol.endpoints.userinfo import BearerProtector, UserInfoEndpoint
from idp.protocol.extensions import (
    CodeResponseTypeOnly,
    Issuer,
    RefuseRequestObjects,
)
from idp.protocol.grants.authorization_code import AuthorizationCodeGrant
from idp.protocol.grants.client_credentials import ClientCredentialsGrant
from idp.protocol.grants.device_code import DeviceAuthorizationEndpoint, DeviceCodeGrant
from idp.protocol.grants.openid import OpenIDCodeFlow, OpenIDFromFamily
from idp.protocol.grants.pkce import S256CodeChallenge
from idp.protocol.grants.refresh_token import RefreshTokenGrant

EXTENSION = "keyholder.authorization_server"


def _save_token(token, request):
    """The grants add their rows to the request's session; the token view
    commits once the response is built."""


def create_server(app: Flask) -> AuthorizationServer:
    server = AuthorizationServer()  # Authlib's, with RFC 7617's realm on invalid_client
    server.init_app(app, query_client=query_client, save_token=_save_token)
    realm = app.config["KEYHOLDER"].ISSUER

    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(), OpenIDCodeFlow()])
    server.register_grant(RefreshTokenGrant, [OpenIDFromFamily()])
    server.register_grant(ClientCredentialsGrant)
    server.register_grant(DeviceCodeGrant, [OpenIDFromFamily()])

    server.register_endpoint(IntrospectionEndpoint)
    server.register_endpoint(RevocationEndpoint)
    server.register_endpoint(UserInfoEndpoint(resource_protector=BearerProtector(realm)))
    server.register_endpoint(EndSessionEndpoint)
    server.register_endpoint(DeviceAuthorizationEndpoint)

    server.register_extension(Issuer())
    server.register_extension(RefuseRequestObjects())
    server.register_extension(CodeResponseTypeOnly())
    server.register_client_auth_method("client_secret_basic", client_secret_basic)
    server.register_client_auth_method("client_secret_post", client_secret_post)

    app.extensions[EXTENSION] = server
    return server


def server() -> AuthorizationServer:
    return current_app.extensions[EXTENSION]


__all__ = ["create_server", "server"]
