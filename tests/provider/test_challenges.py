"""``WWW-Authenticate`` challenges, as independent client libraries parse them:
UserInfo per RFC 6750 §3 (a realm; no error code when the request carried no
token), and ``invalid_client`` per RFC 6749 §5.2 and RFC 7617 §2 (401 and a
Basic challenge with a realm) at every endpoint that authenticates clients.
The realm is the issuer ("Challenges name the realm", docs/security.md).

Refusal tables: the tests share one provider per database (tests/README.md,
"Sharing a provider"); a wrong client secret counts nowhere."""

import base64

import pytest
import requests

from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
INVALID_TOKEN = ('error="invalid_token", error_description="The access token provided is '
                 'expired, revoked, malformed, or invalid for other reasons."')


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def userinfo(provider, headers=None):
    return requests.get(f"{provider.url}/userinfo", headers=headers or {}, timeout=10)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Basic " + base64.b64encode(b"someone:secret").decode()},
    {"Authorization": "Bearer"}, {"Authorization": ""},
], ids=["no-header", "basic", "bearer-without-token", "empty"])
def test_userinfo_without_a_token_is_the_bare_challenge(provider, headers):
    response = userinfo(provider, headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == f'Bearer realm="{provider.url}"'
    assert response.json() == {}  # RFC 6750 §3.1: no error code, nor other error information
    assert response.headers["Cache-Control"] == "no-store"


def test_userinfo_with_a_bad_token_is_invalid_token_with_the_realm(provider):
    response = userinfo(provider, {"Authorization": "Bearer not-a-token"})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == \
        f'Bearer realm="{provider.url}", {INVALID_TOKEN}'
    assert response.json()["error"] == "invalid_token"


def test_userinfo_with_a_good_token_still_answers(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid email")
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    token = web.redeem(code, authorization.verifier).json()["access_token"]
    response = userinfo(provider, {"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and "WWW-Authenticate" not in response.headers
    assert response.json()["email"] == MARY.email


# Each endpoint that authenticates clients, with a request it would otherwise accept.
CLIENT_ENDPOINTS = {
    "/token": {"grant_type": "client_credentials"},
    "/introspect": {"token": "x"},
    "/revoke": {"token": "x"},
    "/device_authorization": {"scope": "openid"},
}


def invalid_client(provider, response) -> None:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"] == f'Basic realm="{provider.url}"'


@pytest.mark.parametrize("path", CLIENT_ENDPOINTS)
def test_a_wrong_basic_secret_is_401_with_a_realm(provider, web, path):
    response = requests.post(f"{provider.url}{path}", data=CLIENT_ENDPOINTS[path],
                             auth=(web.client_id, "wrong"), timeout=10)
    invalid_client(provider, response)


@pytest.mark.parametrize("path", CLIENT_ENDPOINTS)
def test_an_unknown_basic_client_is_401_with_a_realm(provider, path):
    response = requests.post(f"{provider.url}{path}", data=CLIENT_ENDPOINTS[path],
                             auth=("no-such-client", "x"), timeout=10)
    invalid_client(provider, response)


@pytest.mark.parametrize("path", CLIENT_ENDPOINTS)
def test_a_wrong_posted_secret_is_401_naming_basic(provider, web, path):
    # RFC 6749 §5.2 MAY: the challenge tells the client which scheme we take.
    response = requests.post(f"{provider.url}{path}", timeout=10, data={
        **CLIENT_ENDPOINTS[path], "client_id": web.client_id, "client_secret": "wrong"})
    invalid_client(provider, response)
