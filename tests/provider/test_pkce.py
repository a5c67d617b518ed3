"""PKCE S256 for every client (docs/security.md, "PKCE S256 for every
client"): a challenge is required at /authorize, the verifier at /token, no
downgrade to plain or to none. Over real HTTP; SQLite and PostgreSQL, one
provider per database for the module (tests/README.md, "Sharing a
provider")."""

from __future__ import annotations

import pytest

from tests.provider.agents import RelyingParty, UserAgent, pkce_pair, redirected
from tests.support.people import MARY


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def signed_in_agent(provider) -> UserAgent:
    agent = UserAgent(provider.url)
    assert agent.login(MARY.email, MARY.password).status_code == 303
    return agent



@pytest.fixture(params=["web", "native"])
def any_client(request, provider) -> RelyingParty:
    if request.param == "web":
        return request.getfixturevalue("web")
    return provider.register("App", "native", redirect_uris=["http://127.0.0.1/app/callback"])


@pytest.mark.parametrize(("overrides", "what"), [
    ({"code_challenge": None, "code_challenge_method": None}, "no challenge"),
    ({"code_challenge_method": None}, "no method (plain by default)"),
    ({"code_challenge_method": "plain"}, "plain"),
    ({"code_challenge_method": "s256"}, "lower-case method"),
    ({"code_challenge_method": "S512"}, "unknown method"),
    ({"code_challenge": None}, "method without challenge"),
    ({"code_challenge": "too-short"}, "malformed challenge"),
])
def test_authorization_without_an_s256_challenge_is_refused(provider, any_client, overrides,
                                                            what):
    authorization = any_client.authorization(**overrides)
    response = signed_in_agent(provider).get("/authorize", params=authorization.params)
    params = redirected(response, any_client)
    assert params["error"] == "invalid_request", what
    assert params["iss"] == provider.url and "code" not in params


def pkce_code(provider, rp: RelyingParty) -> tuple[str, str]:
    authorization = rp.authorization()
    code = signed_in_agent(provider).code_for(rp, authorization)
    return code, authorization.verifier


def test_a_valid_s256_verifier_succeeds(provider, any_client):
    code, verifier = pkce_code(provider, any_client)
    response = any_client.redeem(code, verifier)
    assert response.status_code == 200, response.text
    assert response.json()["id_token"]


def test_a_wrong_verifier_is_invalid_grant_and_burns_the_code(provider, any_client):
    code, verifier = pkce_code(provider, any_client)
    response = any_client.redeem(code, pkce_pair()[0])
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()
    assert any_client.redeem(code, verifier).json()["error"] == "invalid_grant"


def test_a_missing_verifier_is_invalid_request(provider, any_client):
    for extra in ({}, {"code_verifier": ""}):
        code, _ = pkce_code(provider, any_client)
        response = any_client.token(grant_type="authorization_code", code=code,
                                    redirect_uri=any_client.redirect_uri, **extra)
        assert response.status_code == 400, extra
        assert response.json()["error"] == "invalid_request", extra
        assert "access_token" not in response.json()


def test_no_downgrade_to_plain_or_to_no_pkce(provider, any_client):
    """A challenge is always required, so "verifier without challenge" cannot be
    set up; what an attacker can do is send the challenge itself as a plain
    verifier, or a verifier the code was not issued for. Both fail."""
    verifier, challenge = pkce_pair()
    authorization = any_client.authorization(code_challenge=challenge)
    code = signed_in_agent(provider).code_for(any_client, authorization)
    response = any_client.redeem(code, challenge)  # "plain": verifier == challenge
    assert response.json()["error"] == "invalid_grant"
    code = signed_in_agent(provider).code_for(any_client, any_client.authorization())
    assert any_client.redeem(code, verifier).json()["error"] == "invalid_grant"
