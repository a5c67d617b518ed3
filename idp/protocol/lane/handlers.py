"""The fast lane's endpoints. Each answers only the case it fully knows (a
success) and returns None for everything else, which the full path (Flask
and Authlib) then answers: errors keep one implementation there.

Every rule comes from where the full path takes it: client authentication
(:func:`idp.protocol.client_authentication.client_by_secret`), access-token
checks and their memo (:mod:`idp.protocol.tokens.validation`), the live state
(:mod:`idp.protocol.tokens.live_state`), minting, resources, claims release,
the introspection and UserInfo answers."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from flask import Flask

from idp.clients import registry
from idp.clients.models import Client, GrantType
from idp.infrastructure import database, metrics
from idp.infrastructure.autocommit import AutocommitReader, Unavailable
from idp.keys import key_store
from idp.protocol import resources
from idp.protocol.client_authentication import client_by_secret
from idp.protocol.discovery import JWKS_TYPE, METADATA_TYPE, metadata_bytes
from idp.protocol.endpoints import introspection
from idp.protocol.endpoints.userinfo import for_userinfo, user_info
from idp.protocol.lane import refresh
from idp.protocol.lane.answers import Answer, json_answer, published
from idp.protocol.lane.request import LaneRequest
from idp.protocol.scopes import OPENID
from idp.protocol.tokens import live_state, minting, validation
from idp.protocol.tokens.validation import PresentedToken

_CREDENTIALS = frozenset({"client_id", "client_secret"})
_CLIENT_CREDENTIALS_FORM = _CREDENTIALS | {"grant_type", resources.PARAMETER}
_INTROSPECTION_FORM = _CREDENTIALS | {"token", "token_type_hint"}


@dataclass
class Lane:
    """What the handlers share, for one app."""

    app: Flask

    @cached_property
    def clients(self) -> registry.ClientCache:
        return registry.cache(self.app)

    @cached_property
    def checks(self) -> validation.AccessTokenChecks:
        return validation.checks(self.app)

    @cached_property
    def reader(self) -> AutocommitReader:
        return AutocommitReader(database.engine(self.app))

    def client(self, client_id: str) -> Client | None:
        return self.clients.get(self.app, client_id)

    def authenticated(self, request: LaneRequest, endpoint: str) -> Client | None:
        """The client, if it authenticates with its secret as ``endpoint`` accepts."""
        credentials = request.credentials()
        if credentials is None:
            return None
        method, client_id, secret = credentials
        client, _ = client_by_secret(self.client, client_id, secret)
        if client is None or not client.check_endpoint_auth_method(method, endpoint):
            return None
        return client

    def access_token(self, token: str) -> PresentedToken | None:
        """A valid, active access token of ours, read live; else None."""
        claims = self.checks.claims(token)
        if claims is None:
            return None
        try:
            state = live_state.read(self.reader, claims["sub"], claims["jti"],
                                    minting.family_of(claims["jti"]))
        except Unavailable:
            return None  # the full path answers (and fails closed)
        if state is None:
            return None
        presented = validation.presented(claims, state)
        if presented.is_expired() or presented.is_revoked():
            return None
        return presented


def token(lane: Lane, request: LaneRequest) -> Answer | None:
    grant_type = request.one("grant_type")
    if grant_type == GrantType.CLIENT_CREDENTIALS:
        return client_credentials(lane, request)
    if grant_type == GrantType.REFRESH_TOKEN:
        return refresh.refresh_token(lane, request)
    return None


def client_credentials(lane: Lane, request: LaneRequest) -> Answer | None:
    """RFC 6749 §4.4 for a service, as :class:`ClientCredentialsGrant` issues it."""
    if not request.only(_CLIENT_CREDENTIALS_FORM):
        return None
    client = lane.authenticated(request, "token")
    if client is None or not client.check_grant_type(GrantType.CLIENT_CREDENTIALS):
        return None
    uris = list(dict.fromkeys(request.form.get(resources.PARAMETER, [])))
    if not all(resources.well_formed(uri) and lane.clients.is_known_resource(lane.app, uri)
               for uri in uris):  # the checks of resources.requested, without raising
        return None
    scope = client.client_scope(None)
    access, lifetime = minting.access_token(
        lane.app, client=client, subject=client.id, scope=scope, family=None,
        audience=minting.audience(lane.app, uris), extra={})
    body = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime}
    if scope:
        body["scope"] = scope
    metrics.count_token(GrantType.CLIENT_CREDENTIALS.value)
    return json_answer(body)


def introspect(lane: Lane, request: LaneRequest) -> Answer | None:
    """RFC 7662, for an active access token of ours shown by one of its parties."""
    if not request.only(_INTROSPECTION_FORM):
        return None
    token_string = request.one("token")
    if token_string is None or request.one("token_type_hint") not in (None, "access_token"):
        return None
    client = lane.authenticated(request, "introspection")
    if client is None:
        return None
    presented = lane.access_token(token_string)
    if presented is None or not presented.is_for(client):
        return None
    issued_to = lane.client(presented.client_id)
    if issued_to is None:
        return None
    return json_answer(introspection.answer(lane.app, presented, issued_to))


def userinfo(lane: Lane, request: LaneRequest) -> Answer | None:
    """OIDC Core §5.3 with the bearer token in the header and no body."""
    if request.form:
        return None
    scheme, _, token_string = request.environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme != "Bearer" or not token_string or " " in token_string:
        return None
    presented = for_userinfo(lane.app, lane.access_token(token_string))
    if presented is None or OPENID not in presented.scope.split():
        return None
    client = lane.client(presented.client_id)
    if client is None or client.client_metadata.get("userinfo_signed_response_alg"):
        return None
    return json_answer(user_info(lane.app, presented, client))


def jwks(lane: Lane, request: LaneRequest) -> Answer | None:
    if request.form:
        return None
    return published(key_store(lane.app).jwks_bytes(), JWKS_TYPE)


def discovery(lane: Lane, request: LaneRequest) -> Answer | None:
    if request.form:
        return None
    return published(metadata_bytes(lane.app), METADATA_TYPE)
