"""``id_token_hint`` counts only when it is an ID token this provider issued:
one decision (``idp.protocol.tokens.hints.issued_id_token``) for /authorize and
/logout. Every other JWT we sign (access tokens, logout tokens) carries our
signature too, so the signature alone decides nothing. Logout itself is in
test_backchannel_logout.py. Runs on SQLite and PostgreSQL.

Refusal tables: the tests share one provider per database (tests/README.md,
"Sharing a provider"); each signs in for genuine tokens of its own."""

from __future__ import annotations

import json
import time

import jwt as pyjwt
import pytest
from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.jwk import ECKey

from idp.keys import key_store
from idp.protocol.tokens.hints import IssuedIdToken, NotAnIdToken, issued_id_token
from tests.provider.agents import UserAgent
from tests.provider.test_authorization_request import PHILIP, callback, sign_in, signed_in_agent

NOT_AN_ID_TOKEN = "The 'id_token_hint' is not an ID token."
NOT_ISSUED_HERE = "The 'id_token_hint' is not an ID token issued here."
NOT_OUR_CLIENT = "The 'id_token_hint' is not an ID token of a client of ours."
NOT_SIGNED = "The 'id_token_hint' is not signed by this provider."


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


# What is changed in a genuine ID token (re-signed with the provider's own key),
# and the verdict. None as a value removes the claim.
FORGERIES = {
    "typ at+jwt": ({"typ": "at+jwt"}, {}, NOT_AN_ID_TOKEN),
    "typ logout+jwt": ({"typ": "logout+jwt"}, {}, NOT_AN_ID_TOKEN),
    "no typ": ({"typ": None}, {}, NOT_AN_ID_TOKEN),
    "a logout token's events": ({}, {"events": {"http://schemas.openid.net/event/"
                                                "backchannel-logout": {}}}, NOT_AN_ID_TOKEN),
    "an access token's client_id": ({}, {"client_id": "{client}"}, NOT_AN_ID_TOKEN),
    "another issuer": ({}, {"iss": "https://elsewhere.example"}, NOT_ISSUED_HERE),
    "no sub": ({}, {"sub": None}, NOT_ISSUED_HERE),
    "no iat": ({}, {"iat": None}, NOT_ISSUED_HERE),
    "aud the UserInfo endpoint": ({}, {"aud": ["{issuer}/userinfo"], "azp": None},
                                  NOT_OUR_CLIENT),
    "aud no client": ({}, {"aud": ["no-such-client"], "azp": None}, NOT_OUR_CLIENT),
    "aud two clients": ({}, {"aud": ["{client}", "{client}"]}, NOT_OUR_CLIENT),
    "azp another": ({}, {"azp": "no-such-client"}, NOT_OUR_CLIENT),
}


def resign(provider, token: str, header: dict, changes: dict, client_id: str) -> str:
    """``token``'s claims with ``changes``, signed by the provider's active key."""
    alg = pyjwt.get_unverified_header(token)["alg"]
    values = {"{client}": client_id, "{issuer}/userinfo": f"{provider.url}/userinfo"}
    claims = claims_of(token)
    for name, value in changes.items():
        if isinstance(value, list):
            value = [values.get(v, v) for v in value]
        elif isinstance(value, str):
            value = values.get(value, value)
        claims[name] = value
    with provider.app.app_context():
        key = key_store(provider.app).signing_key(alg)
    jose_header = {"alg": alg, "kid": key.kid, "typ": "JWT", **header}
    payload = json.dumps({k: v for k, v in claims.items() if v is not None})
    # jws, not jwt.encode: that one would add a typ the case "no typ" leaves out.
    return jws.serialize_compact({k: v for k, v in jose_header.items() if v is not None},
                                 payload, key, algorithms=[alg])


def verdict(provider, hint):
    with provider.app.test_request_context():
        return issued_id_token(hint)


@pytest.fixture
def genuine(provider, web) -> dict:
    tokens, _ = sign_in(provider, web, UserAgent(provider.url))
    return tokens


def test_a_genuine_id_token_is_one_expired_or_not(provider, web, genuine):
    issued = verdict(provider, genuine["id_token"])
    assert isinstance(issued, IssuedIdToken)
    assert issued.subject == claims_of(genuine["id_token"])["sub"]
    assert issued.client.id == web.client_id
    expired = resign(provider, genuine["id_token"], {},
                     {"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600},
                     web.client_id)
    assert isinstance(verdict(provider, expired), IssuedIdToken)


def test_an_access_token_is_not_an_id_token(provider, genuine):
    assert pyjwt.get_unverified_header(genuine["access_token"])["typ"] == "at+jwt"
    assert verdict(provider, genuine["access_token"]) == NotAnIdToken(NOT_AN_ID_TOKEN)


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_our_signature_on_what_is_not_an_id_token(provider, web, genuine, forgery):
    header, changes, reason = FORGERIES[forgery]
    forged = resign(provider, genuine["id_token"], header, changes, web.client_id)
    assert verdict(provider, forged) == NotAnIdToken(reason)


def test_a_key_that_is_not_ours(provider, web, genuine):
    theirs = ECKey.generate_key("P-256", private=True)
    kid = pyjwt.get_unverified_header(genuine["access_token"])["kid"]  # one of our kids
    forged = jose_jwt.encode({"alg": "ES256", "kid": kid, "typ": "JWT"},
                             claims_of(genuine["id_token"]), theirs, algorithms=["ES256"])
    assert verdict(provider, forged) == NotAnIdToken(NOT_SIGNED)
    for garbage in ("", "a.b", "a.b.c", "x" * 9000):
        assert isinstance(verdict(provider, garbage), NotAnIdToken)


def test_at_authorize_an_access_token_names_nobody(provider, web):
    """Philip's access token as id_token_hint, Mary signed in, prompt=none:
    taken as a hint it would name Philip and answer login_required; it is no
    hint, so Mary gets her code, as with no hint at all."""
    philip_tokens, _ = sign_in(provider, web, UserAgent(provider.url), person=PHILIP)
    agent = signed_in_agent(provider)
    authorization = web.authorization(prompt="none", id_token_hint=philip_tokens["access_token"])
    params = callback(agent.get("/authorize", params=authorization.params), web)
    assert "error" not in params and "code" in params
    # The control: Philip's ID token names Philip.
    authorization = web.authorization(prompt="none", id_token_hint=philip_tokens["id_token"])
    params = callback(agent.get("/authorize", params=authorization.params), web)
    assert params["error"] == "login_required" and "code" not in params
