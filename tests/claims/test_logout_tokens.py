"""LogoutTokenVerifier against a provider double on loopback (OpenID Connect
Back-Channel Logout 1.0 §2.4, §2.6; "Logout tokens are checked like any
token" and "Explicit token types" in docs/security.md): a genuine logout
token gives what to end; each forged or misused token, an ID token or an
access token above all, is refused with its own error class. Genuine tokens
are made with joserfc, forged headers with PyJWT, so neither is ours.
The service's end of it (HTTP, sessions, replays) is in
tests/services/test_backchannel_logout.py."""

from __future__ import annotations

import hashlib
import hmac
import json

import jwt as pyjwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jwt
from joserfc.jwk import ECKey

from claims import (
    BadSignature,
    DisallowedAlgorithm,
    ExpiredToken,
    LogoutToken,
    LogoutTokenVerifier,
    MalformedToken,
    NotYetValid,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongTokenType,
)
from tests.claims.provider_double import AUDIENCE, CLIENT_ID, SUBJECT, alg_of, b64

EVENT = "http://schemas.openid.net/event/backchannel-logout"  # written out, not imported
SID = "provider-session-1"


@pytest.fixture
def logout_verifier(provider_double, clock) -> LogoutTokenVerifier:
    return LogoutTokenVerifier(provider_double.url, client_id=CLIENT_ID, clock=clock, timeout=5)


def logout_claims(minter, **overrides) -> dict:
    """A logout token's claims for the client; an override of None removes the claim."""
    now = int(minter.clock())
    claims = {"iss": minter.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
              "jti": "logout-1", "sid": SID, "sub": SUBJECT, "events": {EVENT: {}}}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def logout_token(minter, key, *, typ: str | None = "logout+jwt", **overrides) -> str:
    """A logout token signed by joserfc, as the provider signs them."""
    header = {"alg": alg_of(key), "kid": key.kid}
    if typ is not None:
        header["typ"] = typ
    return jwt.encode(header, logout_claims(minter, **overrides), key, algorithms=[alg_of(key)],
                      default_type=None)  # else joserfc writes typ: JWT


def with_header(key, claims: dict, **members) -> str:
    """Signed by PyJWT with header members joserfc would refuse to write."""
    return pyjwt.encode(claims, key.private_key, algorithm=alg_of(key),
                        headers={"kid": key.kid, "typ": "logout+jwt", **members})


# -- the genuine token --------------------------------------------------------------

def test_a_logout_token_says_what_to_end(logout_verifier, minter, key):
    logout = logout_verifier.verify(logout_token(minter, key))
    now = int(minter.clock())
    assert logout == LogoutToken(sid=SID, subject=SUBJECT, jti="logout-1", issued_at=now,
                                 expires_at=now + 120)


@pytest.mark.parametrize(("sid", "sub"), [(SID, None), (None, SUBJECT)])
def test_a_session_or_a_person(logout_verifier, minter, keys, sid, sub):
    logout = logout_verifier.verify(logout_token(minter, keys.ec, sid=sid, sub=sub))
    assert (logout.sid, logout.subject) == (sid, sub)


@pytest.mark.parametrize("typ", ["logout+jwt", "LOGOUT+JWT", "application/logout+jwt"])
def test_the_logout_type_in_any_case_and_an_audience_among_several(logout_verifier, minter,
                                                                   keys, typ):
    token = logout_token(minter, keys.rsa, typ=typ, aud=["someone-else", CLIENT_ID])
    assert logout_verifier.verify(token).jti == "logout-1"


# -- another kind of token ----------------------------------------------------------

def test_an_id_token_or_an_access_token_is_not_a_logout_token(logout_verifier, minter, keys,
                                                             provider_double):
    id_token = minter.access(keys.rsa, typ="JWT", aud=[CLIENT_ID], client_id=None, nonce="n")
    access_token = minter.access(keys.ec, aud=[CLIENT_ID])
    untyped = logout_token(minter, keys.ec, typ=None)  # an ID token need not say what it is
    typed_jwt = logout_token(minter, keys.ec, typ="JWT")
    for token in (id_token, access_token, untyped, typed_jwt):
        with pytest.raises(WrongTokenType, match="typ logout\\+jwt"):
            logout_verifier.verify(token)
    assert provider_double.hits["/jwks.json"] == 0  # refused on its header, before any key


def test_a_logout_token_is_neither_an_access_token_nor_an_id_token(verifier, minter, keys):
    token = logout_token(minter, keys.ec, aud=[AUDIENCE, CLIENT_ID])
    with pytest.raises(WrongTokenType):
        verifier.verify_access_token(token)
    with pytest.raises(WrongTokenType):
        verifier.verify_id_token(token, client_id=CLIENT_ID)


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"events": None}, "back-channel logout event"),
    ({"events": {"urn:example:another-event": {}}}, "back-channel logout event"),
    ({"events": {EVENT: "yes"}}, "back-channel logout event"),
    ({"events": {EVENT: None}}, "back-channel logout event"),
    ({"events": [EVENT]}, "back-channel logout event"),
    ({"events": EVENT}, "back-channel logout event"),
    ({"nonce": "n-0S6"}, "never carries a nonce"),
], ids=["no events", "another event", "event a string", "event null", "events a list",
        "events a string", "a nonce"])
def test_without_the_logout_event_or_with_a_nonce(logout_verifier, minter, keys, overrides,
                                                  reason):
    with pytest.raises(WrongTokenType, match=reason):
        logout_verifier.verify(logout_token(minter, keys.ec, **overrides))


# -- the claims -------------------------------------------------------------------------

@pytest.mark.parametrize(("overrides", "error"), [
    ({"sid": None, "sub": None}, MalformedToken),
    ({"sid": "", "sub": None}, MalformedToken),
    ({"sub": 7}, MalformedToken),
    ({"sid": ["s"]}, MalformedToken),
    ({"jti": None}, MalformedToken),
    ({"jti": ""}, MalformedToken),
    ({"iat": None}, MalformedToken),
    ({"iat": "now"}, MalformedToken),
    ({"exp": None}, MalformedToken),
    ({"exp": True}, MalformedToken),
    ({"aud": [CLIENT_ID, 7]}, MalformedToken),
    ({"iss": "https://attacker.example"}, WrongIssuer),
    ({"iss": None}, WrongIssuer),
    ({"aud": "another-client"}, WrongAudience),
    ({"aud": ["another-client"]}, WrongAudience),
    ({"aud": None}, WrongAudience),
])
def test_claims_that_are_refused(logout_verifier, minter, keys, overrides, error):
    with pytest.raises(error):
        logout_verifier.verify(logout_token(minter, keys.ec, **overrides))


def test_the_provider_as_audience_is_refused(logout_verifier, minter, keys, provider_double):
    with pytest.raises(WrongAudience):
        logout_verifier.verify(logout_token(minter, keys.ec, aud=provider_double.url))


@pytest.mark.parametrize(("claim", "edge", "beyond", "error"), [
    ("exp", -59, -60, ExpiredToken), ("iat", 60, 61, NotYetValid), ("nbf", 60, 61, NotYetValid),
])
def test_times_with_leeway(logout_verifier, minter, keys, clock, claim, edge, beyond, error):
    """60 s of leeway for clocks, and not a second more."""
    now = int(clock())
    assert logout_verifier.verify(logout_token(minter, keys.ec, **{claim: now + edge}))
    with pytest.raises(error):
        logout_verifier.verify(logout_token(minter, keys.ec, **{claim: now + beyond}))


# -- signatures and keys ----------------------------------------------------------------

def test_a_bad_signature(logout_verifier, minter, keys, key):
    impostor = ECKey.generate_key("P-256", {"kid": keys.ec.kid}, private=True)
    with pytest.raises(BadSignature):
        logout_verifier.verify(logout_token(minter, impostor))  # our kid, another key
    header, _, signature = logout_token(minter, key, sid=None).split(".")
    widened = b64(json.dumps(logout_claims(minter, sid=None, sub="someone-else")).encode())
    with pytest.raises(BadSignature):
        logout_verifier.verify(f"{header}.{widened}.{signature}")


def test_an_unknown_kid(logout_verifier, minter, keys, provider_double):
    assert logout_verifier.verify(logout_token(minter, keys.ec))
    with pytest.raises(UnknownKey):
        logout_verifier.verify(logout_token(minter, keys.attacker))
    assert provider_double.hits["/jwks.json"] == 2  # one refetch for it, rate-limited after


def test_an_rsa_key_named_with_es256(logout_verifier, minter, keys):
    token = pyjwt.encode(logout_claims(minter), keys.attacker.private_key, algorithm="ES256",
                         headers={"kid": keys.rsa.kid, "typ": "logout+jwt"})
    with pytest.raises(DisallowedAlgorithm):
        logout_verifier.verify(token)


def test_alg_none_and_hs256_with_the_public_key(logout_verifier, minter, keys,
                                                provider_double):
    unsigned = pyjwt.encode(logout_claims(minter), None, algorithm="none",
                            headers={"kid": keys.rsa.kid, "typ": "logout+jwt"})
    secret = keys.rsa.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": keys.rsa.kid, "typ": "logout+jwt"}
    signing_input = f"{b64(json.dumps(header).encode())}." \
                    f"{b64(json.dumps(logout_claims(minter)).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()  # PyJWT refuses to
    for token in (unsigned, f"{signing_input}.{b64(mac)}"):
        with pytest.raises(DisallowedAlgorithm):
            logout_verifier.verify(token)
    assert provider_double.hits["/jwks.json"] == 0


@pytest.mark.parametrize("member", ["jku", "x5u", "jwk", "x5c", "crit"])
def test_a_header_that_brings_its_own_key(logout_verifier, minter, keys, provider_double,
                                          member):
    members = {"jku": {"jku": f"{provider_double.url}/attacker/jwks.json"},
               "x5u": {"x5u": f"{provider_double.url}/attacker/cert.pem"},
               "jwk": {"jwk": keys.attacker.as_dict(private=False)},
               "x5c": {"x5c": ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]},
               "crit": {"crit": ["exp"], "exp": 1}}[member]
    with pytest.raises(MalformedToken, match="names its own key"):
        logout_verifier.verify(with_header(keys.attacker, logout_claims(minter), **members))
    assert not any(path.startswith("/attacker") for path in provider_double.hits)
    assert provider_double.hits["/jwks.json"] == 0


@pytest.mark.parametrize("token", [None, "", 42, b"a.b.c"])
def test_no_token(logout_verifier, token):
    with pytest.raises(MalformedToken, match="A logout token is needed"):
        logout_verifier.verify(token)


@pytest.mark.parametrize("token", ["not.a.token", "a.b", "a.b.c.d.e", "e30.e30.e30"])
def test_garbage(logout_verifier, token):
    with pytest.raises(MalformedToken):
        logout_verifier.verify(token)


# -- configuration ------------------------------------------------------------------------

def test_an_algorithm_left_out_of_the_allow_list(provider_double, minter, keys, clock):
    es256_only = LogoutTokenVerifier(provider_double.url, client_id=CLIENT_ID,
                                     algorithms=("ES256",), clock=clock)
    assert es256_only.verify(logout_token(minter, keys.ec))
    with pytest.raises(DisallowedAlgorithm):
        es256_only.verify(logout_token(minter, keys.rsa))


def test_configuration_is_checked_at_start_up(provider_double):
    with pytest.raises(ValueError, match="client_id"):
        LogoutTokenVerifier(provider_double.url, client_id="")
    with pytest.raises(ValueError, match="issuer"):
        LogoutTokenVerifier("", client_id=CLIENT_ID)
    with pytest.raises(ValueError, match="algorithms"):
        LogoutTokenVerifier(provider_double.url, client_id=CLIENT_ID, algorithms=("HS256",))
    with pytest.raises(ValueError, match="negative"):
        LogoutTokenVerifier(provider_double.url, client_id=CLIENT_ID, leeway=-1)
    assert repr(LogoutTokenVerifier(provider_double.url, client_id=CLIENT_ID)) == \
        f"LogoutTokenVerifier({provider_double.url!r}, audience={CLIENT_ID!r})"
