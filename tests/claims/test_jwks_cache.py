"""Discovery and the JWKS cache: the issuer is checked, the provider being down
or answering garbage fails closed (ProviderUnavailable), refetches are
rate-limited, a bad key in a good set is left out alone, and a key the
provider withdrew (revoked) is dropped once the key set is ``max_age`` old."""

from __future__ import annotations

import pytest

from claims import (
    ClaimsError,
    DisallowedAlgorithm,
    ProviderUnavailable,
    TokenVerifier,
    UnknownKey,
)
from claims.jwks import DEFAULT_MAX_AGE, parse_jwk
from claims.provider_metadata import MAX_DOCUMENT
from tests.claims.provider_double import AUDIENCE, SUBJECT, ProviderDouble, public

DISCOVERY = "/.well-known/openid-configuration"


def test_discovery_for_another_issuer_is_refused(provider_double, verifier, minter, keys):
    provider_double.discovery = {**provider_double.metadata(),
                                 "issuer": "https://attacker.example"}
    with pytest.raises(ProviderUnavailable) as refused:
        verifier.verify_access_token(minter.access(keys.ec))
    assert isinstance(refused.value, ClaimsError) and "another issuer" in str(refused.value)
    assert provider_double.hits["/jwks.json"] == 0  # its jwks_uri was never used


BROKEN_DISCOVERY = {
    "html": lambda url: b"<html>maintenance</html>",
    "array": lambda url: [],
    "no-issuer": lambda url: {"jwks_uri": f"{url}/jwks.json"},
    "no-jwks-uri": lambda url: {"issuer": url},
    "relative-uri": lambda url: {"issuer": url, "jwks_uri": "/jwks.json"},
    "number": lambda url: {"issuer": url, "jwks_uri": 7},
    "file-uri": lambda url: {"issuer": url, "jwks_uri": "file:///etc/passwd"},
}


@pytest.mark.parametrize("broken", sorted(BROKEN_DISCOVERY))
def test_a_broken_discovery_document(provider_double, verifier, minter, keys, broken):
    provider_double.discovery = BROKEN_DISCOVERY[broken](provider_double.url)
    with pytest.raises(ProviderUnavailable):
        verifier.verify_access_token(minter.access(keys.ec))


def test_discovery_happens_once_and_not_at_all_with_a_jwks_uri(provider_double, minter, keys,
                                                               clock):
    discovered = TokenVerifier(provider_double.url, audience=AUDIENCE, clock=clock)
    for _ in range(3):
        discovered.verify_access_token(minter.access(keys.ec))
        discovered.verify_access_token(minter.access(keys.rsa))
    assert provider_double.hits[DISCOVERY] == 1 and provider_double.hits["/jwks.json"] == 1
    direct = TokenVerifier(provider_double.url, audience=AUDIENCE, clock=clock,
                           jwks_uri=f"{provider_double.url}/jwks.json")
    direct.verify_access_token(minter.access(keys.ec))
    assert provider_double.hits[DISCOVERY] == 1 and provider_double.hits["/jwks.json"] == 2


def test_provider_down_fails_closed(provider_double, verifier, minter, keys, clock):
    provider_double.stop()
    token = minter.access(keys.ec)
    with pytest.raises(ProviderUnavailable) as refused:
        verifier.verify_access_token(token)
    assert refused.value.code == "temporarily_unavailable"
    # Still down, within the interval: no new attempt, and still not a 401.
    with pytest.raises(ProviderUnavailable):
        verifier.verify_access_token(token)


def test_recovery_after_the_provider_comes_back(keys, minter, clock):
    down = ProviderDouble()
    down.jwks_status = 503
    verifier = TokenVerifier(minter.issuer, audience=AUDIENCE, clock=clock,
                             jwks_uri=f"{down.url}/jwks.json")
    try:
        with pytest.raises(ProviderUnavailable):
            verifier.verify_access_token(minter.access(keys.ec))
        down.jwks_status = 200
        down.publish(keys.ec)
        clock.advance(10)
        with pytest.raises(ProviderUnavailable):  # backing off: not asked again yet
            verifier.verify_access_token(minter.access(keys.ec))
        assert down.hits["/jwks.json"] == 1
        clock.advance(20)
        assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    finally:
        down.stop()


def test_known_keys_keep_working_while_the_provider_is_down(provider_double, verifier, minter,
                                                            keys, clock):
    verifier.verify_access_token(minter.access(keys.ec))
    provider_double.stop()
    clock.advance(3600)
    assert verifier.verify_access_token(minter.access(keys.rsa)).subject == SUBJECT
    # An unknown kid needs the provider: it cannot be told apart from a new key.
    with pytest.raises(ProviderUnavailable):
        verifier.verify_access_token(minter.access(keys.attacker))
    clock.advance(5)
    with pytest.raises(ProviderUnavailable):  # silenced after the failure, still fail closed
        verifier.verify_access_token(minter.access(keys.attacker))


@pytest.mark.parametrize(("status", "body"), [
    (200, b"not json"), (200, b"[]"), (200, b'{"keys": "none"}'), (200, b"\xff\xfe"),
    (500, b'{"keys": []}'), (404, b'{"keys": []}'), (302, b""),
    (200, b'{"keys": [' + b" " * MAX_DOCUMENT + b"]}"),
], ids=["text", "array", "keys-not-list", "not-utf8", "500", "404", "redirect", "huge"])
def test_a_jwks_that_is_garbage(provider_double, verifier, minter, keys, status, body):
    provider_double.jwks, provider_double.jwks_status = body, status
    with pytest.raises(ProviderUnavailable):
        verifier.verify_access_token(minter.access(keys.ec))


def test_the_refetch_rate_limit(provider_double, verifier, minter, keys, clock):
    verifier.verify_access_token(minter.access(keys.ec))
    forged = [minter.access(keys.attacker, jti=str(n)) for n in range(50)]
    for second in range(90):  # a forged kid every second for 90 s
        with pytest.raises(UnknownKey):
            verifier.verify_access_token(forged[second % 50])
        clock.advance(1)
    # The initial fetch, then one per 30-second interval.
    assert provider_double.hits["/jwks.json"] == 1 + 3


def test_a_withdrawn_key_is_dropped_at_the_first_token_after_max_age(provider_double, verifier,
                                                                    minter, keys, clock):
    """The provider revoked its EC key: it left the JWKS. No token names an
    unknown kid (the RSA key stays), yet the EC key must stop verifying."""
    assert DEFAULT_MAX_AGE == 300  # the provider's JWKS Cache-Control max-age
    assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    provider_double.publish(keys.rsa)
    clock.advance(DEFAULT_MAX_AGE - 1)  # the documented bound: still trusted until then
    assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    assert provider_double.hits["/jwks.json"] == 1
    clock.advance(1)
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.ec))
    assert verifier.verify_access_token(minter.access(keys.rsa)).subject == SUBJECT
    assert provider_double.hits["/jwks.json"] == 2
    clock.advance(1)
    with pytest.raises(UnknownKey):  # gone for good, without a fetch per token
        verifier.verify_access_token(minter.access(keys.ec))
    assert provider_double.hits["/jwks.json"] == 2


def test_the_refresh_bound_is_a_setting(provider_double, minter, keys, clock):
    verifier = TokenVerifier(provider_double.url, audience=AUDIENCE, clock=clock,
                             jwks_max_age=60)
    verifier.verify_access_token(minter.access(keys.ec))
    provider_double.publish(keys.rsa)
    clock.advance(60)
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.ec))
    with pytest.raises(ValueError, match="jwks_max_age cannot be negative"):
        TokenVerifier(provider_double.url, audience=AUDIENCE, jwks_max_age=-1)


def test_a_failed_refresh_keeps_the_known_keys_and_is_tried_again(provider_double, verifier,
                                                                  minter, keys, clock):
    verifier.verify_access_token(minter.access(keys.ec))
    provider_double.jwks_status = 503
    clock.advance(DEFAULT_MAX_AGE)
    assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    assert provider_double.hits["/jwks.json"] == 2  # the refresh was tried
    clock.advance(29)
    assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    assert provider_double.hits["/jwks.json"] == 2  # not again within refetch_interval
    with pytest.raises(ProviderUnavailable):  # an unknown kid still needs the provider
        verifier.verify_access_token(minter.access(keys.attacker))
    provider_double.jwks_status = 200
    provider_double.publish(keys.rsa)  # back, without the EC key
    clock.advance(1)
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.ec))
    assert provider_double.hits["/jwks.json"] == 3


def test_a_bad_key_in_a_good_set_is_left_out_alone(provider_double, verifier, minter, keys):
    small = public(keys.ec, kid="broken", x="AAAA")
    provider_double.jwks = {"keys": [small, "not a key", {"kty": "oct", "k": "c2VjcmV0",
                                                          "kid": "hmac"},
                                     public(keys.ec), public(keys.rsa, use="enc")]}
    assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    with pytest.raises(DisallowedAlgorithm):  # published for encryption only
        verifier.verify_access_token(minter.access(keys.rsa))
    assert provider_double.hits["/jwks.json"] == 1  # known, if unusable: no refetch


def test_a_kid_published_twice_is_used_for_neither(provider_double, verifier, minter, keys):
    provider_double.jwks = {"keys": [public(keys.ec), public(keys.ec_next, kid=keys.ec.kid)]}
    with pytest.raises(DisallowedAlgorithm):
        verifier.verify_access_token(minter.access(keys.ec))


@pytest.mark.parametrize(("jwk", "usable"), [
    ({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}, False),
    ({"kty": "EC", "crv": "P-384"}, False),
    ({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}, False),
    ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, False),  # far too short a modulus
    ({"kty": "RSA"}, False),
])
def test_jwks_members_that_make_a_key_unusable(jwk, usable):
    key = parse_jwk({**jwk, "kid": "k"})
    assert key is not None and (key.alg is not None) is usable and key.unusable


def test_an_ec_point_off_the_curve_is_unusable(keys):
    jwk = public(keys.ec)
    jwk["y"] = jwk["x"]  # (x, x) is not on P-256
    assert parse_jwk(jwk).alg is None


def test_key_ops_and_a_missing_kid(keys):
    assert parse_jwk(public(keys.ec, key_ops=["verify"])).alg == "ES256"
    assert parse_jwk(public(keys.ec, key_ops=["encrypt"])).alg is None
    assert parse_jwk({k: v for k, v in public(keys.ec).items() if k != "kid"}) is None
