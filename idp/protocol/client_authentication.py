"""A client that fails to authenticate, answered as RFC 6749 §5.2 and RFC 7617 §2 say.

The secret methods (``client_secret_basic``, ``client_secret_post``) are
Authlib's, but for one rule: an unknown ``client_id`` costs the same keyed
hash and comparison as a known one (:func:`client_by_secret`, which the fast
lane uses too), so timing does not tell which clients exist.

``invalid_client`` is 401 with ``WWW-Authenticate: Basic realm="<issuer>"``.
Authlib's challenge has no ``realm``, which RFC 7617 §2 requires, so strict
HTTP clients cannot parse it. Every endpoint that authenticates clients
(``/token``, ``/introspect``, ``/revoke``, ``/device_authorization``) calls
:meth:`AuthorizationServer.authenticate_client`: this is the one place."""

from __future__ import annotations

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc6749.util import extract_basic_authorization
from flask import current_app

from idp.clients.models import Client, secret_matches
from idp.infrastructure import logs
from idp.infrastructure.edge import basic_challenge


def client_by_secret(query_client, client_id: str, secret: str) -> tuple[Client | None, bool]:
    """(the client, if ``secret`` is its secret; whether ``client_id`` exists)."""
    client = query_client(client_id)
    if client is None:
        secret_matches(b"", secret, None)  # the work a known client costs
        logs.event("client_authentication.failed", "an unknown client tried to authenticate",
                   reason="unknown_client")
        return None, False
    if client.check_client_secret(secret):
        return client, True
    logs.event("client_authentication.failed", "a client gave a wrong secret",
               client_id=client.id, reason="wrong_secret")
    return None, True


def _authenticated(query_client, client_id, secret, status_code: int) -> Client | None:
    if not (client_id and secret):
        return None
    client, known = client_by_secret(query_client, client_id, secret)
    if not known:  # Authlib's answer for an unknown client
        raise InvalidClientError(status_code=status_code,
                                 description="The client does not exist on this server.")
    return client


def client_secret_basic(query_client, request) -> Client | None:
    """RFC 6749 §2.3.1, HTTP Basic; a header that is not UTF-8 is an
    unauthenticated client (``invalid_client``), not a 500."""
    try:
        client_id, secret = extract_basic_authorization(request.headers)
    except (UnicodeDecodeError, ValueError):
        return None
    return _authenticated(query_client, client_id, secret, 401)


def client_secret_post(query_client, request) -> Client | None:
    """RFC 6749 §2.3.1, in the form body."""
    return _authenticated(query_client, request.form.get("client_id"),
                          request.form.get("client_secret"), 400)


class InvalidClient(InvalidClientError):
    """``invalid_client``, 401, with a Basic challenge that names the realm."""

    status_code = 401

    def __init__(self, description: str, realm: str) -> None:
        super().__init__(description=description)
        self.realm = realm

    def get_headers(self):
        return [*default_json_headers, ("WWW-Authenticate", basic_challenge(self.realm))]


def tried_basic(request) -> bool:
    scheme = (request.headers.get("Authorization") or "").split(" ", 1)[0]
    return scheme.lower() == "basic"


class AuthorizationServer(_AuthorizationServer):
    """Authlib's Flask authorization server; only the answer to a failed
    client authentication changes."""

    def authenticate_client(self, request, methods, endpoint="token"):
        try:
            return super().authenticate_client(request, methods, endpoint)
        except InvalidClientError as error:
            # 401 whenever Basic was tried (RFC 6749 §5.2: MUST) or is accepted
            # here (MAY: it tells the client which scheme to use).
            if "client_secret_basic" in methods or tried_basic(request):
                raise InvalidClient(error.description,
                                    current_app.config["KEYHOLDER"].ISSUER) from error
            raise
