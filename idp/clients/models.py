"""The ``client`` table and Authlib's ClientMixin over it (RFC 6749 §2)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from enum import StrEnum
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import JSON, Boolean, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from claims.security_event_types import MANAGEMENT_SCOPE
from claims.vocabulary import Channel
from idp.directory.models import _enum, utcnow
from idp.infrastructure.database import Base
from idp.protocol.scopes import allowed_scope


class ClientType(StrEnum):
    """What a client is decides how it authenticates and
    which grants it may use (docs/design.md, "Clients")."""

    WEB = "web"          # confidential, authorization_code + refresh_token
    NATIVE = "native"    # public (PKCE), authorization_code + refresh_token, loopback redirect
    SERVICE = "service"  # confidential, client_credentials; may introspect
    DEVICE = "device"    # public or confidential, device_code (RFC 8628)


class GrantType(StrEnum):
    AUTHORIZATION_CODE = "authorization_code"
    REFRESH_TOKEN = "refresh_token"
    CLIENT_CREDENTIALS = "client_credentials"
    DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"


GRANT_TYPES: dict[ClientType, frozenset[str]] = {
    ClientType.WEB: frozenset({GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN}),
    ClientType.NATIVE: frozenset({GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN}),
    ClientType.SERVICE: frozenset({GrantType.CLIENT_CREDENTIALS}),
    ClientType.DEVICE: frozenset({GrantType.DEVICE_CODE, GrantType.REFRESH_TOKEN}),
}

# The channel each client type is (docs/design.md, "Channels"): entitlements depend on it.
# A TV box is not the web site: it gets the app's entitlements.
CHANNELS: dict[ClientType, Channel] = {
    ClientType.WEB: Channel.WEB,
    ClientType.NATIVE: Channel.APP,
    ClientType.DEVICE: Channel.APP,
}

SECRET_AUTH_METHODS = frozenset({"client_secret_basic", "client_secret_post"})
ID_TOKEN_ALGORITHMS = ("RS256", "ES256")


def hash_client_secret(key: bytes, secret: str) -> str:
    """A keyed fast hash. Client secrets are 256 random bits, so a slow
    password hash adds nothing but 100 ms per token request (issue 3)."""
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


# Compared against when the client is unknown, so that an unknown client_id
# costs the same HMAC and comparison as a known one ("Constant-time secret
# comparison", docs/security.md).
_NO_CLIENT_HASH = "0" * 64


def secret_matches(key: bytes, secret: str, secret_hash: str | None) -> bool:
    """Whether ``secret`` is the one whose keyed hash is ``secret_hash``, in
    constant time; always False without a stored hash or key, after the same work."""
    candidate = hash_client_secret(key or b"-", secret)
    return hmac.compare_digest(candidate, secret_hash or _NO_CLIENT_HASH) \
        and secret_hash is not None and bool(key)


class Client(Base, ClientMixin):
    __tablename__ = "client"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[ClientType] = mapped_column(_enum(ClientType, "client_type"))
    secret_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    first_party: Mapped[bool] = mapped_column(Boolean, default=False)
    id_token_signed_response_alg: Mapped[str] = mapped_column(String(10), default="RS256")
    # OIDC Back-Channel Logout 1.0: where the provider POSTs a logout token.
    backchannel_logout_uri: Mapped[str | None] = mapped_column(Text, default=None)
    # RFC 8707: the resource identifier of a service client (an API). Tokens
    # asked for with ``resource=`` this URI have it as audience, and the
    # service may introspect them.
    resource_uri: Mapped[str | None] = mapped_column(String(300), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Set by the registry that loaded this client (the secret key for hashing).
    _secret_key: bytes = b""

    def __repr__(self) -> str:
        return f"<Client {self.id} {self.type.value}>"

    @property
    def client_id(self) -> str:
        return self.id

    @property
    def is_confidential(self) -> bool:
        return self.secret_hash is not None

    @property
    def client_metadata(self) -> dict[str, Any]:
        # Read by Authlib's UserInfo and end-session endpoints.
        return {"post_logout_redirect_uris": list(self.post_logout_redirect_uris),
                "id_token_signed_response_alg": self.id_token_signed_response_alg,
                "backchannel_logout_uri": self.backchannel_logout_uri}

    # -- ClientMixin -------------------------------------------------------------

    def get_client_id(self) -> str:
        return self.id

    def get_default_redirect_uri(self) -> None:
        # Never fall back: a request without redirect_uri is refused (OIDC Core 3.1.2.1).
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        # Which scopes exist is the provider's business (idp.protocol.scopes); unknown
        # ones are dropped there, never an error (OIDC Core 3.1.2.1). Service
        # clients get no user scopes: they have no user.
        return "" if self.type is ClientType.SERVICE else allowed_scope(scope)

    def client_scope(self, scope: str | None) -> str:
        """The scope of a token about the client itself (client credentials):
        ``ssf`` (its Shared Signals stream) when asked by a confidential
        client, else none."""
        asked = (scope or "").split()
        return MANAGEMENT_SCOPE if MANAGEMENT_SCOPE in asked and self.is_confidential else ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string comparison (RFC 9700 §4.1.3): no prefix, case or port games.
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self._secret_key, client_secret, self.secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.is_confidential:
            return method in SECRET_AUTH_METHODS
        # A public client authenticates with nothing, and only where that
        # means something: at the token and revocation endpoints. It may not
        # introspect (RFC 7662 §2.1 asks for authentication).
        return method == "none" and endpoint in {"token", "revocation", "device_authorization"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and GrantType.AUTHORIZATION_CODE in GRANT_TYPES[self.type]

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES[self.type]
