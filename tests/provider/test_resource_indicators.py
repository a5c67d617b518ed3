"""Resource indicators (RFC 8707): a token asked for the usage API has the
API as audience, so the API may introspect it; other tokens are not for it."""

import jwt as pyjwt
import requests

from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent, query_of

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
API = "http://127.0.0.1:9/usage-api"


def claims_of(token):
    return pyjwt.decode(token, options={"verify_signature": False})


def tokens_for(provider, rp, **params):
    agent = UserAgent(provider.url)
    authorization = rp.authorization(scope="openid customer phone", **params)
    code = agent.code_for(rp, authorization, email=MARY.email, password=MARY.password)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_token_for_the_api_is_the_apis_to_introspect(provider, web):
    api = provider.register("Usage API", "service", resource_uri=API)
    app = provider.register("MyApp", "native", redirect_uris=["http://127.0.0.1/callback"])
    tokens = tokens_for(provider, app, resource=API)
    assert claims_of(tokens["access_token"])["aud"] == [API]
    seen = api.introspect(tokens["access_token"]).json()
    assert seen["active"] is True and seen["role"] == "user"
    assert seen["phone_number"] == "+32470000002"
    # A refresh keeps the resource; a token for the API is not a UserInfo token.
    refreshed = app.refresh(tokens["refresh_token"]).json()
    assert claims_of(refreshed["access_token"])["aud"] == [API]
    userinfo = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401
    # A token meant for another client (no resource) is inactive for the API.
    other = tokens_for(provider, web)
    assert api.introspect(other["access_token"]).json() == {"active": False}


def test_an_unknown_resource_is_invalid_target(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(resource="http://127.0.0.1:9/unknown")
    response = agent.authorize(authorization, email=MARY.email, password=MARY.password)
    params = query_of(response.headers["Location"])
    assert params["error"] == "invalid_target" and params["iss"] == provider.url
    fragment = agent.authorize(web.authorization(resource=API + "#x"))
    assert query_of(fragment.headers["Location"])["error"] == "invalid_target"


def test_a_token_request_may_not_widen_the_resources(provider):
    provider.register("Usage API", "service", resource_uri=API)
    provider.register("Bills API", "service", resource_uri="http://127.0.0.1:9/bills-api")
    app = provider.register("MyApp", "native", redirect_uris=["http://127.0.0.1/callback"])
    agent = UserAgent(provider.url)
    authorization = app.authorization(scope="openid customer", resource=API)
    code = agent.code_for(app, authorization, email=MARY.email, password=MARY.password)
    wider = app.redeem(code, authorization.verifier, resource="http://127.0.0.1:9/bills-api")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_target"


def test_discovery_says_so(provider):
    meta = requests.get(f"{provider.url}/.well-known/openid-configuration", timeout=10).json()
    assert meta["resource_indicators_supported"] is True
