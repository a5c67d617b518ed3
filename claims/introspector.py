"""Asking the provider what a token is worth now (RFC 7662), for resource servers
that want revocations and role changes to count at once ("Role changes count
at once", docs/security.md).

    introspector = Introspector("https://id.example", "usage-api", secret)
    identity = introspector.introspect(token)   # or InactiveToken, ProviderUnavailable

The client authenticates with ``client_secret_basic`` (RFC 6749 §2.3.1: id and
secret form-encoded, then Basic). The provider answers ``active: true`` only to
a client the token is for, so a token for another service is InactiveToken.

Answers are cached briefly, so that a burst of requests with one token costs
one round trip: at most ``cache_size`` entries (least recently used go
first), keyed by the SHA-256 of the token (the cache holds no token), each
kept ``cache_seconds`` at most and never past the token's ``exp``. That is
the price of the cache: a revocation takes up to ``cache_seconds`` to be
seen here. Inactive answers are never cached (a token can only stay inactive,
and refusing it again costs the caller nothing worth saving). :meth:`forget`
shortens that wait for one person: a service that receives the provider's
security events (claims.Receiver) forgets a person's answers when their
role changes or their session is revoked.

Failing closed: unreachable, HTTP 5xx, an answer that is not JSON, or the
provider refusing our own credentials → ProviderUnavailable, never a guess.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import requests

from claims.errors import InactiveToken, ProviderUnavailable, WrongIssuer, WrongTokenType
from claims.identity import Identity
from claims.provider_metadata import (
    DEFAULT_TIMEOUT,
    basic_authorization,
    endpoint,
    provider_metadata,
    request_json,
)

MAX_TOKEN_LENGTH = 8192  # longer is not one of the provider's tokens: not sent at all
# An access token's type (RFC 7662 §2.2, RFC 6749 §7.1). The provider states it
# for every access token and leaves it out for a refresh token, which has no
# such type: an answer without it is a refresh token, and must not open an API.
BEARER_TOKEN_TYPES = frozenset({"bearer", "access_token"})


class Introspector:
    """Thread-safe; build one per process and keep it."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, *,
                 introspection_endpoint: str | None = None,
                 http: requests.Session | None = None, cache_size: int = 1024,
                 cache_seconds: float = 30.0, clock: Callable[[], float] = time.time,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        """``issuer`` is the provider's; the endpoint is found by discovery
        unless ``introspection_endpoint`` names it."""
        if not issuer or not client_id or not client_secret:
            raise ValueError("issuer, client_id and client_secret are required")
        if cache_size < 0 or cache_seconds < 0:
            raise ValueError("cache_size and cache_seconds cannot be negative")
        self.issuer = issuer
        self.client_id = client_id
        self._endpoint = introspection_endpoint
        self._authorization = basic_authorization(client_id, client_secret)
        self._http = http or requests.Session()
        self._timeout = timeout
        self._clock = clock
        self._cache_size = cache_size
        self._cache_seconds = cache_seconds
        self._cache: OrderedDict[bytes, tuple[float, Identity]] = OrderedDict()
        self._by_subject: dict[str, set[bytes]] = {}  # the cache's keys, by identity.subject
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Introspector({self.issuer!r}, client_id={self.client_id!r})"

    def introspect(self, token: str) -> Identity:
        """The identity an active access token speaks for, as the provider sees it now."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise InactiveToken()
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        cached = self._cached(key)
        if cached is not None:
            return cached
        identity = self._ask(token)
        self._remember(key, identity)
        return identity

    # The contract the Flask guard relies on, shared with TokenVerifier.
    verify_access_token = introspect

    def _ask(self, token: str) -> Identity:
        status, answer = request_json(
            self._http, "POST", self._introspection_endpoint(), what="introspection endpoint",
            timeout=self._timeout, data={"token": token, "token_type_hint": "access_token"},
            headers={"Authorization": self._authorization, "Accept": "application/json"})
        if status in (400, 401, 403):
            raise ProviderUnavailable(f"The introspection endpoint refused this service's "
                                      f"client credentials (HTTP {status}).")
        if status != 200 or not isinstance(answer, dict) \
                or not isinstance(answer.get("active"), bool):
            raise ProviderUnavailable(f"The introspection endpoint answered something else "
                                      f"than RFC 7662 (HTTP {status}).")
        if answer["active"] is not True:
            raise InactiveToken()
        if str(answer.get("token_type", "")).lower() not in BEARER_TOKEN_TYPES:
            raise WrongTokenType("A refresh token is not an access token.")
        if answer.get("iss", self.issuer) != self.issuer:
            raise WrongIssuer()
        return Identity.from_claims({**answer, "iss": self.issuer})

    def _introspection_endpoint(self) -> str:
        if self._endpoint is None:  # discovered once, then kept
            self._endpoint = endpoint(provider_metadata(self._http, self.issuer,
                                                        timeout=self._timeout),
                                      "introspection_endpoint")
        return self._endpoint

    def forget(self, subject: str) -> int:
        """Drop the cached answers about ``subject`` (a person's ``sub``), so
        that their next request asks the provider again; how many were dropped
        (those expired but not yet removed are removed, not counted)."""
        now = self._clock()
        with self._lock:
            keys = self._by_subject.pop(subject, ())
            return sum(self._cache.pop(key)[0] > now for key in keys)

    # -- the cache -------------------------------------------------------------------

    def _cached(self, key: bytes) -> Identity | None:
        with self._lock:
            entry = self._cache.get(key)
            if entry is None:
                return None
            until, identity = entry
            if self._clock() >= until:
                self._drop(key)
                return None
            self._cache.move_to_end(key)
            return identity

    def _remember(self, key: bytes, identity: Identity) -> None:
        until = min(self._clock() + self._cache_seconds, identity.expires_at)
        if self._cache_size == 0 or until <= self._clock():
            return
        with self._lock:
            if key in self._cache:  # answered twice meanwhile: the newer answer stays
                self._drop(key)
            self._cache[key] = (until, identity)
            self._by_subject.setdefault(identity.subject, set()).add(key)
            while len(self._cache) > self._cache_size:
                self._drop(next(iter(self._cache)))

    def _drop(self, key: bytes) -> None:
        """Remove one entry and its place in the subject index (under the lock)."""
        _, identity = self._cache.pop(key)
        keys = self._by_subject[identity.subject]
        keys.discard(key)
        if not keys:
            del self._by_subject[identity.subject]


__all__ = ["Introspector"]
