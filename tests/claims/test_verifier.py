"""TokenVerifier against a provider double on loopback ("Algorithm allow-list",
"No key from the token", "Explicit token types" and "Refetch on an unknown kid,
rate-limited" in docs/security.md): the genuine token is accepted; each forged
or misused token is refused with its own error class."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from claims import (
    DisallowedAlgorithm,
    ExpiredToken,
    Identity,
    InvalidToken,
    MalformedToken,
    NotYetValid,
    TokenVerifier,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from claims.vocabulary import CustomerType, Role
from tests.claims.provider_double import (
    AUDIENCE,
    CLIENT_ID,
    SUBJECT,
    Minter,
    b64,
    header_of,
)

# -- the genuine token --------------------------------------------------------------

def test_a_valid_token_gives_the_identity_with_its_customer_claims(verifier, minter, key):
    identity = verifier.verify_access_token(minter.access(key))
    assert isinstance(identity, Identity)
    assert identity.subject == SUBJECT and identity.client_id == CLIENT_ID
    assert identity.issuer == minter.issuer and identity.audience == (AUDIENCE,)
    assert identity.scopes == {"openid", "customer", "phone"}
    assert identity.expires_at == int(minter.clock()) + 300
    assert identity.customer_number == "123456789"
    assert identity.role is Role.USER and identity.customer_type is CustomerType.BUSINESS
    assert identity.entitlements == {"usage:own_mobile", "options:activate_free:own_mobile"}
    assert identity.phone_number == "+32470000002"
    assert identity.has("usage:own_mobile") and not identity.has("foot11")


def test_the_raw_claims_are_read_only_all_the_way_down(verifier, minter, keys):
    identity = verifier.verify_access_token(minter.access(keys.ec, amr={"pwd": [1, 2]}))
    assert identity.claims["jti"] == "family.random"
    assert identity.claims["entitlements"] == ("usage:own_mobile",
                                               "options:activate_free:own_mobile")
    with pytest.raises(TypeError):
        identity.claims["role"] = "administrator"
    with pytest.raises(TypeError):
        identity.claims["amr"]["pwd"] = []
    assert identity.claims["amr"]["pwd"] == (1, 2)
    with pytest.raises(AttributeError):
        identity.role = Role.ADMINISTRATOR
    assert "123456789" not in repr(identity.claims)  # names only: values are personal


def test_a_token_without_customer_claims_is_valid_and_grants_nothing(verifier, minter, keys):
    token = minter.access(keys.ec, scope="openid", customer_number=None, role=None,
                          customer_type=None, entitlements=None, phone_number=None)
    identity = verifier.verify_access_token(token)
    assert identity.customer_number is identity.role is identity.customer_type is None
    assert identity.entitlements == frozenset() and identity.phone_number is None


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt"])
def test_the_access_token_type_in_any_case(verifier, minter, keys, typ):
    assert verifier.verify_access_token(minter.access(keys.ec, typ=typ)).subject == SUBJECT


def test_an_audience_among_several(verifier, minter, keys):
    token = minter.access(keys.ec, aud=["https://other.example", AUDIENCE])
    assert verifier.verify_access_token(token).audience == ("https://other.example", AUDIENCE)
    assert verifier.verify_access_token(minter.access(keys.ec, aud=AUDIENCE)).audience == \
        (AUDIENCE,)


def test_the_hand_signer_of_these_tests_makes_acceptable_tokens(verifier, minter, key):
    # So that the refusals below are due to what is forged, not to the signer.
    token = Minter.forge(header_of(key), minter.claims(), key)
    assert verifier.verify_access_token(token).subject == SUBJECT


# -- algorithms -----------------------------------------------------------------------

@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none(verifier, minter, keys, alg):
    token = f"{b64(json.dumps(header_of(keys.ec, alg=alg)).encode())}." \
            f"{b64(json.dumps(minter.claims()).encode())}."
    with pytest.raises(DisallowedAlgorithm):
        verifier.verify_access_token(token)


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_hs256_keyed_with_the_public_key(verifier, minter, provider_double, key, form):
    if form == "pem":
        secret = key.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    else:
        secret = json.dumps(key.as_dict(private=False)).encode()
    signing_input = (f"{b64(json.dumps(header_of(key, alg='HS256')).encode())}."
                     f"{b64(json.dumps(minter.claims()).encode())}")
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    with pytest.raises(DisallowedAlgorithm):
        verifier.verify_access_token(f"{signing_input}.{b64(mac)}")
    assert provider_double.hits["/jwks.json"] == 0  # refused before any key was looked up


@pytest.mark.parametrize("algorithms", [("HS256",), ("ES256", "none"), ("PS256",), ()])
def test_only_rs256_and_es256_can_be_allowed(provider_double, algorithms):
    with pytest.raises(ValueError, match="algorithms"):
        TokenVerifier(provider_double.url, audience=AUDIENCE, algorithms=algorithms)


def test_an_algorithm_left_out_of_the_allow_list(provider_double, minter, keys, clock):
    es256_only = TokenVerifier(provider_double.url, audience=AUDIENCE, algorithms=("ES256",),
                               clock=clock)
    assert es256_only.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    with pytest.raises(DisallowedAlgorithm):
        es256_only.verify_access_token(minter.access(keys.rsa))


def test_an_rsa_key_named_with_es256(verifier, minter, provider_double, keys):
    # The attacker signs with an EC key of his own and names our RSA key.
    token = Minter.forge({"alg": "ES256", "kid": keys.rsa.kid, "typ": "at+jwt"},
                         minter.claims(), keys.attacker)
    with pytest.raises(DisallowedAlgorithm):
        verifier.verify_access_token(token)
    verifier.verify_access_token(minter.access(keys.rsa))  # the key itself is fine
    assert provider_double.hits["/jwks.json"] == 1  # a known kid: no refetch


def test_a_key_is_used_only_with_its_own_alg_member(provider_double, verifier, minter, keys):
    provider_double.publish(keys.ec, alg="ES384")
    with pytest.raises(DisallowedAlgorithm):
        verifier.verify_access_token(minter.access(keys.ec))


# -- keys the token brings or names ----------------------------------------------------

def key_bringing_headers(url: str, attacker_jwk: dict) -> dict[str, dict]:
    return {"jku": {"jku": f"{url}/attacker/jwks.json"},
            "x5u": {"x5u": f"{url}/attacker/cert.pem"},
            "jwk": {"jwk": attacker_jwk},
            "x5c": {"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]},
            "crit": {"crit": ["exp"], "exp": 1}}


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c", "crit"])
@pytest.mark.parametrize("signer", ["attacker", "ours"])
def test_headers_that_bring_their_own_key(verifier, minter, provider_double, keys, member,
                                          signer):
    key = keys.attacker if signer == "attacker" else keys.ec
    members = key_bringing_headers(provider_double.url,
                                   keys.attacker.as_dict(private=False))[member]
    token = Minter.forge(header_of(key, **members), minter.claims(), key)
    with pytest.raises(MalformedToken):
        verifier.verify_access_token(token)
    assert not any(path.startswith("/attacker") for path in provider_double.hits)


def test_an_unknown_kid_refetches_once_then_is_refused(verifier, minter, provider_double,
                                                       keys, clock):
    verifier.verify_access_token(minter.access(keys.ec))
    assert provider_double.hits["/jwks.json"] == 1
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.attacker))
    assert provider_double.hits["/jwks.json"] == 2  # one refetch
    forged = Minter.forge(header_of(keys.attacker, kid="another-forged-kid"), minter.claims(),
                          keys.attacker)
    clock.advance(29)
    for _ in range(20):
        with pytest.raises(UnknownKey):
            verifier.verify_access_token(forged)
    assert provider_double.hits["/jwks.json"] == 2  # within the interval: none
    clock.advance(2)
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(forged)
    assert provider_double.hits["/jwks.json"] == 3
    assert provider_double.hits["/.well-known/openid-configuration"] == 1


def test_concurrent_unknown_kids_make_one_refetch(verifier, minter, provider_double, keys):
    verifier.verify_access_token(minter.access(keys.ec))
    forged = minter.access(keys.attacker)
    errors = []

    def attack():
        try:
            verifier.verify_access_token(forged)
        except InvalidToken as error:
            errors.append(error)

    threads = [threading.Thread(target=attack) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 16 and all(isinstance(e, UnknownKey) for e in errors)
    assert provider_double.hits["/jwks.json"] == 2


def test_key_rotation(verifier, minter, provider_double, keys, clock):
    assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT
    # The provider publishes the next key and signs with it.
    provider_double.publish(keys.rsa, keys.ec, keys.ec_next)
    clock.advance(31)
    assert verifier.verify_access_token(minter.access(keys.ec_next)).subject == SUBJECT
    assert verifier.verify_access_token(minter.access(keys.ec)).subject == SUBJECT  # old too
    # The old key is withdrawn; the next unknown kid's refetch drops it.
    provider_double.publish(keys.ec_next)
    clock.advance(31)
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.attacker))
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.ec))


def test_a_new_key_is_fetched_at_once(verifier, minter, provider_double, keys):
    verifier.verify_access_token(minter.access(keys.ec))
    provider_double.publish(keys.ec, keys.ec_next)
    assert verifier.verify_access_token(minter.access(keys.ec_next)).subject == SUBJECT
    provider_double.publish(keys.ec, keys.ec_next, keys.rsa)  # a fetch that found its key
    assert verifier.verify_access_token(minter.access(keys.rsa)).subject == SUBJECT  # ... does
    assert provider_double.hits["/jwks.json"] == 3                # not silence the next one


def test_a_new_key_right_after_a_forged_kid_waits_for_the_interval(verifier, minter,
                                                                  provider_double, keys, clock):
    # The price of the rate limit: a forged kid silences fetching for the
    # interval, and a key published meanwhile waits for it.
    verifier.verify_access_token(minter.access(keys.ec))
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.attacker))
    provider_double.publish(keys.ec, keys.ec_next)
    with pytest.raises(UnknownKey):
        verifier.verify_access_token(minter.access(keys.ec_next))
    clock.advance(30)
    assert verifier.verify_access_token(minter.access(keys.ec_next)).subject == SUBJECT
    assert provider_double.hits["/jwks.json"] == 3


# -- the claims -------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "error"), [
    ({"iss": "https://attacker.example"}, WrongIssuer),
    ({"iss": None}, WrongIssuer),
    ({"aud": ["https://other.example"]}, WrongAudience),
    ({"aud": "https://other.example"}, WrongAudience),
    ({"aud": None}, WrongAudience),
    ({"sub": None}, MalformedToken),
    ({"sub": 42}, MalformedToken),
    ({"client_id": None}, MalformedToken),
    ({"exp": None}, MalformedToken),
    ({"exp": "tomorrow"}, MalformedToken),
    ({"exp": True}, MalformedToken),
    ({"nbf": "soon"}, MalformedToken),
    ({"role": "owner"}, MalformedToken),
    ({"role": "Administrator"}, MalformedToken),
    ({"role": ["administrator"]}, MalformedToken),
    ({"customer_type": "government"}, MalformedToken),
    ({"customer_number": "12345678"}, MalformedToken),
    ({"customer_number": "１２３４５６７８９"}, MalformedToken),
    ({"entitlements": "foot11"}, MalformedToken),
    ({"entitlements": ["foot11", 11]}, MalformedToken),
    ({"scope": ["openid"]}, MalformedToken),
    ({"aud": [AUDIENCE, 7]}, MalformedToken),
])
def test_claims_that_are_refused(verifier, minter, keys, overrides, error):
    with pytest.raises(error):
        verifier.verify_access_token(minter.access(keys.ec, **overrides))


def test_expiry_with_leeway(verifier, minter, keys, clock):
    token = minter.access(keys.ec, exp=int(clock()) + 10)
    clock.advance(69)
    assert verifier.verify_access_token(token).subject == SUBJECT  # 59 s late: within leeway
    clock.advance(1)
    with pytest.raises(ExpiredToken):
        verifier.verify_access_token(token)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_not_yet_valid_beyond_leeway(verifier, minter, keys, clock, claim):
    now = int(clock())
    assert verifier.verify_access_token(minter.access(keys.ec, **{claim: now + 60})).subject
    with pytest.raises(NotYetValid):
        verifier.verify_access_token(minter.access(keys.ec, **{claim: now + 61}))


def test_an_id_token_is_not_an_access_token(verifier, minter, keys):
    id_token = minter.access(keys.rsa, typ="JWT", aud=[AUDIENCE])
    with pytest.raises(WrongTokenType):
        verifier.verify_access_token(id_token)
    with pytest.raises(WrongTokenType):
        verifier.verify_access_token(minter.access(keys.rsa, typ=None))
