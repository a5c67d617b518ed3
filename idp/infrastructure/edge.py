"""The provider's edge: what every request must be before any view runs.

- **Forwarded headers** (``X-Forwarded-For``, ``-Proto``, ``-Host``,
  ``-Port``) are believed only when the peer is one of
  ``KEYHOLDER_TRUSTED_PROXIES``; from anyone else they are removed, so no
  code further in can read a forged one. The client's address is then the
  nearest ``X-Forwarded-For`` entry that is not itself a trusted proxy.
- **The issuer's origin.** A request must reach us at the issuer's scheme
  and host (after the proxy's headers): Authlib builds every URL from the
  request and refuses plain http, and a foreign ``Host`` would otherwise end
  in a 500. ``/health``, ``/health/live``, ``/health/ready`` and ``/metrics`` are
  exempt: load balancers and Prometheus reach a node by its address.
- **No control characters** in the path, in any query or form parameter
  (names and values), or in the Basic credentials. PostgreSQL refuses NUL
  in text, and no protocol value needs a control character, so they are
  refused once here: ``invalid_request`` (``invalid_client`` for
  credentials) instead of a 500 deep inside a query.

Refusals are JSON at the API endpoints (views marked with :func:`api`) and
a page everywhere else, never a traceback."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from flask import Flask, Response, current_app, g, jsonify, render_template, request
from werkzeug.middleware.proxy_fix import ProxyFix

Networks = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

FORWARDED_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_X_FORWARDED_PROTO",
                     "HTTP_X_FORWARDED_HOST", "HTTP_X_FORWARDED_PORT",
                     "HTTP_X_FORWARDED_PREFIX", "HTTP_FORWARDED")
SCHEMES = {"http", "https"}
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
EXEMPT_FROM_ORIGIN = {"/health", "/health/live", "/health/ready", "/metrics"}

# In g: the page gets a quiet header (idp.pages.masthead): no person, no switcher.
QUIET = "masthead_quiet"


def _trusted(address: str, networks: Networks) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str, networks: Networks) -> str:
    """The nearest untrusted hop of ``X-Forwarded-For`` sent by a trusted
    ``peer``: hops further left were written by whoever the client was, and
    prove nothing."""
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            try:
                return str(ipaddress.ip_address(hop))
            except ValueError:
                return peer  # garbage from the proxy: fall back to what we know
    return peer


class ForwardedHeaders:
    """WSGI middleware: the request's scheme, host and client address, from
    a trusted proxy's ``X-Forwarded-*`` headers (Werkzeug's ``ProxyFix``,
    one hop: the values our proxy wrote) or from the connection itself."""

    def __init__(self, app, networks: Networks) -> None:
        self.app = app
        self.networks = networks
        self.proxy_fix = ProxyFix(app, x_for=0, x_proto=1, x_host=1, x_port=1)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR") or ""
        if not self.networks or not _trusted(peer, self.networks):
            for header in FORWARDED_HEADERS:
                environ.pop(header, None)
            return self.app(environ, start_response)
        environ["REMOTE_ADDR"] = forwarded_client(
            peer, environ.get("HTTP_X_FORWARDED_FOR", ""), self.networks)
        proto = environ.get("HTTP_X_FORWARDED_PROTO", "").rsplit(",", 1)[-1].strip().lower()
        if proto and proto not in SCHEMES:
            environ.pop("HTTP_X_FORWARDED_PROTO")  # not a scheme: keep the connection's
        return self.proxy_fix(environ, start_response)


class Refused(Exception):
    """A request refused at the edge, with its wire code."""

    status = 400
    error = "invalid_request"

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class ControlCharacters(Refused):
    pass


class ControlCharactersInCredentials(Refused):
    status = 401
    error = "invalid_client"


class ForeignOrigin(Refused):
    pass


def _origin(scheme: str, host: str) -> tuple[str, str]:
    host = host.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme, "")
    return scheme, host.removesuffix(default)


def is_issuer_origin(scheme: str, host: str, issuer: str) -> bool:
    """Whether a request reached us at the issuer's scheme, host and port."""
    wanted = urlsplit(issuer)
    return _origin(scheme, host) == _origin(wanted.scheme, wanted.netloc)


def check_origin(issuer: str) -> None:
    if request.path in EXEMPT_FROM_ORIGIN:
        return
    if not is_issuer_origin(request.scheme, request.host, issuer):
        raise ForeignOrigin(f"This provider answers at {issuer} only.")


def has_control(texts: Iterable[str]) -> bool:
    return any(CONTROL.search(text) for text in texts)


def check_characters() -> None:
    parameters = [*request.args.items(multi=True), *request.form.items(multi=True)]
    if has_control([request.path, *(part for pair in parameters for part in pair)]):
        raise ControlCharacters("A parameter contains a control character.")
    credentials = request.authorization
    if credentials is not None and credentials.type == "basic":
        # Authlib form-decodes both halves (RFC 6749 §2.3.1): check what it will see.
        parts = [credentials.username or "", credentials.password or ""]
        if has_control([*parts, *(unquote(part) for part in parts)]):
            raise ControlCharactersInCredentials("The client credentials contain a "
                                                 "control character.")


def basic_challenge(realm: str) -> str:
    """``WWW-Authenticate`` for a client that failed Basic authentication
    (RFC 7617 §2: the realm is required); the edge and the token endpoints'
    ``invalid_client`` both answer with it."""
    return f'Basic realm="{realm}"'


def api(view):
    """Mark a view as an API endpoint: its refusals are JSON, not a page."""
    view.keyholder_api = True
    return view


def _render(refusal: Refused) -> Response:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "keyholder_api", False):
        response = jsonify(error=refusal.error, error_description=refusal.description)
        response.status_code = refusal.status
    else:
        g.setdefault(QUIET, True)
        response = Response(render_template("request_refused.html", refusal=refusal),
                            refusal.status)
    if refusal.status == 401:
        response.headers["WWW-Authenticate"] = basic_challenge(
            current_app.config["KEYHOLDER"].ISSUER)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    """Install the edge; call before anything else registers ``before_request``."""
    settings = app.config["KEYHOLDER"]
    issuer = urlsplit(settings.ISSUER)
    # URLs built outside a request, and the test client, use the issuer's origin.
    app.config.update(SERVER_NAME=issuer.netloc, PREFERRED_URL_SCHEME=issuer.scheme)
    app.wsgi_app = ForwardedHeaders(app.wsgi_app, settings.TRUSTED_PROXIES)

    @app.before_request
    def check_request():
        check_origin(settings.ISSUER)
        check_characters()

    app.register_error_handler(Refused, _render)
