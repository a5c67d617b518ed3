"""Error pages a person can read: 400, 403, 404, 405 and 500 in the page's
language, with the shared header, instead of the framework's own.

Only for pages. The protocol endpoints (token, introspection, revocation,
UserInfo, device authorization, discovery, JWKS, the Shared Signals API,
health) answer exactly as before: their own JSON errors, or the framework's
answer for a path or a method they do not have. A client that asks for JSON
gets the framework's answer too. The 500 page says nothing of the cause,
and shows no person (the database may be what failed).

Also the words of the pages that refuse a request: a protocol error shown
instead of a redirect (``authorize/error.html``) and a request refused at the
edge (``request_refused.html``), the wire code kept for the helpdesk."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, make_response, render_template, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from idp.infrastructure import edge
from idp.pages.masthead import QUIET

log = logging.getLogger("keyholder.pages")

PAGES = {400: "errors/400.html", 403: "errors/403.html", 404: "errors/404.html",
         405: "errors/405.html", 500: "errors/500.html"}
PROTOCOL_PATHS = {"/token", "/device_authorization", "/introspect", "/revoke", "/userinfo",
                  "/jwks.json", "/health"}
PROTOCOL_PREFIXES = ("/.well-known/", "/ssf/")
KEPT_HEADERS = {"allow", "www-authenticate", "retry-after"}


def for_a_page() -> bool:
    """Whether this request's error is answered with a page."""
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "keyholder_api", False):
        return False
    if request.path in PROTOCOL_PATHS or request.path.startswith(PROTOCOL_PREFIXES):
        return False
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best != "application/json"


def error_page(error: HTTPException):
    if not for_a_page():
        return error
    status = error.code or 500
    if status >= 500:
        g.setdefault(QUIET, True)
    try:
        response = make_response(render_template(PAGES[status], status=status), status)
    except Exception:  # an error page must not fail: the plain answer then
        log.exception("the %s page could not be shown", status)
        return error
    for name, value in error.get_headers():
        if name.lower() in KEPT_HEADERS:
            response.headers[name] = value
    return response


# -- the words of refusals -------------------------------------------------------------

def protocol_error_words(code: str | None) -> str:
    """An OAuth error shown on a page (no redirect), for the person."""
    if code == "invalid_client":
        return _("We do not know the service that sent you here.")
    if code == "unauthorized_client":
        return _("The service that sent you here may not sign you in this way.")
    if code == "invalid_scope":
        return _("The service that sent you here asked for something we cannot give.")
    if code == "invalid_target":
        return _("The service that sent you here asked to reach a service we do not know.")
    if code in {"unsupported_response_type", "request_not_supported",
                "request_uri_not_supported", "registration_not_supported"}:
        return _("The service that sent you here asked in a way we do not support.")
    return _("The service that sent you here made a request we cannot accept.")


def refusal_words(refusal: edge.Refused) -> str:
    """A request refused at the edge (idp.infrastructure.edge), for the person."""
    if isinstance(refusal, edge.ForeignOrigin):
        return _("This address is not the one of our sign-in pages. Please use %(address)s.",
                 address=current_app.config["KEYHOLDER"].ISSUER)
    if isinstance(refusal, edge.ControlCharactersInCredentials):
        return _("The service's credentials contain a character that is not allowed "
                 "(a control character).")
    if isinstance(refusal, edge.ControlCharacters):
        return _("The address or the form contains a character that is not allowed "
                 "(a control character).")
    return _("The request is not valid.")


def init_app(app: Flask) -> None:
    for status in PAGES:
        app.register_error_handler(status, error_page)
    app.jinja_env.globals.update(protocol_error_words=protocol_error_words,
                                 refusal_words=refusal_words)
