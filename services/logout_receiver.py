"""Receiving logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6).

The provider POSTs a ``logout_token``: a JWT it signed, about one provider
session (``sid``) and/or one person (``sub``). We check, in this order:

- the JWS header: ``alg`` in the allow-list (RS256, ES256), a ``kid``, the
  explicit type ``logout+jwt`` (§2.4: so that no other JWT of the provider,
  an ID token above all, can be replayed here), none of the headers that
  would name a key outside the provider's JWKS (``jku``, ``jwk``, ``x5u``,
  ``x5c``) nor ``crit``;
- the signature, with the key of that kid from the provider's JWKS
  (``claims.jwks.JwksCache``: the kid's key type must match ``alg``);
- the claims (§2.4): ``iss`` ours, ``aud`` this client (a string or a list),
  ``iat`` and ``exp`` numbers with ``exp`` not passed, a ``jti``, a ``sid``
  and/or ``sub``, ``events`` an object with the back-channel logout event
  (an object), and no ``nonce`` (§2.4: forbidden, so that an ID token, which
  may carry one, is never taken for a logout token).

A ``jti`` seen before (until its ``exp``) is acknowledged but not acted on
again: a provider may retry a delivery, and a replayed token naming only
``sub`` must not end sessions that started after the logout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from claims.errors import (
    DisallowedAlgorithm,
    ExpiredToken,
    MalformedToken,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from claims.jwks import MAX_KID, JwksCache, b64url_decode

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPES = frozenset({"logout+jwt", "application/logout+jwt"})
ALGORITHMS = frozenset({"RS256", "ES256"})
REFUSED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
MAX_TOKEN_LENGTH = 8192
MAX_REMEMBERED = 10_000  # jtis; beyond, the oldest are forgotten


@dataclass(frozen=True)
class Logout:
    """What a verified logout token asks to end."""

    sid: str | None
    subject: str | None
    jti: str
    expires_at: float


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):  # RFC 7515 §5.2: two parsers must read one token
        raise ValueError("duplicate member")
    return value


def _json_object(data: bytes) -> dict:
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_unique)
    except (ValueError, RecursionError) as error:
        raise MalformedToken("The logout token is not a signed JWT of JSON objects.") from error
    if not isinstance(value, dict):
        raise MalformedToken("The logout token is not a signed JWT of JSON objects.")
    return value


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise MalformedToken(f"The logout token's '{name}' is not a string.")
    return value


class LogoutTokenVerifier:
    """Logout tokens of ``issuer`` for the client ``client_id``; thread-safe."""

    def __init__(self, issuer: str, client_id: str, keys: JwksCache, *, leeway: float = 60,
                 clock: Callable[[], float] = time.time) -> None:
        self.issuer, self.client_id, self.leeway = issuer, client_id, leeway
        self._keys = keys
        self._clock = clock
        self._seen: dict[str, float] = {}  # jti -> exp
        self._lock = threading.Lock()

    def verify(self, token: Any) -> Logout:
        """The logout a token asks for, or a claims.InvalidToken subclass."""
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise MalformedToken("A logout token is needed.")
        parts = token.split(".")
        if len(parts) != 3:
            raise MalformedToken("A logout token is a signed JWT (three parts).")
        alg, kid = self._check_header(_json_object(b64url_decode(parts[0])))
        payload = b64url_decode(parts[1])  # base64url: the segments are ASCII from here on
        key = self._keys.key(kid)  # UnknownKey, ProviderUnavailable
        if key.alg != alg:
            raise DisallowedAlgorithm("The key the logout token names is not for its algorithm.")
        key.verify(b64url_decode(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
        # Only now is the payload worth reading: it is the provider's.
        return self._check_claims(_json_object(payload))

    def first_time(self, logout: Logout) -> bool:
        """Remember the token's jti until it expires; False if it was seen."""
        now = self._clock()
        with self._lock:
            if len(self._seen) >= MAX_REMEMBERED:
                self._seen = {j: exp for j, exp in self._seen.items() if exp > now}
                while len(self._seen) >= MAX_REMEMBERED:
                    del self._seen[next(iter(self._seen))]
            if logout.jti in self._seen:
                return False
            self._seen[logout.jti] = logout.expires_at + self.leeway
            return True

    @staticmethod
    def _check_header(header: dict) -> tuple[str, str]:
        if not header.keys().isdisjoint(REFUSED_HEADERS):
            raise MalformedToken("The logout token's header names its own key or extensions.")
        alg, kid, typ = header.get("alg"), header.get("kid"), header.get("typ")
        if alg not in ALGORITHMS:
            raise DisallowedAlgorithm()
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID:
            raise MalformedToken("The logout token's header does not name its key.")
        if not isinstance(typ, str) or typ.lower() not in LOGOUT_TOKEN_TYPES:
            raise WrongTokenType("Only a logout token (typ logout+jwt) is accepted here.")
        return alg, kid

    def _check_claims(self, claims: dict) -> Logout:
        if claims.get("iss") != self.issuer:
            raise WrongIssuer()
        aud = claims.get("aud")
        if aud != self.client_id and not (isinstance(aud, list) and self.client_id in aud):
            raise WrongAudience()
        now = self._clock()
        iat, exp = claims.get("iat"), claims.get("exp")
        if type(iat) not in (int, float) or type(exp) not in (int, float):
            raise MalformedToken("The logout token's 'iat' or 'exp' is missing.")
        if iat > now + self.leeway:
            raise NotYetValid()
        if now - self.leeway >= exp:
            raise ExpiredToken()
        jti, sid, subject = _text(claims, "jti"), _text(claims, "sid"), _text(claims, "sub")
        if jti is None:
            raise MalformedToken("The logout token has no 'jti'.")
        if sid is None and subject is None:
            raise MalformedToken("The logout token names neither a session nor a person.")
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(events.get(LOGOUT_EVENT), dict):
            raise MalformedToken("The token does not carry the back-channel logout event.")
        if "nonce" in claims:
            raise MalformedToken("A logout token never carries a nonce.")
        return Logout(sid, subject, jti, float(exp))


__all__ = ["LOGOUT_EVENT", "Logout", "LogoutTokenVerifier"]
