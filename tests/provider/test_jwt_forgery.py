"""Forged and misused JWTs are refused at UserInfo and introspection
("Algorithm allow-list", "No key from the token" and "Explicit token types",
docs/security.md): alg none, HS256 keyed with our public key, an unknown
kid, attacker keys in jku/x5u/jwk headers, an ID token used as an access
token, and tokens signed with our own key but with a wrong issuer or expired.

Refusal tables: the tests share one provider per database (tests/README.md,
"Sharing a provider"); each signs in for a genuine token of its own."""

import base64
import hashlib
import hmac
import json
import time

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey

from idp.keys import key_store
from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(header: dict, claims: dict) -> str:
    return b64(json.dumps(header).encode()) + "." + b64(json.dumps(claims).encode())


@pytest.fixture
def genuine(provider, web):
    return genuine_tokens(provider, web)


def genuine_tokens(provider, web):
    """Mary's tokens from a real sign-in, and the access token's header and claims."""
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    tokens = web.redeem(code, authorization.verifier).json()
    header = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))
    claims = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[1] + "==="))
    return tokens, header, claims


def refused(provider, web, token: str) -> None:
    userinfo = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert userinfo.status_code == 401
    assert 'error="invalid_token"' in userinfo.headers["WWW-Authenticate"]
    assert web.introspect(token).json() == {"active": False}


def test_the_genuine_token_is_accepted(provider, web, genuine):
    tokens, _, _ = genuine
    assert web.introspect(tokens["access_token"]).json()["active"] is True


def test_alg_none(provider, web, genuine):
    _, header, claims = genuine
    refused(provider, web, segments({**header, "alg": "none"}, claims) + ".")


def test_hs256_keyed_with_our_public_key(provider, web, genuine):
    _, header, claims = genuine
    public = key_store(provider.app).public_key(header["kid"])
    for secret in (public.as_pem(private=False),
                   json.dumps(public.as_dict(private=False)).encode()):
        signing_input = segments({**header, "alg": "HS256"}, claims)
        signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        refused(provider, web, signing_input + "." + b64(signature))


def _attacker_key() -> ECKey:
    return ECKey.generate_key("P-256", private=True)


@pytest.mark.parametrize("extra_header", [
    {"kid": "unknown-kid"},
    {"kid": None, "jku": "http://127.0.0.1:9/attacker/jwks.json"},
    {"kid": None, "x5u": "http://127.0.0.1:9/attacker/cert.pem"},
    {"kid": None, "jwk": "ATTACKER"},
])
def test_attacker_keys_are_never_fetched_or_trusted(provider, web, genuine, extra_header):
    _, _, claims = genuine
    key = _attacker_key()
    forged_header = {"alg": "ES256", "typ": "at+jwt", **extra_header}
    if forged_header.get("jwk") == "ATTACKER":
        forged_header["jwk"] = key.as_dict(private=False)
    forged_header = {k: v for k, v in forged_header.items() if v is not None}
    refused(provider, web, jwt.encode(forged_header, claims, key, algorithms=["ES256"]))


def test_our_kid_with_an_attacker_signature(provider, web, genuine):
    _, header, claims = genuine
    refused(provider, web, jwt.encode(header, {**claims, "sub": "someone-else"},
                                      _attacker_key(), algorithms=["ES256"]))


def test_an_id_token_is_not_an_access_token(provider, web, genuine):
    tokens, _, _ = genuine
    refused(provider, web, tokens["id_token"])


def test_an_access_token_typed_as_jwt_is_refused(provider, web, genuine):
    # Signed with our own active key, but claiming to be a plain JWT.
    _, header, claims = genuine
    key = key_store(provider.app).signing_key("ES256")
    refused(provider, web, jwt.encode({**header, "typ": "JWT"}, claims, key, algorithms=["ES256"]))


@pytest.mark.parametrize("change", [
    {"iss": "http://127.0.0.1:1"}, {"exp": int(time.time()) - 10}, {"client_id": None},
])
def test_our_signature_over_wrong_claims(provider, web, genuine, change):
    _, header, claims = genuine
    key = key_store(provider.app).signing_key("ES256")
    forged = {k: v for k, v in {**claims, **change}.items() if v is not None}
    refused(provider, web, jwt.encode(header, forged, key, algorithms=["ES256"]))


def test_rs256_access_tokens_are_not_on_the_allow_list(provider, web, genuine):
    _, _, claims = genuine
    key = key_store(provider.app).signing_key("RS256")
    refused(provider, web, jwt.encode({"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}, claims,
                                      key, algorithms=["RS256"]))
