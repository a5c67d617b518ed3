"""A client that fails to authenticate, answered as RFC 6749 §5.2 and RFC 7617 §2 say.

``invalid_client`` is 401 with ``WWW-Authenticate: Basic realm="<issuer>"``.
Authlib's challenge has no ``realm``, which RFC 7617 §2 requires, so strict
HTTP clients cannot parse it. Every endpoint that authenticates clients
(``/token``, ``/introspect``, ``/revoke``, ``/device_authorization``) calls
:meth:`AuthorizationServer.authenticate_client`: this is the one place."""

from __future__ import annotations

from authlib.consts import default_json_headers
from authlib.integrations.flask_oauth2 import AuthorizationServer as _AuthorizationServer
from authlib.oauth2.rfc6749.errors import InvalidClientError
from flask import current_app

from idp.infrastructure.edge import basic_challenge


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
