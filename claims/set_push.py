"""Push delivery of SETs (RFC 8935): a Flask view the provider POSTs each SET to.

    from claims.set_push import push_endpoint

    view = push_endpoint(receiver, authorization="Bearer " + settings.SSF_PUSH_SECRET)
    app.add_url_rule("/ssf/events", view_func=view)   # POST only
    csrf.exempt(view)                                 # with Flask-WTF: the provider has no form

``authorization`` is the ``authorization_header`` the service gave in its
stream's delivery configuration (SSF "Push Delivery using HTTP"): the
provider sends it with every SET, and nothing else may deliver one. Without
it, anyone who can reach the view can make the provider's JWKS be fetched,
but no SET the provider did not sign is taken.

Answers, all ``Cache-Control: no-store``:
- 202, empty: the SET was taken (or was a repeat, already taken);
- 400 ``{"err", "description"}`` (RFC 8935 §2.3): refused, for good. Also a
  body that is not one SET (``invalid_request``) and a handler's SetRejected;
- 401 ``{"err": "authentication_failed"}``: not the configured Authorization;
- 503: the provider's keys cannot be fetched; 500: a handler failed. Either
  way the SET is not taken, and the provider delivers it again later.

Nothing here logs a SET or the Authorization header. Importing this module
imports Flask; ``import claims`` does not.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable

from flask import Response, request

from claims.errors import ProviderUnavailable
from claims.security_event_types import (
    AUTHENTICATION_FAILED,
    INVALID_REQUEST,
    SET_MEDIA_TYPE,
)
from claims.security_events import Receiver, SetRejected

log = logging.getLogger("claims.set_push")
MAX_BODY = 16 * 1024  # bytes; the verifier takes SETs of 8 KiB at most
_SCHEMES = frozenset({"bearer", "basic"})


def push_endpoint(receiver: Receiver, *,
                  authorization: str | None = None) -> Callable[[], Response]:
    """A view function that hands the SET POSTed to it to ``receiver``; with
    ``authorization``, only to requests whose Authorization header is exactly it."""
    expected = None
    if authorization is not None:
        if not authorization.isascii() or not authorization.isprintable() \
                or not authorization.strip():
            raise ValueError("authorization must be a header value (printable ASCII)")
        expected = authorization.encode("ascii")
    # RFC 9110 §11.6.1 wants a challenge with a 401: the scheme, if it is a
    # known one (the first word of another value could be part of the secret).
    scheme = (authorization or "").split(" ", 1)[0]
    challenge = {"WWW-Authenticate": scheme} if scheme.lower() in _SCHEMES else {}

    def security_event_push() -> Response:
        if request.method != "POST":
            return _answer(405, headers={"Allow": "POST"})
        if expected is not None and not hmac.compare_digest(
                request.headers.get("Authorization", "").encode("utf-8", "surrogatepass"),
                expected):
            return _answer(401, {"err": AUTHENTICATION_FAILED,
                                 "description": "The Authorization header is not the "
                                                "stream's."},
                           headers=challenge)
        token = _set_of_request()
        if token is None:
            return _answer(400, {"err": INVALID_REQUEST,
                                 "description": f"The body must be one SET ({SET_MEDIA_TYPE}, "
                                                f"{MAX_BODY} bytes at most)."})
        try:
            receiver.receive(token)
        except SetRejected as rejected:
            log.info("security event refused: %s", rejected.err)
            return _answer(400, {"err": rejected.err, "description": rejected.description})
        except ProviderUnavailable:
            log.warning("security event not checked: the provider's keys cannot be fetched")
            return _answer(503)
        except Exception as error:
            log.error("security event handler failed: %s", type(error).__name__)
            return _answer(500)
        return _answer(202)

    security_event_push.methods = ["POST"]  # what add_url_rule registers it for
    return security_event_push


def _set_of_request() -> str | None:
    """The body as compact-JWS text, or None if it cannot be one SET."""
    if request.mimetype != SET_MEDIA_TYPE:
        return None
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None  # refused unread
    body = request.stream.read(MAX_BODY + 1)
    if len(body) > MAX_BODY or not body.isascii():
        return None
    return body.decode("ascii").strip() or None


def _answer(status: int, body: dict | None = None, *,
            headers: dict[str, str] | None = None) -> Response:
    if body is None:
        response = Response(b"", status=status)
        del response.headers["Content-Type"]
    else:
        response = Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers or {})
    return response


__all__ = ["MAX_BODY", "push_endpoint"]
