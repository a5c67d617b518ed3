"""When the database does not answer: 503 ``temporarily_unavailable``, fast,
with ``Retry-After``, logged in one line.

Whatever the request, a lost or refused connection, a pool with no free
connection, a statement or lock timeout end here instead of in Flask's 500
page with a traceback per request (thousands a minute while PostgreSQL is
down). Protocol endpoints answer JSON (RFC 6749 §5.2's shape, with the code
OAuth gives for a server that is temporarily unable to answer); pages
answer a page. Nothing is half done: the request's transaction is rolled
back with its session. Recovery needs nothing: the pool replaces the lost
connections at their next checkout."""

from __future__ import annotations

import json
import logging

from flask import Flask, jsonify, make_response, render_template, request
from sqlalchemy import exc

from idp.infrastructure.autocommit import Unavailable
from idp.infrastructure.security_headers import HEADERS as SECURITY_HEADERS

log = logging.getLogger("keyholder.database")
RETRY_AFTER = "5"  # seconds
ERRORS = (exc.OperationalError, exc.InterfaceError, exc.TimeoutError, Unavailable)


def wants_page() -> bool:
    """A browser asking for a page (not a client of a protocol endpoint)."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.method in {"GET", "POST"}


BODY = {"error": "temporarily_unavailable",
        "error_description": "The service is briefly unavailable. Please try again in a "
                             "few seconds."}


def log_outage(error: BaseException, method: str, path: str) -> None:
    # One line, no statement and no parameters: the kind of failure only.
    cause = getattr(error, "orig", None) or error.__cause__ or error
    log.warning("database unavailable: %s (%s %s answered 503)", type(cause).__name__,
                method, path[:200])


def wsgi_answer(error: BaseException, environ, start_response) -> list[bytes]:
    """The same answer from plain WSGI (the fast lane, in front of Flask)."""
    log_outage(error, environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", ""))
    body = json.dumps(BODY, sort_keys=True).encode()
    start_response("503 Service Unavailable", [
        ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
        ("Retry-After", RETRY_AFTER), ("Cache-Control", "no-store"), *SECURITY_HEADERS])
    return [body]


def answer(error: BaseException):
    log_outage(error, request.method, request.path)
    if wants_page():
        response = make_response(render_template("unavailable.html"), 503)
    else:
        response = jsonify(BODY)
        response.status_code = 503
    response.headers["Retry-After"] = RETRY_AFTER
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    for error in ERRORS:
        app.register_error_handler(error, answer)
