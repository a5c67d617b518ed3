"""The refresh-token grant in the fast lane (RFC 6749 §6, rotated as RFC 9700
§4.14.2 asks), on PostgreSQL, for confidential clients without ``scope`` or
``resource`` in the request: the common case of a web client keeping its
session. Everything else (a public client, a narrowed scope, a spent token,
an error, SQLite) takes the full path, whose rules these are: the same
checks (:meth:`refresh_rotation.Presented.usable_by`), the same claims and
minting, the same ID token (:func:`idp.protocol.grants.openid.signed_id_token`).

The tokens are made before the rotation is written, so a failure in between
never leaves the client with a spent token and nothing in exchange."""

from __future__ import annotations

from datetime import UTC, datetime

from idp.clients.models import GrantType
from idp.infrastructure import metrics
from idp.infrastructure.autocommit import Unavailable
from idp.protocol.claims_release import Purpose, client_view, plugins, release_views
from idp.protocol.grants.openid import family_claims, signed_id_token
from idp.protocol.lane.answers import Answer, json_answer
from idp.protocol.lane.request import LaneRequest
from idp.protocol.scopes import OPENID
from idp.protocol.tokens import minting, refresh_rotation

_FORM = frozenset({"grant_type", "refresh_token", "client_id", "client_secret"})


def refresh_token(lane, request: LaneRequest) -> Answer | None:
    if not lane.reader.postgres or not request.only(_FORM):
        return None
    client = lane.authenticated(request, "token")
    if client is None or not client.check_grant_type(GrantType.REFRESH_TOKEN):
        return None
    now = datetime.now(UTC)
    try:
        found = refresh_rotation.find(lane.reader, minting.digest(request.one("refresh_token")))
    except Unavailable:
        return None
    if found is None or not found.usable_by(client.id, now):
        return None
    app, family = lane.app, found.family
    person, membership = found.state.person, found.state.membership
    with app.app_context():  # the allowed scopes are the app's
        scope = client.get_allowed_scope(found.scope)
    access, lifetime = minting.access_token(
        app, client=client, subject=person.subject, scope=scope, family=family,
        audience=minting.audience(app, family.resources),
        extra=release_views(Purpose.ACCESS_TOKEN, person, client_view(client), scope,
                            membership, plugins(app)))
    secret = minting.new_secret()
    body = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime,
            "refresh_token": secret}
    if scope:
        body["scope"] = scope
    if OPENID in scope.split():
        body["id_token"] = signed_id_token(app, client, family_claims(app, client, family),
                                           access, scope, person, membership)
    try:
        rotated = refresh_rotation.rotate(lane.reader, found.token_id, minting.digest(secret),
                                          scope, now)
    except Unavailable:
        return None
    if not rotated:
        return None
    metrics.count_token(GrantType.REFRESH_TOKEN.value)
    return json_answer(body)
