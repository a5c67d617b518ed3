"""Discovery ("Only what is supported is advertised", docs/security.md): the
OpenID Provider metadata validated with Authlib's own validators, the issuer
matching, advertising exactly what the provider does, every URL in it
answering. Over real HTTP with ``requests``.

On one database: the metadata comes from the settings and the code, and the
bare requests to each URL carry no input that reaches a query."""

from __future__ import annotations

import requests
from authlib.oauth2 import rfc9207
from authlib.oidc import rpinitiated
from authlib.oidc.discovery import OpenIDProviderMetadata

from tests.support.databases import ONE_DATABASE

pytestmark = ONE_DATABASE

WELL_KNOWN = "/.well-known/openid-configuration"


def metadata(provider) -> dict:
    response = requests.get(f"{provider.url}{WELL_KNOWN}", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()


def test_the_metadata_is_valid_and_the_issuer_matches(provider):
    meta = metadata(provider)
    OpenIDProviderMetadata(meta).validate(
        metadata_classes=[rfc9207.AuthorizationServerMetadata, rpinitiated.OpenIDProviderMetadata])
    assert meta["issuer"] == provider.url  # exactly: no trailing slash, same scheme and port
    for key, value in meta.items():
        if key.endswith(("_endpoint", "_uri")):
            assert value.startswith(provider.url + "/"), (key, value)
    # RFC 8414 §3: the OAuth well-known document says the same.
    oauth = requests.get(f"{provider.url}/.well-known/oauth-authorization-server", timeout=10)
    assert oauth.status_code == 200 and oauth.json() == meta


def test_the_metadata_advertises_exactly_what_is_supported(provider):
    meta = metadata(provider)
    assert meta["response_types_supported"] == ["code"]
    assert meta["response_modes_supported"] == ["query"]
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["request_parameter_supported"] is False
    assert meta["request_uri_parameter_supported"] is False
    assert meta["claims_parameter_supported"] is False
    assert set(meta["grant_types_supported"]) == {
        "authorization_code", "refresh_token", "client_credentials",
        "urn:ietf:params:oauth:grant-type:device_code"}
    assert "registration_endpoint" not in meta
    assert "none" not in meta["id_token_signing_alg_values_supported"]
    assert {"openid", "profile", "email", "phone"} <= set(meta["scopes_supported"])
    assert "admin" not in meta["scopes_supported"]


def test_every_url_in_the_metadata_answers(provider):
    meta = metadata(provider)
    urls = {key: value for key, value in meta.items() if key.endswith(("_endpoint", "_uri"))}
    assert set(urls) == {"authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                         "jwks_uri", "introspection_endpoint", "revocation_endpoint",
                         "end_session_endpoint", "device_authorization_endpoint"}
    # A bare GET and POST (no parameters, no credentials): each its one answer.
    answers = {(key, method): requests.request(method, url, timeout=10,
                                               allow_redirects=False).status_code
               for key, url in urls.items() for method in ("GET", "POST")}
    assert answers == {
        ("authorization_endpoint", "GET"): 400, ("authorization_endpoint", "POST"): 400,
        ("token_endpoint", "GET"): 405, ("token_endpoint", "POST"): 400,
        ("userinfo_endpoint", "GET"): 401, ("userinfo_endpoint", "POST"): 401,
        ("jwks_uri", "GET"): 200, ("jwks_uri", "POST"): 405,
        ("introspection_endpoint", "GET"): 405, ("introspection_endpoint", "POST"): 401,
        ("revocation_endpoint", "GET"): 405, ("revocation_endpoint", "POST"): 401,
        ("end_session_endpoint", "GET"): 200, ("end_session_endpoint", "POST"): 200,
        ("device_authorization_endpoint", "GET"): 405,
        ("device_authorization_endpoint", "POST"): 401,
    }
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    assert jwks["keys"] and all("kid" in key for key in jwks["keys"])
