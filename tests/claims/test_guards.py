"""The Flask guards on a small partner service (Foot 11's API): 401 as RFC 6750
§3 says, 403 with the policy's reason, 503 when the provider cannot be asked."""

from __future__ import annotations

import re

import pytest
from flask import Flask, g

from claims import Introspector
from claims.guards import Guard, require_entitlement, require_role, require_token
from claims.vocabulary import Entitlement, Role
from tests.claims.provider_double import SUBJECT

RFC6750_DESCRIPTION = re.compile(r'error_description="[\x20\x21\x23-\x5B\x5D-\x7E]*"')


def make_app(checker, *, with_extension: bool = True) -> Flask:
    app = Flask(__name__)
    guard = Guard(checker, realm="foot11")
    if with_extension:
        guard.init_app(app)

    @app.get("/matches")
    @guard.require_entitlement(Entitlement.FOOT11)
    def matches():
        return {"for": g.identity.subject}

    @app.get("/usage")
    @guard.require_entitlement(Entitlement.USAGE_OWN_MOBILE, "options:activate_free:own_mobile")
    def usage():
        return {"number": g.identity.phone_number}

    @app.get("/me")
    @guard.require_token()
    def me():
        return {"sub": g.identity.subject, "role": g.identity.role}

    @app.get("/admin")
    @guard.require_role(Role.ADMINISTRATOR)
    def admin():
        return {"ok": True}

    # The module-level decorators, with the guard of init_app.
    @app.get("/app/matches")
    @require_entitlement("foot11")
    def app_matches():
        return {"ok": True}

    @app.get("/app/admin")
    @require_role("administrator")
    def app_admin():
        return {"ok": True}

    @app.get("/app/me")
    @require_token()
    def app_me():
        return {"sub": g.identity.subject}

    return app


@pytest.fixture
def client(verifier):
    return make_app(verifier).test_client()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic dXNlcjpwYXNz"},
                                     {"Authorization": ""}])
def test_without_a_bearer_token(client, headers):
    response = client.get("/me", headers=headers)
    assert response.status_code == 401
    # RFC 6750 §3.1: no error code when the request has no token.
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="foot11"'


def test_a_token_in_the_query_string_is_not_read(client, minter, keys):
    response = client.get(f"/me?access_token={minter.access(keys.ec)}")
    assert response.status_code == 401 and "error=" not in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "x" * 20_000, "ünïcode"],
                         ids=["garbage", "jwt-like", "huge", "unicode"])
def test_a_bad_token(client, token):
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="foot11", error="invalid_token", ')
    assert RFC6750_DESCRIPTION.search(challenge)
    assert response.json["error"] == "invalid_token"


def test_an_expired_token_says_so(client, minter, keys, clock):
    token = minter.access(keys.ec)
    clock.advance(3600)
    response = client.get("/me", headers=bearer(token))
    assert response.status_code == 401
    assert 'error_description="The token has expired."' in response.headers["WWW-Authenticate"]


def test_an_id_token_is_refused(client, minter, keys):
    response = client.get("/me", headers=bearer(minter.access(keys.rsa, typ="JWT")))
    assert response.status_code == 401


def test_allowed(client, minter, keys):
    token = minter.access(keys.ec)
    assert client.get("/me", headers=bearer(token)).json == {"sub": SUBJECT, "role": "user"}
    assert client.get("/usage", headers=bearer(token)).json == {"number": "+32470000002"}
    assert client.get("/app/me", headers=bearer(token)).json == {"sub": SUBJECT}


@pytest.mark.parametrize("path", ["/matches", "/app/matches"])
def test_a_user_lacking_foot11_gets_the_policy_reason(client, minter, keys, path):
    response = client.get(path, headers=bearer(minter.access(keys.ec)))
    assert response.status_code == 403
    assert response.json == {
        "error": "insufficient_entitlement",
        "reason": "Foot 11 is available to administrators of the customer number; "
                  "you are a user."}


def test_an_administrator_gets_foot11(client, minter, keys):
    token = minter.access(keys.ec, role="administrator", entitlements=["foot11", "tv"])
    assert client.get("/matches", headers=bearer(token)).json == {"for": SUBJECT}
    assert client.get("/app/matches", headers=bearer(token)).status_code == 200


@pytest.mark.parametrize("path", ["/admin", "/app/admin"])
def test_require_role(client, minter, keys, path):
    refused = client.get(path, headers=bearer(minter.access(keys.ec)))
    assert refused.status_code == 403 and refused.json["error"] == "forbidden"
    assert "you are a user" in refused.json["reason"]
    admin = minter.access(keys.ec, role="administrator")
    assert client.get(path, headers=bearer(admin)).status_code == 200


def test_provider_unavailable_is_503(client, minter, keys, provider_double, clock):
    assert client.get("/me", headers=bearer(minter.access(keys.ec))).status_code == 200
    provider_double.stop()
    clock.advance(60)
    response = client.get("/me", headers=bearer(minter.access(keys.ec_next)))  # unknown kid
    assert response.status_code == 503
    assert response.json["error"] == "temporarily_unavailable"
    # A known key keeps working meanwhile.
    assert client.get("/me", headers=bearer(minter.access(keys.ec))).status_code == 200


def test_with_an_introspector_that_cannot_reach_the_provider(provider_double, clock):
    introspector = Introspector(provider_double.url, "foot11", "secret", clock=clock)
    provider_double.stop()
    client = make_app(introspector).test_client()
    assert client.get("/me", headers=bearer("some-token")).status_code == 503


def test_module_level_decorators_need_init_app(verifier, minter, keys):
    app = make_app(verifier, with_extension=False)
    app.testing = True
    with pytest.raises(RuntimeError, match="init_app"):
        app.test_client().get("/app/me", headers=bearer(minter.access(keys.ec)))


def test_an_unknown_role_fails_when_the_view_is_defined(verifier):
    with pytest.raises(ValueError):
        Guard(verifier).require_role("owner")
    with pytest.raises(ValueError):
        require_role("owner")
