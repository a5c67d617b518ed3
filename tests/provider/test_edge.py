"""The edge (idp.infrastructure.edge): a foreign Host, control characters in any
parameter or in the Basic credentials, and forwarded headers from someone
who is not a trusted proxy. Each is refused (or ignored) before a view or a
query runs: a clear 400/401, nothing changed, no traceback. Over real HTTP,
on SQLite and PostgreSQL (psycopg refuses NUL in text, SQLite takes it).

Refusal tables: the tests share one provider per database (tests/README.md,
"Sharing a provider"); each compares the database before and after itself."""

from __future__ import annotations

import base64
import logging

import pytest
import requests

from tests.provider.agents import UserAgent
from tests.snapshots import snapshot

API = ["/token", "/introspect", "/revoke", "/userinfo", "/device_authorization"]
NUL = "a\x00b"


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def no_traceback(caplog) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def assert_json_refusal(response, error: str = "invalid_request", status: int = 400) -> None:
    assert response.status_code == status, response.text[:300]
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["error"] == error
    assert response.json()["error_description"]
    assert response.headers["Cache-Control"] == "no-store"


def assert_page_refusal(response) -> None:
    assert response.status_code == 400, response.text[:300]
    assert response.headers["Content-Type"].startswith("text/html")
    assert "Location" not in response.headers
    assert "<code>invalid_request</code>" in response.text


@pytest.mark.parametrize("host", ["keyholder.example", "[::1", "127.0.0.1:1", "evil.example:80"])
@pytest.mark.parametrize("path", API)
def test_a_foreign_host_is_a_clear_400(provider, web, caplog, path, host):
    before = snapshot(provider.app)
    response = requests.post(provider.url + path, auth=web.auth, headers={"Host": host},
                             data={"grant_type": "client_credentials", "token": "x"}, timeout=10)
    assert_json_refusal(response)
    assert provider.url in response.json()["error_description"]
    assert snapshot(provider.app) == before
    no_traceback(caplog)


def test_a_foreign_host_on_a_page_is_a_page_and_health_answers_any_host(provider, caplog):
    assert_page_refusal(requests.get(provider.url + "/login",
                                     headers={"Host": "keyholder.example"}, timeout=10))
    # Load balancers probe a node by its address.
    for path in ("/health", "/health/live", "/health/ready", "/metrics"):
        health = requests.get(provider.url + path, headers={"Host": "10.1.2.3:8000"},
                              timeout=10)
        assert health.status_code == 200, path
    no_traceback(caplog)


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/device_authorization"])
def test_nul_in_client_id_is_invalid_request(provider, web, caplog, path):
    before = snapshot(provider.app)
    response = requests.post(provider.url + path, timeout=10, data={
        "grant_type": "client_credentials", "client_id": NUL, "token": "x"})
    assert_json_refusal(response)
    assert snapshot(provider.app) == before
    no_traceback(caplog)


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("path", ["/authorize", "/logout"])
def test_nul_in_client_id_on_a_page_is_a_refusal_page(provider, web, caplog, path, method):
    agent = UserAgent(provider.url)
    params = {**web.authorization().params, "client_id": NUL}
    response = (agent.get(path, params=params) if method == "GET"
                else agent.post(path, params))
    assert_page_refusal(response)
    no_traceback(caplog)


@pytest.mark.parametrize("field", ["nonce", "resource", "state", "scope", "login_hint",
                                   "customer_number", "code_challenge"])
def test_a_control_character_in_any_authorization_parameter(provider, web, caplog, field):
    agent = UserAgent(provider.url)
    agent.login("mary.jones@smith-ltd.example", "mary-demo")
    before = snapshot(provider.app)
    for value in (NUL, "a\nb", "a\x7fb", "a\x85b"):
        authorization = web.authorization(**{field: value})
        assert_page_refusal(agent.get("/authorize", params=authorization.params))
        assert_page_refusal(agent.post("/authorize", authorization.params))
    assert snapshot(provider.app) == before
    no_traceback(caplog)


def test_a_control_character_in_a_parameter_name(provider, web, caplog):
    response = requests.post(provider.url + "/token", auth=web.auth, timeout=10,
                             data={"grant_type": "client_credentials", "x\x00y": "1"})
    assert_json_refusal(response)
    no_traceback(caplog)


@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke"])
def test_nul_in_token_endpoint_values(provider, web, caplog, path):
    before = snapshot(provider.app)
    for data in ({"grant_type": "refresh_token", "refresh_token": NUL},
                 {"grant_type": "client_credentials", "resource": f"http://api{NUL}/"},
                 {"grant_type": "authorization_code", "code": NUL, "redirect_uri":
                  web.redirect_uri, "code_verifier": "v" * 43},
                 {"token": NUL, "token_type_hint": "access_token"}):
        assert_json_refusal(requests.post(provider.url + path, auth=web.auth, data=data,
                                          timeout=10))
    assert snapshot(provider.app) == before
    no_traceback(caplog)


@pytest.mark.parametrize("credentials", [
    f"{NUL}:secret", "client:se\x00cret", "a%00b:secret", "client:s%0Acret"])
@pytest.mark.parametrize("path", ["/token", "/introspect", "/revoke", "/device_authorization"])
def test_a_control_character_in_basic_credentials_is_invalid_client(
        provider, caplog, path, credentials):
    basic = base64.b64encode(credentials.encode()).decode()
    response = requests.post(provider.url + path, timeout=10,
                             headers={"Authorization": f"Basic {basic}"},
                             data={"grant_type": "client_credentials", "token": "x"})
    assert_json_refusal(response, "invalid_client", 401)
    assert response.headers["WWW-Authenticate"] == f'Basic realm="{provider.url}"'
    no_traceback(caplog)


def test_userinfo_with_nul_in_the_query(provider, caplog):
    assert_json_refusal(requests.get(provider.url + "/userinfo", params={"x": NUL},
                                     timeout=10))
    no_traceback(caplog)


def test_forwarded_headers_from_an_untrusted_peer_change_nothing(provider):
    """No trusted proxy is configured: X-Forwarded-* from anyone is dropped,
    so a client cannot claim https, another host or another address."""
    service = provider.register("Backend", "service")
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "id.example.test",
              "X-Forwarded-Port": "443", "X-Forwarded-For": "203.0.113.9"}
    discovery = requests.get(provider.url + "/.well-known/openid-configuration",
                             headers=forged, timeout=10)
    assert discovery.status_code == 200
    assert discovery.json()["token_endpoint"] == provider.url + "/token"
    token = requests.post(provider.url + "/token", auth=service.auth, headers=forged,
                          timeout=10, data={"grant_type": "client_credentials"})
    assert token.status_code == 200
