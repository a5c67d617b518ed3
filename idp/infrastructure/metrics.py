"""Prometheus metrics at ``/metrics`` (prometheus_client), for operators.

- ``keyholder_http_requests_total{endpoint,method,status}`` and
  ``keyholder_http_request_duration_seconds{endpoint}``: every request, by
  the endpoint it is for (a fixed set of names: no path ever becomes a label);
- ``keyholder_tokens_issued_total{grant}``: access tokens, by grant type;
- ``keyholder_introspections_active_total``: introspections answered active
  (all of them: the requests of endpoint ``introspection``);
- ``keyholder_logins_total{outcome}``: succeeded, failed, throttled;
- ``keyholder_promotions_total``: members made administrators;
- ``keyholder_outbox_depth`` and ``keyholder_outbox_oldest_age_seconds``:
  e-mails not sent yet, read at each scrape;
- ``keyholder_signing_key_age_seconds{alg,kid,state}``: since each published
  key was made.

Under ``keyholder serve`` every worker counts in files of a folder the server
gives them (prometheus_client's multiprocess mode), and a scrape adds them
up, whichever worker answers it. ``/metrics`` answers a client on
``KEYHOLDER_METRICS_NETWORKS`` (loopback by default) or one that shows the
bearer token ``KEYHOLDER_METRICS_TOKEN``; anyone else gets 403.

prometheus_client is imported when the app is built, not when this module
is: the server sets ``PROMETHEUS_MULTIPROC_DIR`` first."""

from __future__ import annotations

import hmac
import ipaddress
import os
import threading
import time
from types import SimpleNamespace

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from idp.infrastructure.client_ip import client_ip

blueprint = Blueprint("metrics", __name__)
MULTIPROCESS = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

# Exact paths, then prefixes: the endpoint label of a request.
PATHS = {
    "/token": "token", "/introspect": "introspection", "/revoke": "revocation",
    "/userinfo": "userinfo", "/jwks.json": "jwks", "/authorize": "authorize",
    "/device_authorization": "device_authorization", "/device": "device",
    "/.well-known/openid-configuration": "discovery",
    "/.well-known/oauth-authorization-server": "discovery",
    "/.well-known/ssf-configuration": "ssf", "/end_session": "end_session",
    "/login": "login", "/login/second-factor": "login", "/logout": "logout",
    "/health": "health", "/health/live": "health", "/health/ready": "health",
    "/metrics": "metrics", "/language": "language",
}
PREFIXES = (("/account/", "account"), ("/console/", "console"), ("/ssf/", "ssf"),
            ("/static/", "static"), ("/login", "login"), ("/device", "device"))

_lock = threading.Lock()
_metrics: SimpleNamespace | None = None


def endpoint_of(path: str) -> str:
    name = PATHS.get(path)
    if name is not None:
        return name
    for prefix, name in PREFIXES:
        if path.startswith(prefix):
            return name
    return "other"


def metrics() -> SimpleNamespace:
    """The process's metrics, made once (after the server chose the mode)."""
    global _metrics
    if _metrics is None:
        with _lock:
            if _metrics is None:
                _metrics = _make()
    return _metrics


def _make() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram, values

    values.ValueClass = values.get_value_class()  # multiprocess if the server said so
    return SimpleNamespace(
        requests=Counter("keyholder_http_requests", "HTTP requests answered.",
                         ["endpoint", "method", "status"]),
        latency=Histogram("keyholder_http_request_duration_seconds",
                          "Time to answer a request.", ["endpoint"], buckets=BUCKETS),
        tokens=Counter("keyholder_tokens_issued", "Access tokens issued.", ["grant"]),
        introspections_active=Counter("keyholder_introspections_active",
                                      "Introspections answered active."),
        logins=Counter("keyholder_logins", "Sign-ins, by outcome.", ["outcome"]),
        promotions=Counter("keyholder_promotions", "Members made administrators."),
    )


def count_token(grant: str) -> None:
    metrics().tokens.labels(grant).inc()


def count_login(outcome: str) -> None:
    metrics().logins.labels(outcome).inc()


class RequestMetrics:
    """WSGI middleware: counts and times every request (the fast lane's too)."""

    def __init__(self, wsgi_app) -> None:
        self.wsgi_app = wsgi_app
        self.m = metrics()

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status = ["500"]

        def capture(code, headers, exc_info=None):
            status[0] = code[:3]
            return start_response(code, headers, exc_info)

        try:
            return self.wsgi_app(environ, capture)
        finally:
            endpoint = endpoint_of(environ.get("PATH_INFO", ""))
            method = environ.get("REQUEST_METHOD", "")
            self.m.requests.labels(endpoint, method if method in _METHODS else "other",
                                   status[0]).inc()
            self.m.latency.labels(endpoint).observe(time.perf_counter() - started)


_METHODS = frozenset({"GET", "POST", "HEAD", "OPTIONS", "PUT", "DELETE"})


def _allowed() -> bool:
    settings = current_app.config["KEYHOLDER"]
    token = settings.METRICS_TOKEN
    scheme, _, shown = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(
            shown.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(client_ip())
    except ValueError:
        return False
    return any(address in network for network in settings.METRICS_NETWORKS)


@blueprint.get("/metrics")
def scrape():
    if not _allowed():
        answer = jsonify(error="forbidden")
        answer.status_code = 403
        return answer
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

    from idp.infrastructure.metrics_state import StateCollector

    if os.environ.get(MULTIPROCESS):
        from prometheus_client import multiprocess

        counted = multiprocess.MultiProcessCollector(None)  # every worker's files
    else:
        counted = REGISTRY
    body = generate_latest(_Both(counted, StateCollector(current_app._get_current_object())))
    return Response(body, content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


class _Both:
    """Two collectors as one registry, for one scrape (nothing registered)."""

    def __init__(self, *collectors) -> None:
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def _count_promotions(_session, event) -> None:
    if event.action == "membership.promoted":  # AuditAction.PROMOTED
        metrics().promotions.inc()


def init_app(app: Flask) -> None:
    """Call last: the request metrics wrap everything else (the edge, the lane)."""
    from idp.directory.services import audit_listeners

    metrics()
    if _count_promotions not in audit_listeners:
        audit_listeners.append(_count_promotions)
    app.register_blueprint(blueprint)
    app.wsgi_app = RequestMetrics(app.wsgi_app)
