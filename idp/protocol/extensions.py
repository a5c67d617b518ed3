"""Authorization-server extensions: checks on every authorization request
that Authlib does not make, or makes in a way we cannot use."""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import UnsupportedResponseTypeError
from authlib.oauth2.rfc9207 import IssuerParameter
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError
from flask import current_app


class Issuer(IssuerParameter):
    """RFC 9207: ``iss`` on every authorization response."""

    def get_issuer(self) -> str:
        return current_app.config["KEYHOLDER"].ISSUER


class RefuseRequestObjects:
    """OIDC Core §6: we do not process ``request`` / ``request_uri``, so we
    say so (``request_not_supported``) rather than ignore them silently."""

    def __call__(self, server):
        server.register_hook("before_get_authorization_grant", self.check)

    def check(self, server, request):
        if "request" in request.payload.data:
            raise RequestNotSupportedError()
        if "request_uri" in request.payload.data:
            raise RequestURINotSupportedError()


class CodeResponseTypeOnly:
    """Only ``response_type=code``: no implicit or hybrid flow ("Code flow only").

    Authlib would put the requested value into its error description, and
    a quote or non-ASCII character there is a 500; this refusal's words are
    fixed. It is redirected only to a redirect URI registered for the client
    (RFC 6749 §4.1.2.1)."""

    def __call__(self, server):
        server.register_hook("before_get_authorization_grant", self.check)

    def check(self, server, request):
        if request.payload.data.get("response_type") == "code":
            return
        client = server.query_client(request.payload.data.get("client_id") or "")
        uris = request.payload.datalist.get("redirect_uri", [])
        redirect_uri = uris[0] if client is not None and len(uris) == 1 and \
            client.check_redirect_uri(uris[0]) else None
        raise UnsupportedResponseTypeError(
            "Only response_type=code is supported.", redirect_uri=redirect_uri,
            state=request.payload.data.get("state") if redirect_uri else None)
