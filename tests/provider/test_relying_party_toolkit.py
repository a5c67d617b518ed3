"""The relying-party toolkit (claims.TokenVerifier, claims.Introspector,
claims.guards) against the real provider on loopback: real tokens, the real
JWKS and discovery, the real introspection endpoint."""

from __future__ import annotations

import pytest
from flask import Flask, g

from claims import (
    ClaimsError,
    InactiveToken,
    Introspector,
    ProviderUnavailable,
    TokenVerifier,
    WrongNonce,
    WrongTokenType,
)
from claims.guards import Guard
from claims.vocabulary import CustomerType, Entitlement, Role
from keyholder.demo.data import PEOPLE
from tests.claims.provider_double import FakeClock
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


def sign_in(provider, rp, scope: str = "openid profile customer phone"):
    """Mary's tokens for ``rp``, and the authorization that got them."""
    agent = UserAgent(provider.url)
    authorization = rp.authorization(scope=scope)
    code = agent.code_for(rp, authorization, email=MARY.email, password=MARY.password)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return response.json(), authorization


@pytest.fixture
def verifier(provider) -> TokenVerifier:
    return TokenVerifier(provider.url, audience=f"{provider.url}/userinfo")


def test_a_real_access_token(provider, web, verifier):
    tokens, _ = sign_in(provider, web)
    identity = verifier.verify_access_token(tokens["access_token"])
    assert identity.client_id == web.client_id and identity.issuer == provider.url
    assert identity.subject == verifier.verify_id_token(tokens["id_token"],
                                                        client_id=web.client_id).subject
    assert {"openid", "customer"} <= identity.scopes
    assert identity.customer_number == "123456789"
    assert identity.role is Role.USER and identity.customer_type is CustomerType.BUSINESS
    assert identity.has(Entitlement.USAGE_OWN_MOBILE) and not identity.has(Entitlement.FOOT11)


def test_the_real_id_token_is_not_an_access_token(provider, web, verifier):
    tokens, _ = sign_in(provider, web)
    with pytest.raises(WrongTokenType):
        verifier.verify_access_token(tokens["id_token"])


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_the_real_id_token_with_its_nonce(provider, verifier, alg):
    rp = provider.register(f"Portal {alg}", "web", id_token_alg=alg)
    tokens, authorization = sign_in(provider, rp)
    nonce = authorization.params["nonce"]
    identity = verifier.verify_id_token(tokens["id_token"], client_id=rp.client_id, nonce=nonce)
    assert identity.client_id == rp.client_id and identity.role is Role.USER
    assert identity.claims["name"] == MARY.name
    with pytest.raises(WrongNonce):
        verifier.verify_id_token(tokens["id_token"], client_id=rp.client_id, nonce="other")


def test_a_service_token_has_no_customer_claims(provider, verifier):
    service = provider.register("Usage API", "service")
    token = service.token(grant_type="client_credentials").json()["access_token"]
    identity = verifier.verify_access_token(token)
    assert identity.client_id == service.client_id
    assert identity.role is None and identity.entitlements == frozenset()


def test_introspection_and_its_cache(provider, web):
    tokens, _ = sign_in(provider, web)
    clock = FakeClock()
    introspector = Introspector(provider.url, web.client_id, web.client_secret, clock=clock,
                                cache_seconds=30)
    identity = introspector.introspect(tokens["access_token"])
    verified = TokenVerifier(provider.url, audience=f"{provider.url}/userinfo")
    assert identity.subject == verified.verify_access_token(tokens["access_token"]).subject
    assert identity.client_id == web.client_id and identity.role is Role.USER

    assert web.revoke(tokens["access_token"], token_type_hint="access_token").status_code == 200
    clock.advance(29)
    assert introspector.introspect(tokens["access_token"]) == identity  # cached
    clock.advance(1)
    with pytest.raises(InactiveToken):  # asked again: revoked
        introspector.introspect(tokens["access_token"])


def test_a_client_the_token_is_not_for_learns_nothing(provider, web):
    tokens, _ = sign_in(provider, web)
    other = provider.register("Foot 11", "web")
    stranger = Introspector(provider.url, other.client_id, other.client_secret)
    with pytest.raises(InactiveToken):
        stranger.introspect(tokens["access_token"])


def test_a_refresh_token_does_not_open_an_api(provider, web):
    tokens, _ = sign_in(provider, web)
    introspector = Introspector(provider.url, web.client_id, web.client_secret)
    with pytest.raises(WrongTokenType):
        introspector.introspect(tokens["refresh_token"])


def test_a_wrong_client_secret_is_a_claims_error(provider, web):
    tokens, _ = sign_in(provider, web)
    wrong = Introspector(provider.url, web.client_id, "not-the-secret")
    with pytest.raises(ClaimsError) as refused:
        wrong.introspect(tokens["access_token"])
    assert isinstance(refused.value, ProviderUnavailable)
    assert "not-the-secret" not in str(refused.value)


def partner_app(checker) -> Flask:
    app = Flask(__name__)
    guard = Guard(checker, realm="foot11")

    @app.get("/matches")
    @guard.require_entitlement(Entitlement.FOOT11)
    def matches():
        return {"for": g.identity.subject}

    @app.get("/usage")
    @guard.require_entitlement(Entitlement.USAGE_OWN_MOBILE)
    def usage():
        return {"number": g.identity.phone_number}

    return app


def test_a_partner_service_guarded_with_the_verifier(provider, web, verifier):
    tokens, _ = sign_in(provider, web)
    client = partner_app(verifier).test_client()
    header = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/usage", headers=header).json == {"number": "+32470000002"}
    refused = client.get("/matches", headers=header)
    assert refused.status_code == 403
    assert refused.json["reason"] == ("Foot 11 is available to administrators of the customer "
                                      "number; you are a user.")


def test_a_partner_service_guarded_with_introspection(provider, web):
    tokens, _ = sign_in(provider, web)
    introspector = Introspector(provider.url, web.client_id, web.client_secret, cache_size=0)
    client = partner_app(introspector).test_client()
    header = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/usage", headers=header).status_code == 200
    web.revoke(tokens["refresh_token"], token_type_hint="refresh_token")  # ends the family
    refused = client.get("/usage", headers=header)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
