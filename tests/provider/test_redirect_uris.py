"""Where the provider sends a browser, and what it refuses (docs/security.md:
"Exact redirect URIs", "No open redirects", "No dynamic registration",
"Issuer on every authorization response", "Code flow only"): no implicit
flow or password grant either (PKCE: test_pkce.py). Over real HTTP
with ``requests``; runs on SQLite and PostgreSQL.

Refusal tables: the tests share one provider per database (tests/README.md,
"Sharing a provider"). Each registers the clients it uses and signs in
afresh; none changes the demo people or another test's rows."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent, language_of, query_of, redirected

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
# In the reader's language: English for a visitor, French for Mary.
ERROR_PAGE = {"en": "This sign-in request cannot be handled",
              "fr": "Cette demande de connexion ne peut pas être traitée"}
SIGN_OUT = {"en": "Sign out?", "fr": "Se déconnecter ?"}
SIGNED_OUT = {"en": "You are signed out", "fr": "Vous êtes déconnecté"}
REFUSED = {"en": "This request cannot be handled",
           "fr": "Cette demande ne peut pas être traitée"}
APP = "https://app.example.com/cb"
TENANT = "https://app.example.com/cb?tenant=a"


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def assert_error_page(response, error: str | None = None, what: object = None) -> None:
    """Shown to the person, never a redirect (RFC 6749 §4.1.2.1)."""
    assert response.status_code == 400, (what, response.status_code,
                                         response.headers.get("Location"))
    assert "Location" not in response.headers, what
    assert ERROR_PAGE[language_of(response)] in response.text, what
    if error:
        assert f"<code>{error}</code>" in response.text, what


def has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or c == "\x7f" for c in text)


def assert_refused_at_edge(response, what: object = None) -> None:
    """A control character is refused before any view reads the request
    (idp.infrastructure.edge): a page, never a redirect."""
    assert response.status_code == 400, (what, response.status_code)
    assert "Location" not in response.headers, what
    assert REFUSED[language_of(response)] in response.text, what
    assert "<code>invalid_request</code>" in response.text, what


def signed_in_agent(provider) -> UserAgent:
    agent = UserAgent(provider.url)
    assert agent.login(MARY.email, MARY.password).status_code == 303
    return agent


# -- Exact redirect URIs -------------------------------------------------------------------

NOT_APP = [
    f"{APP}/", f"{APP}//", "https://APP.EXAMPLE.COM/cb", "https://app.example.com/CB",
    "HTTPS://app.example.com/cb", "https://app.example.com:443/cb",
    "https://app.example.com:8443/cb", f"{APP}?", f"{APP}?x=1", f"{APP}?next=https://evil.example",
    f"{APP}#", f"{APP}#frag", "http://app.example.com/cb", "https://app.example.com/c",
    "https://app.example.com/", "https://app.example.com", "https://app.example.com/cbx",
    f"{APP}/evil", f"{APP}/../cb", "https://app.example.com//cb", "https://app.example.com/./cb",
    "https://app.example.com.evil.example/cb", "https://app.example.com%2Fcb",
    f"{APP}%2F..%2F..%2Fevil", "https://app.example.com/c%62", "https://app.example.com/%63b",
    "https%3A%2F%2Fapp.example.com%2Fcb", "https://app.example.com@evil.example/cb",
    "https://evil.example@app.example.com/cb", "https://user:pass@app.example.com/cb",
    f"{APP}@evil.example", "https://app.example.com%40evil.example/cb",
    "https://app.example.com\\@evil.example/cb", "https://app.example.com\\cb",
    f" {APP}", f"{APP} ", f"{APP}%20", f"{APP}%00", f"{APP}\t", "//app.example.com/cb", "/cb",
    "https://xn--pp-8ka.example.com/cb", "https://app.example.com./cb", "https://evil.example/cb",
]
NOT_TENANT = [
    "https://app.example.com/cb?tenant=b", f"{TENANT}&x=1", "https://app.example.com/cb?x=1&tenant=a",
    "https://app.example.com/cb?TENANT=a", "https://app.example.com/cb?tenant=A",
    "https://app.example.com/cb?tenant=%61", f"{TENANT}&tenant=a", f"{TENANT}&", f"{TENANT}#x",
    "https://app.example.com/cb?tenant=a%26x%3D1", "https://app.example.com/cb?tenant", APP,
]


@pytest.mark.parametrize(("registered", "variants"), [(APP, NOT_APP), (TENANT, NOT_TENANT)],
                         ids=["plain", "with-query"])
def test_redirect_uris_match_exactly(provider, registered, variants):
    rp = provider.register("Exact", "web", redirect_uris=[registered])
    agent = signed_in_agent(provider)
    # The registered URI itself works (so the refusals below are about the URI).
    assert "code" in query_of(agent.get("/authorize", params=rp.authorization().params)
                              .headers["Location"])
    anonymous = UserAgent(provider.url)
    for variant in variants:
        refused = assert_refused_at_edge if has_control(variant) else assert_error_page
        for prompt in (None, "none"):
            params = rp.authorization(redirect_uri=variant, prompt=prompt).params
            refused(agent.get("/authorize", params=params), what=variant)
        refused(agent.post("/authorize", rp.authorization(redirect_uri=variant).params),
                what=variant)
        # Nobody signed in: prompt=none's login_required would otherwise be redirected.
        params = rp.authorization(redirect_uri=variant, prompt="none").params
        refused(anonymous.get("/authorize", params=params), what=variant)


def test_a_registered_uri_sent_twice_or_with_another_is_an_error_page(provider, web):
    agent = signed_in_agent(provider)
    base = [(k, v) for k, v in web.authorization().params.items() if k != "redirect_uri"]
    for uris in ([web.redirect_uri, web.redirect_uri], [web.redirect_uri, "https://evil.example/"],
                 ["https://evil.example/", web.redirect_uri]):
        params = base + [("redirect_uri", u) for u in uris]
        assert_error_page(agent.get("/authorize", params=params), "invalid_request")


def test_another_clients_redirect_uri_is_an_error_page(provider, web):
    other = provider.register("Other", "web")
    params = web.authorization(redirect_uri=other.redirect_uri).params
    assert_error_page(signed_in_agent(provider).get("/authorize", params=params))


@pytest.mark.parametrize("client_id", ["unknown-client", "", None, "x" * 200, "Cloud"])
def test_an_unknown_client_is_an_error_page(provider, web, client_id):
    params = web.authorization(client_id=client_id).params
    for agent in (UserAgent(provider.url), signed_in_agent(provider)):
        assert_error_page(agent.get("/authorize", params=params), "invalid_client")
        assert_error_page(agent.get("/authorize", params={**params, "prompt": "none"}))


@pytest.mark.parametrize("count", [1, 2])
def test_no_redirect_uri_sent_is_an_error_page(provider, count):
    uris = [f"http://127.0.0.1:9/two/callback/{n}" for n in range(count)]
    rp = provider.register("Two", "web", redirect_uris=uris)
    params = rp.authorization(redirect_uri=None).params
    for agent in (UserAgent(provider.url), signed_in_agent(provider)):
        assert_error_page(agent.get("/authorize", params=params), "invalid_request")
        assert_error_page(agent.get("/authorize", params={**params, "prompt": "none"}))
    # Each registered URI, sent, works.
    for uri in uris:
        params = rp.authorization(redirect_uri=uri, prompt="none").params
        location = UserAgent(provider.url).get("/authorize", params=params).headers["Location"]
        assert location.startswith(uri + "?")


def test_errors_for_an_unregistered_uri_are_never_redirected(provider, web):
    """Requests that would be redirected errors with a good URI stay on a page."""
    evil = "https://evil.example/cb"
    agent = UserAgent(provider.url)
    for overrides in ({"response_type": "token"}, {"code_challenge": None},
                      {"code_challenge_method": "plain"}, {"max_age": "soon"},
                      {"prompt": "none login"}, {"request": "e30.e30."}):
        params = web.authorization(redirect_uri=evil, **overrides).params
        assert_error_page(agent.get("/authorize", params=params), what=overrides)


# -- No open redirects ---------------------------------------------------------------------

# Percent-encoded ones ("/%0d%0a...") are paths on the provider and may be kept.
EVIL_NEXT = [
    "https://evil.example/", "http://evil.example", "HTTPS://evil.example", "//evil.example",
    "///evil.example", "/\\evil.example", "\\\\evil.example", "/\\/evil.example",
    "https:evil.example", "https:/evil.example", "javascript:alert(1)", "data:text/html,x",
    " //evil.example", "/\t/evil.example", "/\r\nX-Injected: 1", "/%0d%0aX-Injected:%201",
    "\r\nLocation: //evil.example", "//evil.example/%2F..", "/%09/evil.example",
    "/%5Cevil.example", "@evil.example", "/\x00//evil.example",
]
NEXT_FIELD = re.compile(r'name="next" type="hidden" value="([^"]*)"')


def stays_on_provider(location: str, issuer: str) -> bool:
    """As a browser reads a Location: backslashes and control characters count."""
    if any(c in location for c in "\\\r\n\t"):
        return False
    if location.startswith("/"):
        return not location.startswith("//")
    return location.startswith(issuer + "/")


def test_login_next_never_leaves_the_provider(provider):
    for target in EVIL_NEXT:
        agent = UserAgent(provider.url)
        if has_control(target):
            assert_refused_at_edge(agent.get("/login", params={"next": target}), target)
            login = agent.get("/login")
            assert_refused_at_edge(agent.submit(login, {"email": MARY.email, "password":
                                                        MARY.password, "next": target},
                                                action="/login"), target)
            continue
        page = agent.get("/login", params={"next": target})
        assert page.status_code == 200
        kept = html.unescape(NEXT_FIELD.search(page.text).group(1))
        assert kept == "" or stays_on_provider(kept, provider.url), target
        # Even posted directly (the hidden field is the attacker's to fill).
        response = agent.submit(page, {"email": MARY.email, "password": MARY.password,
                                       "next": target}, action="/login")
        assert response.status_code == 303, target
        assert stays_on_provider(response.headers["Location"], provider.url), target
        assert "X-Injected" not in response.headers
        assert urlsplit(urljoin(provider.url, response.headers["Location"])).netloc == \
            urlsplit(provider.url).netloc
    # A path on the provider is kept (so the refusals are not vacuous).
    agent = UserAgent(provider.url)
    page = agent.get("/login", params={"next": "/authorize?client_id=x"})
    response = agent.login(MARY.email, MARY.password, page)
    assert response.headers["Location"] == "/authorize?client_id=x"


def test_post_logout_redirects_only_to_registered_uris_with_a_valid_hint(provider, web):
    bye = "http://127.0.0.1:9/cloud/bye"
    other = provider.register("Other", "web",
                              post_logout_redirect_uris=["http://127.0.0.1:9/other/bye"])
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    hint = web.redeem(code, authorization.verifier).json()["id_token"]

    def logout(**params):
        response = agent.get("/logout", params={"state": "s", **params})
        assert not response.is_redirect, (params, response.headers["Location"])
        return response

    # Without a hint: the person confirms, and is then not redirected.
    page = logout(post_logout_redirect_uri=bye, client_id=web.client_id)
    assert page.status_code == 200 and SIGN_OUT[language_of(page)] in page.text
    response = agent.submit(page, {"post_logout_redirect_uri": bye, "state": "s",
                                   "client_id": web.client_id})
    assert response.status_code == 200 and SIGNED_OUT[language_of(response)] in response.text
    # Unregistered URIs, near misses, another client's URI: signed out, no redirect.
    for uri in (f"{bye}/", f"{bye}?x=1", "http://127.0.0.1:9/cloud/byebye", "https://evil.example/",
                "//evil.example", "http://127.0.0.1:9/other/bye", "http://127.0.0.1:9/CLOUD/bye"):
        assert logout(id_token_hint=hint, post_logout_redirect_uri=uri).status_code == 200
        assert logout(post_logout_redirect_uri=uri).status_code == 200
    # A hint that is not valid: an error page.
    head, body, signature = hint.split(".")
    tampered = f"{head}.{body}.{signature[:-4]}AAAA"
    for bad in (tampered, f"{head}.{body}.", "not-a-jwt"):
        response = logout(id_token_hint=bad, post_logout_redirect_uri=bye)
        assert response.status_code == 400 and ERROR_PAGE[language_of(response)] in response.text
    # A hint for this client with another client's id: an error page.
    response = logout(id_token_hint=hint, post_logout_redirect_uri=bye, client_id=other.client_id)
    assert response.status_code == 400
    # The control: the registered URI with the hint redirects.
    response = agent.get("/logout", params={"id_token_hint": hint, "state": "s",
                                            "post_logout_redirect_uri": bye})
    assert response.status_code == 302 and response.headers["Location"] == f"{bye}?state=s"


# -- No dynamic registration ---------------------------------------------------------------


def test_there_is_no_dynamic_registration(provider):
    for path in ("/register", "/connect/register", "/registration", "/oauth/register",
                 "/clients"):
        for method in ("GET", "POST"):
            response = requests.request(method, f"{provider.url}{path}", timeout=10,
                                        json={"redirect_uris": ["https://evil.example/cb"]})
            assert response.status_code == 404, (method, path)
    meta = requests.get(f"{provider.url}/.well-known/openid-configuration", timeout=10).json()
    assert "registration_endpoint" not in meta


# -- Issuer on every authorization response ------------------------------------------------


def test_iss_is_on_every_authorization_response(provider, web):
    anonymous, agent = UserAgent(provider.url), signed_in_agent(provider)
    cases = [
        (agent, {}, None),
        (anonymous, {"prompt": "none"}, "login_required"),
        (agent, {"code_challenge": None}, "invalid_request"),
        (agent, {"prompt": "none login"}, "invalid_request"),
        (agent, {"max_age": "-1"}, "invalid_request"),
        (agent, {"response_type": "token"}, "unsupported_response_type"),
    ]
    for who, overrides, error in cases:
        for method in ("GET", "POST"):
            authorization = web.authorization(**overrides)
            if method == "GET":
                response = who.get("/authorize", params=authorization.params)
            else:
                response = who.post("/authorize", authorization.params)
            params = redirected(response, web)
            assert params["iss"] == provider.url, (overrides, method)
            assert params["state"] == authorization.state
            assert params.get("error") == error, (overrides, params)
            assert ("code" in params) == (error is None)
            if method == "POST":
                assert response.status_code == 303
    # access_denied and consent_required are checked in test_authorization_request.


def test_iss_is_on_errors_for_a_redirect_uri_whose_query_contains_iss(provider):
    rp = provider.register("Kiss", "web", redirect_uris=["http://127.0.0.1:9/kiss/cb?kiss=1"])
    authorization = rp.authorization(prompt="none")
    response = UserAgent(provider.url).get("/authorize", params=authorization.params)
    location = response.headers["Location"]
    assert location.startswith(rp.redirect_uri + "&")
    params = query_of(location)
    assert params["error"] == "login_required" and params["kiss"] == "1"
    assert params.get("iss") == provider.url, location


# -- Code flow only: no implicit flow, no password grant -----------------------------------


@pytest.mark.parametrize("response_type", [
    "token", "id_token", "id_token token", "code id_token", "code token", "code id_token token",
    "none", "CODE", "code code"])
def test_implicit_and_hybrid_response_types_are_refused(provider, web, response_type):
    authorization = web.authorization(response_type=response_type)
    response = signed_in_agent(provider).get("/authorize", params=authorization.params)
    location = response.headers["Location"]
    params = redirected(response, web)
    assert params["error"] == "unsupported_response_type" and params["iss"] == provider.url
    assert "#" not in location
    assert not {"code", "access_token", "id_token"} & set(params)


# "code\r\n" is refused at the edge (tests/provider/test_edge.py).
@pytest.mark.parametrize("response_type", ['token"', "t\u00f6ken", "code\\"])
def test_a_malformed_response_type_is_refused_not_a_500(provider, web, response_type):
    for redirect_uri in (web.redirect_uri, "https://evil.example/cb"):
        authorization = web.authorization(response_type=response_type, redirect_uri=redirect_uri)
        response = UserAgent(provider.url).get("/authorize", params=authorization.params)
        assert response.status_code < 500, response.status_code
        if redirect_uri == web.redirect_uri:
            params = redirected(response, web)
            assert params["error"] == "unsupported_response_type"
            assert params["iss"] == provider.url
        else:
            assert_error_page(response, "unsupported_response_type")


def test_the_password_grant_is_refused(provider, web):
    response = web.token(grant_type="password", username=MARY.email, password=MARY.password,
                         scope="openid")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"
    assert "access_token" not in response.json()
