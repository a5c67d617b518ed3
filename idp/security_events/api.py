"""The transmitter's HTTP face: its metadata (SSF 1.0 §7), the stream
management API (§8) and poll delivery (RFC 8936).

Every management and poll request carries an access token the receiver got
from the token endpoint with ``client_credentials`` and scope ``ssf``
(``authorization_schemes``: OAuth 2.0, RFC 6749): a token of the client
itself, active now (the live checks of introspection), and the stream it
names must be that client's, else "not found". JSON in, JSON out,
``Cache-Control: no-store``; errors are ``{"error", "error_description"}``
with the status SSF gives each case."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import select

from claims.security_event_types import MANAGEMENT_SCOPE, POLL, PUSH
from idp.clients.models import Client
from idp.clients.registry import query_client
from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.infrastructure.edge import api
from idp.protocol.tokens import validation
from idp.security_events import sets, streams
from idp.security_events.models import PushDelivery, StreamStatus

blueprint = Blueprint("ssf", __name__)

MAX_POLL_EVENTS = 100
MAX_ACKS = 1000
SSF_JSON = "application/json"


def _answer(body: Any, status: int = 200) -> Response:
    response = Response(json.dumps(body, sort_keys=True) if body is not None else b"",
                        status=status, mimetype=SSF_JSON if body is not None else None)
    response.headers["Cache-Control"] = "no-store"
    return response


def _error(status: int, error: str, description: str, *, challenge: str | None = None
           ) -> Response:
    response = _answer({"error": error, "error_description": description}, status)
    if challenge is not None:
        response.headers["WWW-Authenticate"] = challenge
    return response


class Unauthorized(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _receiver(db) -> Client:
    """The client whose ``ssf`` token this request carries, or raise."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(_error(401, "invalid_token", "A bearer access token is required.",
                                  challenge='Bearer realm="ssf"'))
    presented = validation.access_token(current_app, db, token.strip())
    if presented is None or presented.is_revoked() or presented.is_expired() \
            or presented.subject != presented.client_id:
        raise Unauthorized(_error(
            401, "invalid_token", "The access token is not active, or not a client's own.",
            challenge='Bearer realm="ssf", error="invalid_token"'))
    if MANAGEMENT_SCOPE not in presented.scope.split():
        raise Unauthorized(_error(
            403, "insufficient_scope", f"The access token lacks the scope {MANAGEMENT_SCOPE}.",
            challenge=f'Bearer realm="ssf", error="insufficient_scope", '
                      f'scope="{MANAGEMENT_SCOPE}"'))
    client = query_client(presented.client_id)
    if client is None:
        raise Unauthorized(_error(401, "invalid_token", "The client is gone.",
                                  challenge='Bearer realm="ssf", error="invalid_token"'))
    return client


def _json_body() -> Any:
    if request.mimetype != "application/json":
        raise streams.StreamError(400, "The request body must be JSON (application/json).")
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested deeper than the parser goes
        body = None
    if body is None:
        raise streams.StreamError(400, "The request body is not valid JSON.")
    return body


def _poll_url(stream_id: str) -> str:
    return current_app.config["KEYHOLDER"].ISSUER + url_for("ssf.poll", stream_id=stream_id)


def _config(stream) -> dict:
    return streams.configuration(stream, current_app.config["KEYHOLDER"].ISSUER,
                                 _poll_url(stream.id))


def _managed(handler):
    """Run ``handler(db, client)`` in one write transaction; refusals roll back."""
    def run(*args, **kwargs) -> Response:
        with database.write_session() as db:
            try:
                client = _receiver(db)
                return handler(db, client, *args, **kwargs)
            except Unauthorized as refused:
                db.rollback()
                return refused.response
            except streams.StreamError as refused:
                db.rollback()
                error = "invalid_request" if refused.status == 400 else {
                    403: "access_denied", 404: "not_found", 409: "conflict",
                    429: "slow_down"}.get(refused.status, "invalid_request")
                return _error(refused.status, error, refused.description)
    run.__name__ = handler.__name__
    run.__doc__ = handler.__doc__
    return api(run)


# -- metadata (SSF §7.1) ---------------------------------------------------------------------

@blueprint.get("/.well-known/ssf-configuration")
@api
def configuration():
    issuer = current_app.config["KEYHOLDER"].ISSUER
    response = _answer({
        "spec_version": "1_0",
        "issuer": issuer,
        "jwks_uri": issuer + "/jwks.json",
        "delivery_methods_supported": [PUSH, POLL],
        "configuration_endpoint": issuer + "/ssf/streams",
        "status_endpoint": issuer + "/ssf/status",
        "add_subject_endpoint": issuer + "/ssf/subjects:add",
        "remove_subject_endpoint": issuer + "/ssf/subjects:remove",
        "verification_endpoint": issuer + "/ssf/verify",
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
    })
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response


# -- streams (SSF §8.1.1) ----------------------------------------------------------------------

@blueprint.route("/ssf/streams", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
@_managed
def streams_endpoint(db, client: Client):
    if request.method == "GET":
        stream_id = request.args.get("stream_id")
        if stream_id is None:
            return _answer([_config(s) for s in streams.of_client(db, client)])
        return _answer(_config(streams.find(db, client, stream_id)))
    if request.method == "DELETE":
        streams.remove(db, streams.find(db, client, request.args.get("stream_id"), lock=True))
        return _answer(None, 204)
    body = _json_body()
    if request.method == "POST":
        return _answer(_config(streams.create(db, client, body)), 201)
    issuer = current_app.config["KEYHOLDER"].ISSUER
    stream_id = body.get("stream_id") if isinstance(body, dict) else None
    stream = streams.update(db, client, body, issuer, replace=request.method == "PUT",
                            poll_url=_poll_url(stream_id) if isinstance(stream_id, str)
                            and stream_id.isprintable() else None)
    return _answer(_config(stream))


# -- status (SSF §8.1.2) -----------------------------------------------------------------------

@blueprint.route("/ssf/status", methods=["GET", "POST"])
@_managed
def status(db, client: Client):
    if request.method == "GET":
        return _answer(streams.status_of(streams.find(db, client, request.args.get("stream_id"))))
    body = _json_body()
    if not isinstance(body, dict):
        raise streams.StreamError(400, "The request body must be a JSON object.")
    stream = streams.find(db, client, body.get("stream_id"), lock=True)
    streams.set_status(db, stream, body.get("status"), body.get("reason"))
    return _answer(streams.status_of(stream))


# -- subjects (SSF §8.1.3) and verification (§8.1.4) ------------------------------------------

def _stream_of_body(db, client: Client) -> tuple[Any, Any]:
    body = _json_body()
    if not isinstance(body, dict):
        raise streams.StreamError(400, "The request body must be a JSON object.")
    return streams.find(db, client, body.get("stream_id"), lock=True), body


@blueprint.post("/ssf/subjects:add")
@_managed
def add_subject(db, client: Client):
    stream, body = _stream_of_body(db, client)
    streams.set_subject(db, stream, body, current_app.config["KEYHOLDER"].ISSUER, added=True)
    return _answer(None, 200)


@blueprint.post("/ssf/subjects:remove")
@_managed
def remove_subject(db, client: Client):
    stream, body = _stream_of_body(db, client)
    streams.set_subject(db, stream, body, current_app.config["KEYHOLDER"].ISSUER, added=False)
    return _answer(None, 204)


@blueprint.post("/ssf/verify")
@_managed
def verify(db, client: Client):
    stream, body = _stream_of_body(db, client)
    streams.verify(db, stream, body)
    return _answer(None, 204)


# -- poll delivery (RFC 8936) ------------------------------------------------------------------

@blueprint.post("/ssf/poll/<stream_id>")
@_managed
def poll(db, client: Client, stream_id: str):
    """Acknowledge (``ack``) or refuse (``setErrs``) what was received, then
    get up to ``maxEvents`` SETs. The answer is immediate (RFC 8936 §2.2
    allows it): no long polling."""
    stream = streams.find(db, client, stream_id, lock=True)
    if stream.method != POLL:
        raise streams.StreamError(400, "This stream is delivered by push, not polled.")
    body = _json_body()
    if not isinstance(body, dict):
        raise streams.StreamError(400, "The request body must be a JSON object.")
    acks = body.get("ack", [])
    errors = body.get("setErrs", {})
    wanted = body.get("maxEvents", 10)
    if not isinstance(acks, list) or len(acks) > MAX_ACKS \
            or not all(isinstance(j, str) and j.isprintable() for j in acks):
        raise streams.StreamError(400, "'ack' must be an array of jti strings.")
    if not isinstance(errors, dict) or len(errors) > MAX_ACKS \
            or not all(k.isprintable() and isinstance(v, dict) for k, v in errors.items()):
        raise streams.StreamError(400, "'setErrs' must map jti strings to error objects.")
    if type(wanted) is not int or wanted < 0:
        raise streams.StreamError(400, "'maxEvents' must be a non-negative integer.")
    now = utcnow()
    done = {**{jti: ("acknowledged", None) for jti in acks},
            **{jti: ("refused", _set_error(error)) for jti, error in errors.items()}}
    if done:
        for row in db.scalars(select(PushDelivery).where(PushDelivery.stream_id == stream.id,
                                                         PushDelivery.jti.in_(list(done)),
                                                         PushDelivery.delivered_at.is_(None))):
            row.delivered_at, (row.outcome, row.last_error) = now, done[row.jti]
    held = stream.status != StreamStatus.ENABLED.value
    rows = [] if held else list(db.scalars(
        select(PushDelivery).where(PushDelivery.stream_id == stream.id,
                                   PushDelivery.delivered_at.is_(None),
                                   PushDelivery.jti.not_in(list(done)))
        .order_by(PushDelivery.id).limit(min(wanted, MAX_POLL_EVENTS) + 1)))
    more = len(rows) > min(wanted, MAX_POLL_EVENTS)
    rows = rows[:min(wanted, MAX_POLL_EVENTS)]
    for row in rows:
        row.attempts += 1
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return _answer({"sets": {row.jti: sets.signed(app, row) for row in rows},
                    "moreAvailable": more})


def _set_error(error: dict) -> str:
    text = f"{error.get('err')}: {error.get('description', '')}"
    return "refused: " + "".join(c for c in text if c.isprintable())[:200]


def init_app(app) -> None:
    app.register_blueprint(blueprint)
