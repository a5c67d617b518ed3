"""Issue 3's end-to-end flow on a real server, with an independent client:
discovery → authorize (login form) → code → token → ID token verified with
joserfc against the published JWKS → UserInfo → refresh (rotation) →
introspection → revocation → logout. Runs on SQLite and PostgreSQL."""

import base64
import hashlib
import time

import jwt as pyjwt
import requests
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent, query_of

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


def at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def test_the_whole_flow(provider, web):
    # Discovery.
    meta = requests.get(f"{provider.url}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == provider.url
    jwks = KeySet.import_key_set(requests.get(meta["jwks_uri"], timeout=10).json())

    # Authorize: the login form, then the code, with state and iss.
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid profile email phone")
    first = agent.get(meta["authorization_endpoint"], params=authorization.params)
    assert first.status_code == 302 and "/login?" in first.headers["Location"]
    callback = agent.follow(first, email=MARY.email, password=MARY.password)
    params = query_of(callback.headers["Location"])
    assert params["state"] == authorization.state
    assert params["iss"] == provider.url

    # Token.
    started = int(time.time())
    response = web.redeem(params["code"], authorization.verifier)
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 300

    # The ID token, verified with joserfc against the JWKS.
    id_token = jose_jwt.decode(tokens["id_token"], jwks, algorithms=["RS256"])
    assert id_token.header["alg"] == "RS256"
    assert id_token.header["kid"] in {k.kid for k in jwks.keys}
    JWTClaimsRegistry(iss={"essential": True, "value": provider.url},
                      aud={"essential": True, "value": web.client_id},
                      nonce={"essential": True, "value": authorization.params["nonce"]},
                      exp={"essential": True}, iat={"essential": True},
                      sub={"essential": True}).validate(id_token.claims)
    claims = id_token.claims
    assert started - 5 <= claims["iat"] <= time.time() + 5
    assert claims["exp"] > time.time()
    assert claims["at_hash"] == at_hash(tokens["access_token"])
    assert claims["auth_time"] <= claims["iat"] and claims["amr"] == ["pwd"]
    assert claims["name"] == MARY.name and claims["email"] == MARY.email
    assert claims["sid"]
    # ... and with a second library, PyJWT, to be sure.
    pyjwk = pyjwt.PyJWK(next(k.as_dict() for k in jwks.keys if k.kid == id_token.header["kid"]))
    assert pyjwt.decode(tokens["id_token"], pyjwk, algorithms=["RS256"],
                        audience=web.client_id, issuer=provider.url)["sub"] == claims["sub"]

    # The access token is an RFC 9068 JWT (ES256).
    access = jose_jwt.decode(tokens["access_token"], jwks, algorithms=["ES256"])
    assert access.header["typ"] == "at+jwt"
    assert access.claims["client_id"] == web.client_id
    assert access.claims["sub"] == claims["sub"]

    # UserInfo.
    info = requests.get(meta["userinfo_endpoint"], timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200 and info.headers["Cache-Control"] == "no-store"
    assert info.json()["sub"] == claims["sub"] and info.json()["phone_number"] == "+32470000002"

    # Refresh: a new refresh token; the old one is spent.
    refreshed = web.refresh(tokens["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    fresh = refreshed.json()
    assert fresh["refresh_token"] != tokens["refresh_token"]
    refreshed_id = jose_jwt.decode(fresh["id_token"], jwks, algorithms=["RS256"]).claims
    assert refreshed_id["sub"] == claims["sub"]
    assert refreshed_id["auth_time"] == claims["auth_time"]  # OIDC Core §12.2

    # Introspection of the new access token.
    seen = web.introspect(fresh["access_token"]).json()
    assert seen["active"] is True and seen["sub"] == claims["sub"]
    assert seen["client_id"] == web.client_id

    # Revocation of the refresh token ends the family, its access tokens too.
    assert web.revoke(fresh["refresh_token"], token_type_hint="refresh_token").status_code == 200
    assert web.introspect(fresh["access_token"]).json() == {"active": False}
    assert web.refresh(fresh["refresh_token"]).json()["error"] == "invalid_grant"

    # Logout with the ID token as hint: back to the registered URI, with state.
    bye = agent.get(meta["end_session_endpoint"], params={
        "id_token_hint": tokens["id_token"], "state": "s-1",
        "post_logout_redirect_uri": "http://127.0.0.1:9/cloud/bye"})
    assert bye.status_code == 302
    assert bye.headers["Location"] == "http://127.0.0.1:9/cloud/bye?state=s-1"
    # The session is over: a silent authorization now fails.
    silent = agent.authorize(web.authorization(prompt="none"))
    assert query_of(silent.headers["Location"])["error"] == "login_required"


def test_userinfo_by_get_and_post_with_a_bearer_header(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid email")
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    token = web.redeem(code, authorization.verifier).json()["access_token"]
    header = {"Authorization": f"Bearer {token}"}
    got = requests.get(f"{provider.url}/userinfo", headers=header, timeout=10)
    posted = requests.post(f"{provider.url}/userinfo", headers=header, timeout=10)
    assert got.status_code == posted.status_code == 200
    assert got.json() == posted.json()
    assert got.json()["email"] == MARY.email and "name" not in got.json()  # scope decides
    missing = requests.get(f"{provider.url}/userinfo", timeout=10)
    assert missing.status_code == 401  # RFC 6750 §3.1: the challenge, no error code
    assert missing.headers["WWW-Authenticate"] == f'Bearer realm="{provider.url}"'
    # The token in a query string is not accepted (RFC 6750 §2.3 is not supported).
    in_query = requests.get(f"{provider.url}/userinfo", params={"access_token": token},
                            timeout=10)
    assert in_query.status_code == 401


def test_a_service_token_has_no_userinfo(provider):
    service = provider.register("Usage API", "service")
    token = service.token(grant_type="client_credentials").json()["access_token"]
    response = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_a_client_registered_for_es256_gets_es256_id_tokens(provider):
    rp = provider.register("App", "native", redirect_uris=["http://127.0.0.1/callback"],
                           id_token_alg="ES256")
    agent = UserAgent(provider.url)
    authorization = rp.authorization()
    code = agent.code_for(rp, authorization, email=MARY.email, password=MARY.password)
    tokens = rp.redeem(code, authorization.verifier).json()
    jwks = KeySet.import_key_set(requests.get(f"{provider.url}/jwks.json", timeout=10).json())
    id_token = jose_jwt.decode(tokens["id_token"], jwks, algorithms=["ES256"])
    assert id_token.header["alg"] == "ES256" and id_token.claims["aud"] == [rp.client_id]
    refreshed = rp.refresh(tokens["refresh_token"]).json()
    assert jose_jwt.decode(refreshed["id_token"], jwks, algorithms=["ES256"]).header["alg"] == \
        "ES256"
