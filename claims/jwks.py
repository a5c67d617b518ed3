"""The provider's signing keys (RFC 7517), parsed once, refetched on an unknown
kid and refreshed when older than ``max_age``.

Each published JWK becomes a ``cryptography`` public-key object bound to the
one algorithm it may verify: an RSA key (2048 bits or more) only RS256, an EC
P-256 key only ES256, and only if the JWK's own ``alg``, ``use`` and
``key_ops`` agree. A JWK we cannot use is remembered as unusable rather than
dropped, so that a token naming it is refused at once instead of making us
refetch (the rule "No key from the token" of docs/security.md: nothing in a
token can make us trust a key the provider did not publish).

Refetching (key rotation without downtime): the keys are fetched at the
first token, and again when a token names a kid we do not know. A fetch that
does not find the kid it was made for (a forged kid), or that fails, silences
fetching for ``refetch_interval`` seconds, so a stream of forged kids costs
the provider one request per interval. A genuine new key ends its fetch with
the key found, so rotation costs nothing; the provider publishing a key
before it signs with it makes sure the fetch finds it. While fetching is
silenced after a failure, an unknown kid is ProviderUnavailable (503), not
UnknownKey: we cannot tell whether the key is genuine.

Refreshing (a revoked key): every fetch replaces the whole set, and a set
older than ``max_age`` seconds (by default the provider's JWKS
``Cache-Control: max-age``, 300 s) is fetched again at the next token, so a
key the provider withdrew, such as a revoked one, is trusted at most
``max_age`` seconds after its withdrawal. If that refresh fails, the keys
already known go on verifying (a provider outage must not stop every relying
party), and it is tried again after ``refetch_interval``.
"""

from __future__ import annotations

import binascii
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import requests
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.hashes import SHA256

from claims.errors import BadSignature, MalformedToken, ProviderUnavailable, UnknownKey
from claims.provider_metadata import endpoint, fetch_json, provider_metadata

log = logging.getLogger("claims.jwks")
RSA_MIN_BITS = 2048  # RFC 7518 §3.3
P256_COORDINATE = 32  # bytes
MAX_KID = 256
DEFAULT_MAX_AGE = 300.0  # seconds: the provider's JWKS Cache-Control max-age

# base64url → base64, for binascii's strict decoder (which then refuses any
# character outside the alphabet); "+", "/" and "=" are refused before.
_TO_BASE64 = bytes.maketrans(b"-_", b"+/")
_PADDING = ("", "", "==", "=")
# The index of each base64url character, to check that unused trailing bits are zero.
_INDEX = {c: i for i, c in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")}
_PKCS1 = padding.PKCS1v15()
_SHA256 = SHA256()
_ECDSA = ec.ECDSA(_SHA256)


def b64url_decode(segment: str) -> bytes:
    """Strict base64url without padding (RFC 7515 §2): only the URL-safe
    alphabet, no ``=``, no impossible length, no stray bits in the last
    character; so a token has exactly one spelling."""
    rest = len(segment) % 4
    if "+" in segment or "/" in segment or "=" in segment or rest == 1 or (
            rest and _INDEX.get(segment[-1], 0) & (0x0F if rest == 2 else 0x03)):
        raise MalformedToken("The token is not base64url text.")
    try:
        return binascii.a2b_base64((segment + _PADDING[rest]).encode("ascii")
                                   .translate(_TO_BASE64), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error) as error:
        raise MalformedToken("The token is not base64url text.") from error


@dataclass(frozen=True)
class VerificationKey:
    """A published key and the one algorithm it verifies; ``alg`` is None when
    we cannot use it (``unusable`` then says why, for logs)."""

    kid: str
    alg: str | None
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey | None = None
    unusable: str = ""
    signature_length: int = 0  # bytes: the RSA modulus, or r || s for ES256

    def verify(self, signature: bytes, signing_input: bytes) -> None:
        if len(signature) != self.signature_length:
            raise BadSignature()
        try:
            if self.alg == "RS256":
                self.public_key.verify(signature, signing_input, _PKCS1, _SHA256)
            else:  # ES256: JWS carries raw r || s (RFC 7518 §3.4), cryptography wants DER
                r = int.from_bytes(signature[:P256_COORDINATE])
                s = int.from_bytes(signature[P256_COORDINATE:])
                self.public_key.verify(encode_dss_signature(r, s), signing_input, _ECDSA)
        except InvalidSignature as error:
            raise BadSignature() from error


def parse_jwk(jwk: dict) -> VerificationKey | None:
    """The key a JWK describes; None if it has no usable kid at all."""
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID:
        return None
    try:
        alg, public_key = _public_key(jwk)
    except (MalformedToken, ValueError, TypeError, KeyError) as error:
        return VerificationKey(kid, None, unusable=f"not a valid public key ({error})")
    declared = jwk.get("alg")
    if alg is None or (declared is not None and declared != alg):
        return VerificationKey(kid, None, unusable=f"no supported algorithm ({declared or '-'})")
    if jwk.get("use", "sig") != "sig":
        return VerificationKey(kid, None, unusable="not a signing key")
    ops = jwk.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or "verify" not in ops):
        return VerificationKey(kid, None, unusable="key_ops excludes verify")
    length = (public_key.key_size + 7) // 8 if alg == "RS256" else 2 * P256_COORDINATE
    return VerificationKey(kid, alg, public_key, signature_length=length)


def _public_key(jwk: dict):
    kty = jwk.get("kty")
    if kty == "RSA":
        n = int.from_bytes(_bytes_member(jwk, "n"))
        e = int.from_bytes(_bytes_member(jwk, "e"))
        if n.bit_length() < RSA_MIN_BITS:
            raise ValueError(f"RSA modulus shorter than {RSA_MIN_BITS} bits")
        return "RS256", rsa.RSAPublicNumbers(e, n).public_key()
    if kty == "EC" and jwk.get("crv") == "P-256":
        x, y = _bytes_member(jwk, "x"), _bytes_member(jwk, "y")
        if len(x) != P256_COORDINATE or len(y) != P256_COORDINATE:
            raise ValueError("P-256 coordinates are 32 bytes")
        # Raises ValueError for a point that is not on the curve.
        numbers = ec.EllipticCurvePublicNumbers(int.from_bytes(x), int.from_bytes(y),
                                                ec.SECP256R1())
        return "ES256", numbers.public_key()
    return None, None


def _bytes_member(jwk: dict, name: str) -> bytes:
    value = jwk.get(name)
    if not isinstance(value, str):
        raise ValueError(f"'{name}' is not base64url text")
    return b64url_decode(value)


def parse_jwks(document: dict) -> dict[str, VerificationKey]:
    """kid → key. A malformed set is ProviderUnavailable; a malformed key in a
    good set is only unusable (one bad key must not take the others down)."""
    keys = document.get("keys")
    if not isinstance(keys, list):
        raise ProviderUnavailable("The JWKS has no list of keys.")
    parsed: dict[str, VerificationKey] = {}
    for jwk in keys:
        key = parse_jwk(jwk) if isinstance(jwk, dict) else None
        if key is None:
            continue
        if key.kid in parsed:  # two keys, one kid: which is meant cannot be known
            key = VerificationKey(key.kid, None, unusable="kid published twice")
        if key.alg is None:
            log.info("the provider's key %r is not used: %s", key.kid, key.unusable)
        parsed[key.kid] = key
    return parsed


class JwksCache:
    """The provider's keys by kid; thread-safe (one fetch at a time)."""

    def __init__(self, issuer: str, *, jwks_uri: str | None, http: requests.Session,
                 refetch_interval: float, clock: Callable[[], float], timeout: float,
                 max_age: float = DEFAULT_MAX_AGE) -> None:
        self._issuer = issuer
        self._jwks_uri = jwks_uri
        self._http = http
        self._interval = refetch_interval
        self._max_age = max_age
        self._clock = clock
        self._timeout = timeout
        self._keys: dict[str, VerificationKey] = {}
        self._fresh_until = float("-inf")  # the keys serve without a fetch until then
        self._quiet_until = float("-inf")  # no fetch before this time
        self._last_failure: ProviderUnavailable | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> VerificationKey:
        # The dictionary is replaced, never changed, so reading it needs no lock.
        found = self._keys.get(kid)
        if found is not None and self._clock() < self._fresh_until:
            return found
        return self._refetch_for(kid)

    def _refetch_for(self, kid: str) -> VerificationKey:
        with self._lock:
            now = self._clock()
            found = self._keys.get(kid)
            if found is not None and now < self._fresh_until:
                return found  # another thread has just fetched
            if now < self._quiet_until:
                if found is not None:
                    return found  # due for a refresh, but fetching is silenced a while
                if self._last_failure is not None:
                    raise ProviderUnavailable(self._last_failure.message) from self._last_failure
                raise UnknownKey()
            try:
                keys = parse_jwks(fetch_json(self._http, self._jwks_location(),
                                             what="provider's JWKS", timeout=self._timeout))
            except ProviderUnavailable as failure:
                self._last_failure, self._quiet_until = failure, now + self._interval
                if found is None:
                    raise
                # A refresh of keys we have: they go on serving until the next try.
                log.warning("the provider's JWKS could not be refreshed, the keys fetched "
                            "before are used until the next try: %s", failure.message)
                self._fresh_until = self._quiet_until
                return found
            # Replaced, not merged: a key the provider withdrew is gone from here too.
            self._keys, self._fresh_until = keys, now + self._max_age
            self._last_failure = None
            found = self._keys.get(kid)
            if found is None:  # a fetch spent on a kid nobody published
                self._quiet_until = now + self._interval
                raise UnknownKey()
            return found

    def _jwks_location(self) -> str:
        if self._jwks_uri is None:  # discovered once, then kept
            metadata = provider_metadata(self._http, self._issuer, timeout=self._timeout)
            self._jwks_uri = endpoint(metadata, "jwks_uri")
        return self._jwks_uri


__all__ = ["DEFAULT_MAX_AGE", "JwksCache", "VerificationKey", "b64url_decode", "parse_jwk",
           "parse_jwks"]
