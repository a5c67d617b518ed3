"""Registering clients and finding them fast.

Lookups are cached per process for at most ``KEYHOLDER_CLIENT_CACHE_SECONDS``
(30 s): the token and introspection endpoints authenticate a client on every
request, and clients change only through ``keyholder client add``,
``rotate-secret`` and ``remove``. That is the bound: a client changed or
removed in the database (a secret rotated on another node) is seen so by
every process within it (at once by the process that made the change).
The cache holds detached copies, never a live session object, and at most
``MAX_ENTRIES`` of them."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.clients.models import ID_TOKEN_ALGORITHMS, Client, ClientType, hash_client_secret
from idp.directory.contacts import normalise_name
from idp.directory.errors import InvalidInput
from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.protocol.tokens.models import TokenGrant
from idp.settings import is_loopback_host

EXTENSION = "keyholder.clients"
CACHE_SECONDS = 30.0
MAX_ENTRIES = 10_000


class InvalidClientMetadata(InvalidInput):
    code = "invalid_client_metadata"  # RFC 7591 §3.2.2


def client_secret_key(app: Flask) -> bytes:
    """The key of the client-secret hash, derived from the secret key so
    that a copy of the database alone cannot test guesses."""
    secret_key = app.config["SECRET_KEY"].encode()
    return hash_client_secret(secret_key, "keyholder client secrets").encode()


def _check_redirect_uri(uri: str, client_type: ClientType, what: str) -> str:
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise InvalidClientMetadata(f"A {what} has no fragment (RFC 6749 §3.1.2): {uri}")
    if client_type is ClientType.NATIVE:
        # RFC 8252 §7.3: loopback IP literal with http, or a private-use scheme.
        if parts.scheme == "http" and parts.hostname in {"127.0.0.1", "::1"}:
            return uri
        if parts.scheme not in {"http", "https", ""} and "." in parts.scheme:
            return uri
        if parts.scheme == "https" and parts.hostname:
            return uri
        raise InvalidClientMetadata(
            f"A native {what} is http://127.0.0.1[:port]/..., https, or a reverse-domain "
            f"scheme such as com.example.app:/callback: {uri}")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname and is_loopback_host(parts.hostname):
        return uri
    raise InvalidClientMetadata(f"A {what} must be an absolute https URL (http on loopback): {uri}")


@dataclass(frozen=True)
class Registration:
    client: Client
    client_secret: str | None  # shown once, never stored


def _check_metadata(client_type: ClientType, confidential: bool, redirect_uris,
                    post_logout_redirect_uris, id_token_alg: str) -> None:
    kind = client_type.value
    if id_token_alg not in ID_TOKEN_ALGORITHMS:
        allowed = " or ".join(ID_TOKEN_ALGORITHMS)
        raise InvalidClientMetadata(f"ID tokens are signed with {allowed}.")
    if client_type in {ClientType.WEB, ClientType.SERVICE} and not confidential:
        raise InvalidClientMetadata(f"A {kind} client is confidential.")
    if client_type is ClientType.NATIVE and confidential:
        raise InvalidClientMetadata("A native app cannot keep a secret: it is a public client.")
    needs_redirect = client_type in {ClientType.WEB, ClientType.NATIVE}
    if needs_redirect and not redirect_uris:
        raise InvalidClientMetadata(f"A {kind} client needs at least one --redirect-uri.")
    if not needs_redirect and (redirect_uris or post_logout_redirect_uris):
        raise InvalidClientMetadata(f"A {kind} client has no redirect URIs.")


def new_client_id() -> str:
    """128 random bits, base64url; never starting with "-", which a command
    line would take for an option (``keyholder client rotate-secret ID``)."""
    while True:
        client_id = secrets.token_urlsafe(16)
        if not client_id.startswith("-"):
            return client_id


def register_client(session: Session, app: Flask, name: str, client_type: ClientType | str, *,
                    redirect_uris: list[str] = (), post_logout_redirect_uris: list[str] = (),
                    first_party: bool = False, id_token_alg: str = "RS256",
                    confidential: bool | None = None, backchannel_logout_uri: str | None = None,
                    resource_uri: str | None = None) -> Registration:
    """Add a client. Web and service clients are confidential; native clients
    are public; device clients are public unless ``confidential``."""
    client_type = ClientType(client_type)
    if confidential is None:
        confidential = client_type in {ClientType.WEB, ClientType.SERVICE}
    _check_metadata(client_type, confidential, redirect_uris, post_logout_redirect_uris,
                    id_token_alg)
    uris = [_check_redirect_uri(u, client_type, "redirect URI") for u in redirect_uris]
    logout_uris = [_check_redirect_uri(u, client_type, "post-logout redirect URI")
                   for u in post_logout_redirect_uris]
    if backchannel_logout_uri is not None:
        backchannel_logout_uri = _check_redirect_uri(backchannel_logout_uri, ClientType.WEB,
                                                     "back-channel logout URI")
    if resource_uri is not None:
        if client_type is not ClientType.SERVICE:
            raise InvalidClientMetadata("Only a service client (an API) has a resource URI.")
        resource_uri = _check_redirect_uri(resource_uri, ClientType.WEB, "resource URI")
        if session.scalar(select(Client.id).where(Client.resource_uri == resource_uri)):
            raise InvalidClientMetadata(f"Another client has the resource URI {resource_uri}.")
    secret = secrets.token_urlsafe(32) if confidential else None  # 256 bits
    secret_hash = hash_client_secret(client_secret_key(app), secret) if secret else None
    client = Client(id=new_client_id(), name=normalise_name(name), type=client_type,
                    secret_hash=secret_hash, redirect_uris=list(dict.fromkeys(uris)),
                    post_logout_redirect_uris=list(dict.fromkeys(logout_uris)),
                    first_party=first_party, id_token_signed_response_alg=id_token_alg,
                    backchannel_logout_uri=backchannel_logout_uri, resource_uri=resource_uri)
    session.add(client)
    session.flush()
    return Registration(client, secret)


def rotate_secret(session: Session, app: Flask, client: Client) -> str:
    """A new secret for a confidential ``client``, in the caller's transaction;
    returns it (shown once, never stored). The old one is refused from the
    commit on by this process, by the others within the cache's bound."""
    if client.secret_hash is None:
        raise InvalidClientMetadata("This client is public: it has no secret to rotate.")
    secret = secrets.token_urlsafe(32)
    client.secret_hash = hash_client_secret(client_secret_key(app), secret)
    session.flush()
    cache(app).clear()
    return secret


@dataclass(frozen=True)
class Removal:
    client: Client  # deleted: read its attributes, never write them
    families_revoked: int


def remove_client(session: Session, app: Flask, client: Client) -> Removal:
    """Remove ``client``, in the caller's transaction: its live token families
    are revoked (their refresh tokens and the access tokens they issued are
    refused from the commit on), then the client is deleted, and with it (by
    the database's cascades) its families, codes, consents, device requests,
    Shared Signals streams and undelivered pushes. This process forgets it
    at once; the others within ``CACHE_SECONDS``."""
    revoked = session.execute(
        update(TokenGrant).where(TokenGrant.client_id == client.id,
                                 TokenGrant.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason="client_removed")).rowcount
    session.delete(client)
    session.flush()
    cache(app).clear()
    return Removal(client, revoked)


def is_registered(session: Session, client_id: str) -> bool:
    """Whether a client with this id is registered (read now, not cached)."""
    return session.get(Client, client_id) is not None


class ClientCache:
    """client_id -> detached Client, for CACHE_SECONDS."""

    def __init__(self, seconds: float = CACHE_SECONDS) -> None:
        self.seconds = seconds  # KEYHOLDER_CLIENT_CACHE_SECONDS
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, Client | None]] = {}
        self._resources: dict[str, float] = {}  # resource URI known -> until when

    def get(self, app: Flask, client_id: str) -> Client | None:
        if not isinstance(client_id, str) or not client_id or len(client_id) > 64:
            return None
        now = time.monotonic()
        with self._lock:
            hit = self._entries.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        with database.new_session(app) as session:
            client = session.scalar(select(Client).where(Client.id == client_id))
            if client is not None:
                session.expunge(client)
                client._secret_key = client_secret_key(app)
        with self._lock:
            if len(self._entries) > MAX_ENTRIES:  # unknown ids must not grow it without bound
                self._entries.clear()
            self._entries[client_id] = (now + self.seconds, client)
        return client

    def is_known_resource(self, app: Flask, uri: str) -> bool:
        """Whether a service registered ``uri`` as its resource (RFC 8707); only
        a yes is remembered (CACHE_SECONDS), so a new resource is known at once."""
        now = time.monotonic()
        if self._resources.get(uri, 0.0) > now:
            return True
        with database.new_session(app) as session:
            known = session.scalar(select(Client.id).where(Client.resource_uri == uri))
        if known is not None:
            with self._lock:
                if len(self._resources) > MAX_ENTRIES:
                    self._resources.clear()
                self._resources[uri] = now + self.seconds
        return known is not None

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._resources.clear()


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = ClientCache(app.config["KEYHOLDER"].CLIENT_CACHE_SECONDS)


def cache(app: Flask) -> ClientCache:
    return app.extensions[EXTENSION]


def query_client(client_id: str) -> Client | None:
    """Authlib's ``query_client``."""
    return cache(current_app).get(current_app, client_id)
