"""Introspection (RFC 7662; "Introspection only for the token's parties",
docs/security.md) and revocation (RFC 7009)."""

import pytest
import requests

from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


def user_tokens(provider, rp):
    agent = UserAgent(provider.url)
    authorization = rp.authorization()
    code = agent.code_for(rp, authorization, email=MARY.email, password=MARY.password)
    return rp.redeem(code, authorization.verifier).json()


def test_introspection_needs_client_authentication(provider, web):
    tokens = user_tokens(provider, web)
    anonymous = requests.post(f"{provider.url}/introspect", data={"token": tokens["access_token"]},
                              timeout=10)
    assert anonymous.status_code == 401 and anonymous.json()["error"] == "invalid_client"
    wrong = requests.post(f"{provider.url}/introspect", data={"token": tokens["access_token"]},
                          auth=(web.client_id, "wrong"), timeout=10)
    assert wrong.status_code == 401


def test_a_public_client_may_not_introspect(provider, web):
    app = provider.register("App", "native", redirect_uris=["http://127.0.0.1/cb"])
    tokens = user_tokens(provider, web)
    response = requests.post(f"{provider.url}/introspect", timeout=10,
                             data={"token": tokens["access_token"], "client_id": app.client_id})
    assert response.status_code == 401


def test_a_caller_the_token_is_not_for_learns_nothing(provider, web):
    other = provider.register("Foot 11", "web")
    service = provider.register("Usage API", "service")
    tokens = user_tokens(provider, web)
    for stranger in (other, service):
        for token in (tokens["access_token"], tokens["refresh_token"]):
            assert stranger.introspect(token).json() == {"active": False}
    assert web.introspect(tokens["access_token"]).json()["active"] is True


def test_introspection_of_a_refresh_token(provider, web):
    tokens = user_tokens(provider, web)
    response = web.introspect(tokens["refresh_token"], token_type_hint="refresh_token")
    assert response.status_code == 200
    seen = response.json()
    assert seen["active"] is True and seen["client_id"] == web.client_id
    # RFC 7662 §2.2: token_type is an access token's type; a refresh token has none.
    assert "token_type" not in seen
    access = web.introspect(tokens["access_token"]).json()
    assert access["active"] is True and access["token_type"] == "Bearer"
    web.refresh(tokens["refresh_token"])
    assert web.introspect(tokens["refresh_token"]).json() == {"active": False}  # spent


# A NUL is refused before introspection looks (tests/provider/test_edge.py).
@pytest.mark.parametrize("token", ["", "garbage", "a.b.c", "x" * 10_000])
def test_garbage_is_inactive(provider, web, token):
    response = web.introspect(token)
    assert response.status_code == 200 and response.json() == {"active": False}


def test_a_missing_token_is_invalid_request(provider, web):
    response = requests.post(f"{provider.url}/introspect", data={}, auth=web.auth, timeout=10)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_no_store_on_introspection(provider, web):
    tokens = user_tokens(provider, web)
    assert web.introspect(tokens["access_token"]).headers["Cache-Control"] == "no-store"


def test_revoking_an_access_token(provider, web):
    tokens = user_tokens(provider, web)
    response = web.revoke(tokens["access_token"], token_type_hint="access_token")
    assert response.status_code == 200
    assert web.introspect(tokens["access_token"]).json() == {"active": False}
    userinfo = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    # The family lives on: the refresh token still works.
    assert web.refresh(tokens["refresh_token"]).status_code == 200


def test_revoking_twice_and_unknown_tokens_answer_200(provider, web):
    tokens = user_tokens(provider, web)
    assert web.revoke(tokens["refresh_token"]).status_code == 200
    assert web.revoke(tokens["refresh_token"]).status_code == 200
    assert web.revoke("never-issued").status_code == 200


def test_another_client_cannot_revoke_my_token(provider, web):
    other = provider.register("Foot 11", "web")
    tokens = user_tokens(provider, web)
    assert other.revoke(tokens["refresh_token"]).status_code != 200
    assert web.introspect(tokens["access_token"]).json()["active"] is True


def test_a_public_client_revokes_its_own_refresh_token(provider):
    app = provider.register("App", "native", redirect_uris=["http://127.0.0.1/cb"])
    tokens = user_tokens(provider, app)
    assert app.revoke(tokens["refresh_token"]).status_code == 200
    assert app.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"
