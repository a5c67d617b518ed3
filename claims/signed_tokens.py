"""The provider's signed JWTs, read once for every kind of token the toolkit
verifies: the compact JWS (RFC 7515) with the provider's published keys, and
the registered claims (RFC 7519 §4.1). :class:`claims.TokenVerifier` (access
and ID tokens) and :class:`claims.LogoutTokenVerifier` (back-channel logout
tokens) are built on :class:`SignedTokenVerifier`, so each rule below is
written, and tested, once.

What is refused, and with which error (the rules "Algorithm allow-list",
"No key from the token" and "Explicit token types" of docs/security.md):
- not three base64url segments of JSON objects, or longer than 8 KiB → MalformedToken;
- ``alg`` outside the allow-list (``none``, HS256 keyed with our public key,
  anything but RS256/ES256) → DisallowedAlgorithm, before any key is touched;
- ``jku``, ``x5u``, ``jwk``, ``x5c`` (a key named or carried by the token) and
  ``crit`` (extensions we do not implement, RFC 7515 §4.1.11) → MalformedToken;
- a ``typ`` that is not the kind of token asked for, or none where that kind
  must say what it is → WrongTokenType (RFC 8725 §3.11: a token of one kind
  is never taken for another);
- a kid the JWKS does not have (after a rate-limited refetch) → UnknownKey;
  a kid whose key is of another type than ``alg`` → DisallowedAlgorithm;
- then the signature (BadSignature), and only then the payload is parsed:
  ``iss`` (WrongIssuer), ``aud`` (WrongAudience), ``exp`` (ExpiredToken),
  ``nbf`` and ``iat`` in the future (NotYetValid), all with ``leeway`` seconds.

Why ``cryptography`` directly rather than joserfc (measured with
bench/verifier.py on this machine, 2048-bit RSA, same token, warm): joserfc's
decode plus its claims registry verifies RS256 at about 1.5x PyJWT's rate,
short of the 2x the issue asks; ``cryptography`` alone, on a cached key
object, is about 3.5x. Around that one call we spend ~15 µs: strict
base64url, the payload's JSON, the checks above; the header (the same text
in every token a key signs) is checked once and remembered. That gives about
2.2x PyJWT for RS256 (ES256 gains less, ~1.5x: its signature check is most
of the cost). The JWS compact form is small enough to do by hand, and every
rule is written out here, which makes them easy to audit.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from claims.errors import (
    DisallowedAlgorithm,
    ExpiredToken,
    MalformedToken,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from claims.jwks import DEFAULT_MAX_AGE, MAX_KID, JwksCache, b64url_decode
from claims.provider_metadata import DEFAULT_TIMEOUT

SUPPORTED_ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_TOKEN_LENGTH = 8192  # as the provider's own limit; bounds the work a garbage token costs
# A key must come from the provider's JWKS, never from the token; and an
# extension we do not implement must not be silently ignored.
REFUSED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
HEADER_CACHE_SIZE = 32  # distinct headers remembered: a few per published key
MAX_CACHED_HEADER = 512  # characters; ours are ~100


@dataclass(frozen=True, slots=True)
class TokenType:
    """The ``typ`` header values (lower case: media types are case-insensitive)
    of one kind of token. ``required``: a token of this kind must say so; else
    a token without ``typ`` is taken, one with another ``typ`` never.
    ``refusal`` is WrongTokenType's sentence, None for its own."""

    names: frozenset[str]
    required: bool
    refusal: str | None = None


class SignedTokenVerifier:
    """Signed JWTs of one issuer for one ``audience`` (this service's
    identifier; a web client's is its client_id), with the issuer's published
    keys. Thread-safe; build one per process and keep it (it caches the
    discovery document and the keys). The keys are fetched again when a token
    names an unknown kid (at most every ``refetch_interval`` seconds) and when
    they are older than ``jwks_max_age`` seconds: a key the provider withdrew,
    such as a revoked one, verifies here at most that long after (see
    :mod:`claims.jwks`)."""

    def __init__(self, issuer: str, *, audience: str,
                 algorithms: tuple[str, ...] = ("ES256", "RS256"), leeway: float = 60,
                 jwks_uri: str | None = None, http: requests.Session | None = None,
                 refetch_interval: float = 30.0, jwks_max_age: float = DEFAULT_MAX_AGE,
                 clock: Callable[[], float] = time.time,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        # Configuration is checked here, at start-up, not at the first request.
        if not isinstance(issuer, str) or not issuer:
            raise ValueError("issuer must be the provider's issuer URL")
        if not isinstance(audience, str) or not audience:
            raise ValueError("audience (a client's client_id) must be this service's "
                             "identifier")
        unsupported = set(algorithms) - SUPPORTED_ALGORITHMS
        if unsupported or not algorithms:
            raise ValueError(f"algorithms must be among {sorted(SUPPORTED_ALGORITHMS)}, "
                             f"not {sorted(unsupported) or 'empty'}")
        if leeway < 0 or refetch_interval < 0 or jwks_max_age < 0:
            raise ValueError("leeway, refetch_interval and jwks_max_age cannot be negative")
        self.issuer = issuer
        self.audience = audience
        self.algorithms = frozenset(algorithms)
        self.leeway = leeway
        self._clock = clock
        self._headers: dict[str, tuple[str, str, str | None]] = {}
        self._keys = JwksCache(issuer, jwks_uri=jwks_uri, http=http or requests.Session(),
                               refetch_interval=refetch_interval, max_age=jwks_max_age,
                               clock=clock, timeout=timeout)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.issuer!r}, audience={self.audience!r})"

    # -- the JWS --------------------------------------------------------------------

    def _verified(self, token: str, kind: TokenType) -> dict:
        """The payload of a compact JWS of ``kind`` whose header and signature we accept."""
        if type(token) is not str or len(token) > MAX_TOKEN_LENGTH:
            raise MalformedToken()
        parts = token.split(".")
        if len(parts) != 3:  # a JWE (five parts) or garbage
            raise MalformedToken("A signed JWT has three parts.")
        alg, kid, typ = self._headers.get(parts[0]) or self._header(parts[0])
        if (typ is not None or kind.required) and typ not in kind.names:
            raise WrongTokenType(kind.refusal)
        key = self._keys.key(kid)
        if key.alg != alg:
            raise DisallowedAlgorithm("The key the token names is not for its algorithm.")
        payload = b64url_decode(parts[1])  # all three segments are ASCII from here on
        key.verify(b64url_decode(parts[2]),
                   token[:len(parts[0]) + 1 + len(parts[1])].encode("ascii"))
        # Only now is the payload worth parsing: it is the provider's.
        return _json_object(payload, strict=False)

    def _header(self, segment: str) -> tuple[str, str, str | None]:
        """alg, kid and the lower-case typ ("" if not text) of an acceptable header.
        Every token signed by one key carries the same few headers, so the
        outcome is kept per header text (``self._headers``, looked up by the
        caller; bounded: a flood of distinct headers only stops the caching)."""
        checked = self._check_header(_json_object(b64url_decode(segment), strict=True))
        if len(self._headers) < HEADER_CACHE_SIZE and len(segment) <= MAX_CACHED_HEADER:
            self._headers[segment] = checked
        return checked

    def _check_header(self, header: dict) -> tuple[str, str, str | None]:
        if not header.keys().isdisjoint(REFUSED_HEADERS):
            raise MalformedToken("The token's header names its own key or extensions; "
                                 "only the provider's published keys are used.")
        alg = header.get("alg")
        if not isinstance(alg, str):
            raise MalformedToken("The token's header has no algorithm.")
        if alg not in self.algorithms:
            raise DisallowedAlgorithm()
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > MAX_KID:
            raise MalformedToken("The token's header does not name its key.")
        typ = header.get("typ")
        return alg, kid, (typ.lower() if isinstance(typ, str) else "") if typ is not None \
            else None

    # -- the registered claims --------------------------------------------------------

    def _check(self, claims: Mapping[str, Any], audience: str, *,
               iat_required: bool = False) -> None:
        if claims.get("iss") != self.issuer:
            raise WrongIssuer()
        aud = claims.get("aud")  # the type of its members is the caller's to check
        if aud != audience and (type(aud) is not list or audience not in aud):
            raise WrongAudience()
        now = self._clock()
        exp = claims.get("exp")
        if type(exp) not in _NUMBERS:  # type(): True is an int to isinstance
            raise MalformedToken("The token's 'exp' is missing or not a NumericDate.")
        if now - self.leeway >= exp:
            raise ExpiredToken()
        for name in ("nbf", "iat"):
            moment = claims.get(name)
            if moment is None and not (iat_required and name == "iat"):
                continue
            if type(moment) not in _NUMBERS:
                raise MalformedToken(f"The token's '{name}' is missing or not a NumericDate.")
            if moment > now + self.leeway:
                raise NotYetValid()


_NUMBERS = (int, float)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # Duplicate members would let two parsers read two different tokens (RFC 7515 §5.2).
    value = dict(pairs)
    if len(value) != len(pairs):
        raise ValueError("duplicate member")
    return value


# Built once: json.loads with options builds a decoder per call.
_STRICT_JSON = json.JSONDecoder(object_pairs_hook=_unique, parse_constant=_refuse_constant)
_JSON = json.JSONDecoder(parse_constant=_refuse_constant)


def _json_object(data: bytes, *, strict: bool) -> dict:
    """A JSON object in UTF-8 (RFC 7515 §5.2). ``strict`` refuses duplicate
    members: for the header, read before the signature is checked. The payload
    is read only once it is known to be the provider's, whose JSON encoder
    cannot write duplicates, so it is spared the slower check."""
    try:
        value = (_STRICT_JSON if strict else _JSON).decode(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise MalformedToken("The token's header or payload is not a JSON object.") from error
    if not isinstance(value, dict):
        raise MalformedToken("The token's header or payload is not a JSON object.")
    return value


__all__ = ["MAX_TOKEN_LENGTH", "SUPPORTED_ALGORITHMS", "SignedTokenVerifier", "TokenType"]
