"""Verifying Keyholder's JWTs in a relying party: access tokens (RFC 9068) and
ID tokens (OIDC Core §3.1.3.7), with the provider's keys from its JWKS.

    verifier = TokenVerifier("https://id.example", audience="https://api.example")
    identity = verifier.verify_access_token(token)   # or an InvalidToken subclass

What is refused, and with which error (SECURITY §2.22):
- not three base64url segments of JSON objects, or longer than 8 KiB → MalformedToken;
- ``alg`` outside the allow-list (``none``, HS256 keyed with our public key,
  anything but RS256/ES256) → DisallowedAlgorithm, before any key is touched;
- ``jku``, ``x5u``, ``jwk``, ``x5c`` (a key named or carried by the token) and
  ``crit`` (extensions we do not implement, RFC 7515 §4.1.11) → MalformedToken;
- a kid the JWKS does not have (after a rate-limited refetch) → UnknownKey;
  a kid whose key is of another type than ``alg`` → DisallowedAlgorithm;
- an access token without ``typ: at+jwt``, or an ID token with it → WrongTokenType
  (RFC 9068 §4: an ID token is never taken for an access token);
- then the signature (BadSignature), and only then the payload is parsed:
  ``iss`` (WrongIssuer), ``aud`` (WrongAudience), ``exp`` (ExpiredToken),
  ``nbf`` and ``iat`` in the future (NotYetValid), all with ``leeway`` seconds.

Why ``cryptography`` directly rather than joserfc (measured with
bench/verifier.py on this machine, 2048-bit RSA, same token, warm): joserfc's
decode plus its claims registry verifies RS256 at about 1.5x PyJWT's rate,
short of the 2x the issue asks; ``cryptography`` alone, on a cached key
object, is about 3.5x. Around that one call we spend ~15 µs: strict
base64url, the payload's JSON, the checks above and the Identity; the header
(the same text in every token a key signs) is checked once and remembered.
That gives about 2.2x PyJWT for RS256 (ES256 gains less, ~1.5x: its
signature check is most of the cost). The JWS compact form is small enough to
do by hand, and every rule is written out here, which makes them easy to audit.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

import requests

from claims.discovery import DEFAULT_TIMEOUT
from claims.errors import (
    DisallowedAlgorithm,
    ExpiredToken,
    MalformedToken,
    NotYetValid,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    WrongTokenType,
)
from claims.identity import Identity
from claims.jwks import DEFAULT_MAX_AGE, MAX_KID, JwksCache, b64url_decode

SUPPORTED_ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_TOKEN_LENGTH = 8192  # as the provider's own limit; bounds the work a garbage token costs
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})  # RFC 9068 §2.1, §4
ID_TOKEN_TYPES = frozenset({"jwt", "application/jwt"})
# A key must come from the provider's JWKS, never from the token; and an
# extension we do not implement must not be silently ignored.
REFUSED_HEADERS = frozenset({"jku", "x5u", "jwk", "x5c", "crit"})
HEADER_CACHE_SIZE = 32  # distinct headers remembered: a few per published key
MAX_CACHED_HEADER = 512  # characters; ours are ~100


class TokenVerifier:
    """Verifies tokens of one issuer for one audience. Thread-safe; build one
    per process and keep it (it caches the discovery document and the keys).
    The keys are fetched again when a token names an unknown kid (at most
    every ``refetch_interval`` seconds) and when they are older than
    ``jwks_max_age`` seconds: a key the provider withdrew, such as a revoked
    one, verifies here at most that long after (see :mod:`claims.jwks`)."""

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
            raise ValueError("audience must be this service's identifier")
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
        return f"TokenVerifier({self.issuer!r}, audience={self.audience!r})"

    def verify_access_token(self, token: str) -> Identity:
        """The identity an RFC 9068 access token for our audience speaks for."""
        claims = self._verified(token, ACCESS_TOKEN_TYPES, typ_required=True)
        self._check(claims, self.audience)
        return Identity.from_claims(claims)

    def verify_id_token(self, token: str, *, client_id: str,
                        nonce: str | None = None) -> Identity:
        """An ID token received by the web client ``client_id`` (OIDC Core §3.1.3.7).
        Give the ``nonce`` of the authentication request to check it."""
        claims = self._verified(token, ID_TOKEN_TYPES, typ_required=False)
        self._check(claims, client_id, iat_required=True)
        azp = claims.get("azp")
        if azp is not None and azp != client_id:  # §3.1.3.7 (5)
            raise WrongAudience("The ID token was issued to another client.")
        if nonce is not None:
            presented = claims.get("nonce")
            if not isinstance(presented, str) or not hmac.compare_digest(
                    presented.encode("utf-8", "surrogatepass"), nonce.encode()):
                raise WrongNonce()
        return Identity.from_claims(claims, client_id=client_id)

    # -- the JWS --------------------------------------------------------------------

    def _verified(self, token: str, types: frozenset[str], *, typ_required: bool) -> dict:
        """The payload of a compact JWS whose header and signature we accept."""
        if type(token) is not str or len(token) > MAX_TOKEN_LENGTH:
            raise MalformedToken()
        parts = token.split(".")
        if len(parts) != 3:  # a JWE (five parts) or garbage
            raise MalformedToken("A signed JWT has three parts.")
        alg, kid, typ = self._headers.get(parts[0]) or self._header(parts[0])
        if (typ is not None or typ_required) and typ not in types:
            raise WrongTokenType()
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

    # -- the claims -----------------------------------------------------------------

    def _check(self, claims: Mapping[str, Any], audience: str, *,
               iat_required: bool = False) -> None:
        if claims.get("iss") != self.issuer:
            raise WrongIssuer()
        aud = claims.get("aud")  # its type is checked with the other claims, in Identity
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


__all__ = ["SUPPORTED_ALGORITHMS", "TokenVerifier"]
