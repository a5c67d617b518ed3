"""The fast lane: the hot paths answered by plain WSGI in front of the Flask app.

Backends call the token endpoint (``client_credentials``), introspection and
UserInfo for every API call, and relying parties fetch discovery and the
JWKS. Through Flask, Werkzeug, Authlib's request objects and an ORM session,
each costs about a millisecond of CPU and four database round trips; here it
costs what the protocol needs: one prepared statement on an autocommit
connection where the live state must be read, none otherwise.

The lane answers only the successes it fully understands, with the full
path's rules (see :mod:`idp.protocol.lane.handlers`) and the same bytes;
anything else (an error, an unusual request, a refresh token, a database
that did not answer) goes to the full path unchanged, which answers it as it
always has. It sits inside the edge's forwarded-headers middleware, so it
sees the request as the app does, and it applies the edge's rules (the
issuer's origin, no control characters) by leaving any request that breaks
them to the full path. ``KEYHOLDER_FAST_LANE=off`` sends everything there."""

from __future__ import annotations

from flask import Flask

from idp.infrastructure import unavailable
from idp.infrastructure.edge import is_issuer_origin
from idp.protocol.lane import handlers, request

ROUTES = {
    ("POST", "/token"): handlers.token,
    ("POST", "/introspect"): handlers.introspect,
    ("GET", "/userinfo"): handlers.userinfo,
    ("POST", "/userinfo"): handlers.userinfo,
    ("GET", "/jwks.json"): handlers.jwks,
    ("GET", "/.well-known/openid-configuration"): handlers.discovery,
    ("GET", "/.well-known/oauth-authorization-server"): handlers.discovery,
}


class FastLane:
    """WSGI middleware: the lane's answer, or the wrapped app's."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.lane = handlers.Lane(app)
        self.issuer = app.config["KEYHOLDER"].ISSUER

    def __call__(self, environ, start_response):
        handler = ROUTES.get((environ["REQUEST_METHOD"], environ.get("PATH_INFO")))
        if handler is not None and not environ.get("QUERY_STRING") and is_issuer_origin(
                environ["wsgi.url_scheme"], environ.get("HTTP_HOST", ""), self.issuer):
            parsed = request.read(environ)
            try:
                answer = handler(self.lane, parsed) if parsed is not None else None
            except unavailable.ERRORS as error:
                return unavailable.wsgi_answer(error, environ, start_response)
            if answer is not None:
                return answer.send(start_response)
        return self.wsgi_app(environ, start_response)


def install(app: Flask) -> None:
    """Put the lane in front of the Flask app; call before the edge wraps it."""
    if app.config["KEYHOLDER"].FAST_LANE:
        app.wsgi_app = FastLane(app, app.wsgi_app)
