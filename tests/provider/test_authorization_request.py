"""The authorization endpoint, conformance-suite style ("OpenID conformance",
docs/security.md): what a relying party may send and what must happen, over
real HTTP with ``requests``. Runs on SQLite and PostgreSQL.

Covered: reordered and unknown parameters; no nonce; scope claims; prompt
(login, none); max_age and auth_time; id_token_hint; login_hint, ui_locales,
acr_values; POST; request / request_uri refused; consent for clients that
are not first-party, with its CSRF token."""

from __future__ import annotations

import html
import time

import pytest
import requests
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet

from keyholder.demo.data import PEOPLE
from tests.provider.agents import FORM_ACTION, RelyingParty, UserAgent, query_of

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
PHILIP = next(p for p in PEOPLE if p.name == "Philip Smith")
# Mary reads the provider's pages in French (her saved language).
ERROR_PAGE_FR = "Cette demande de connexion ne peut pas être traitée"


def jwt_claims(provider, token: str, alg: str = "RS256") -> dict:
    jwks = KeySet.import_key_set(requests.get(f"{provider.url}/jwks.json", timeout=10).json())
    return jose_jwt.decode(token, jwks, algorithms=[alg]).claims


def redeem(provider, rp: RelyingParty, code: str, verifier: str) -> tuple[dict, dict]:
    """The token response and the verified ID token claims."""
    response = rp.redeem(code, verifier)
    assert response.status_code == 200, response.text
    tokens = response.json()
    return tokens, jwt_claims(provider, tokens["id_token"])


def sign_in(provider, rp: RelyingParty, agent: UserAgent, person=MARY, **overrides):
    """A whole authorization (logging in if asked), redeemed: (tokens, ID token claims)."""
    authorization = rp.authorization(**overrides)
    code = agent.code_for(rp, authorization, email=person.email, password=person.password)
    return redeem(provider, rp, code, authorization.verifier)


def signed_in_agent(provider, person=MARY) -> UserAgent:
    agent = UserAgent(provider.url)
    assert agent.login(person.email, person.password).status_code == 303
    return agent


def is_login_redirect(response) -> bool:
    return response.is_redirect and response.headers["Location"].startswith("/login?")


def callback(response, rp: RelyingParty) -> dict[str, str]:
    """The parameters of a redirect to the client's registered URI."""
    assert response.is_redirect, (response.status_code, response.text[:300])
    assert response.headers["Location"].startswith(rp.redirect_uri + "?")
    return query_of(response.headers["Location"])


# -- Parameters -----------------------------------------------------------------------


def test_reordered_and_unknown_parameters_are_accepted(provider, web):
    agent = signed_in_agent(provider)
    authorization = web.authorization()
    params = list(reversed(authorization.params.items()))
    params += [("unknown_parameter", "whatever"), ("display", "page"), ("claims_locales", "nl")]
    params.insert(2, ("x-vendor-extension", "1"))
    params = callback(agent.get("/authorize", params=params), web)
    assert params["state"] == authorization.state and params["iss"] == provider.url
    redeem(provider, web, params["code"], authorization.verifier)


def test_a_request_without_nonce_succeeds_and_the_id_token_has_no_nonce(provider, web):
    _, claims = sign_in(provider, web, UserAgent(provider.url), nonce=None)
    assert "nonce" not in claims
    # ... while a nonce, when sent, is echoed.
    agent = signed_in_agent(provider)
    _, claims = sign_in(provider, web, agent, nonce="n-0S6_WzA2Mj")
    assert claims["nonce"] == "n-0S6_WzA2Mj"


@pytest.mark.parametrize(("scope", "released", "withheld"), [
    ("openid", set(), {"name", "locale", "email", "email_verified", "phone_number"}),
    ("openid profile", {"name", "locale"}, {"email", "email_verified", "phone_number"}),
    ("openid email", {"email", "email_verified"}, {"name", "locale", "phone_number"}),
    ("openid phone", {"phone_number"}, {"name", "locale", "email", "email_verified"}),
])
def test_scope_claims_are_released_only_when_asked(provider, web, scope, released, withheld):
    tokens, claims = sign_in(provider, web, UserAgent(provider.url), scope=scope)
    assert tokens["scope"] == scope
    info = requests.get(f"{provider.url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    for name, seen in (("ID token", claims), ("UserInfo", info)):
        assert released <= set(seen), (name, seen)
        assert not withheld & set(seen), (name, seen)
    assert info["sub"] == claims["sub"]


def test_unknown_scopes_are_dropped_and_admin_is_ignored(provider, web):
    claims_request = '{"id_token": {"role": {"essential": true, "value": "administrator"}}}'
    tokens, claims = sign_in(provider, web, UserAgent(provider.url),
                             scope="openid admin profile made-up-scope admin",
                             claims=claims_request)
    assert tokens["scope"] == "openid profile"
    access = jwt_claims(provider, tokens["access_token"], "ES256")
    assert "admin" not in access.get("scope", "").split()
    for seen in (claims, access):
        assert "role" not in seen and "admin" not in seen
    seen = web.introspect(tokens["access_token"]).json()
    assert seen["active"] is True and "admin" not in seen["scope"].split()


# -- prompt, max_age, id_token_hint -----------------------------------------------------


def test_prompt_login_forces_the_login_form_and_moves_auth_time(provider, web):
    agent = UserAgent(provider.url)
    _, first = sign_in(provider, web, agent)
    time.sleep(1.1)
    authorization = web.authorization(prompt="login")
    response = agent.get("/authorize", params=authorization.params)
    assert is_login_redirect(response)  # although a session exists
    page = agent.get(response.headers["Location"])
    assert page.status_code == 200 and 'action="/login"' in page.text
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    _, second = redeem(provider, web, code, authorization.verifier)
    assert second["sub"] == first["sub"]
    assert second["auth_time"] > first["auth_time"]
    assert second["sid"] != first["sid"]


def test_prompt_none_without_a_session_is_login_required(provider, web):
    authorization = web.authorization(prompt="none")
    response = UserAgent(provider.url).get("/authorize", params=authorization.params)
    params = callback(response, web)
    assert params["error"] == "login_required"
    assert params["state"] == authorization.state and params["iss"] == provider.url
    assert "code" not in params


def test_prompt_none_with_a_session_is_silent(provider, web):
    agent = UserAgent(provider.url)
    _, first = sign_in(provider, web, agent)
    authorization = web.authorization(prompt="none")
    params = callback(agent.get("/authorize", params=authorization.params), web)
    assert params["state"] == authorization.state and params["iss"] == provider.url
    _, claims = redeem(provider, web, params["code"], authorization.verifier)
    assert claims["sub"] == first["sub"] and claims["sid"] == first["sid"]


def test_max_age_zero_forces_login_and_a_large_max_age_does_not(provider, web):
    agent = UserAgent(provider.url)
    _, first = sign_in(provider, web, agent)

    # A large max_age: the session is young enough, no login form.
    authorization = web.authorization(max_age="3600")
    params = callback(agent.get("/authorize", params=authorization.params), web)
    _, claims = redeem(provider, web, params["code"], authorization.verifier)
    assert claims["auth_time"] == first["auth_time"] and claims["sid"] == first["sid"]

    # max_age=0 with prompt=none: a login is needed, so login_required.
    silent = web.authorization(max_age="0", prompt="none")
    params = callback(agent.get("/authorize", params=silent.params), web)
    assert params["error"] == "login_required" and params["iss"] == provider.url

    # max_age=0: the login form, then a new authentication.
    authorization = web.authorization(max_age="0")
    assert is_login_redirect(agent.get("/authorize", params=authorization.params))
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    _, claims = redeem(provider, web, code, authorization.verifier)
    assert isinstance(claims["auth_time"], int)
    assert claims["auth_time"] >= first["auth_time"] and claims["sid"] != first["sid"]
    assert abs(claims["auth_time"] - time.time()) < 30


@pytest.mark.parametrize("overrides", [{"prompt": "login"}, {"max_age": "0"}],
                         ids=["prompt-login", "max-age-0"])
def test_a_repeated_request_that_demands_a_login_asks_again(provider, web, overrides):
    agent = UserAgent(provider.url)
    authorization = web.authorization(**overrides)
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    redeem(provider, web, code, authorization.verifier)
    time.sleep(1.1)
    again = agent.get("/authorize", params=authorization.params)
    assert is_login_redirect(again), again.headers.get("Location")


def test_max_age_that_is_not_a_number_is_an_invalid_request(provider, web):
    agent = signed_in_agent(provider)
    authorization = web.authorization(max_age="soon")
    params = callback(agent.get("/authorize", params=authorization.params), web)
    assert params["error"] == "invalid_request" and params["iss"] == provider.url
    assert params["state"] == authorization.state and "code" not in params


def test_id_token_hint(provider, web):
    philip_tokens, philip = sign_in(provider, web, UserAgent(provider.url), person=PHILIP)
    philip_hint = philip_tokens["id_token"]
    agent = UserAgent(provider.url)
    mary_tokens, mary = sign_in(provider, web, agent)

    # Mary's own hint: silent.
    authorization = web.authorization(prompt="none", id_token_hint=mary_tokens["id_token"])
    assert "code" in callback(agent.get("/authorize", params=authorization.params), web)

    # Another person's hint with prompt=none: login_required, never Mary's code.
    authorization = web.authorization(prompt="none", id_token_hint=philip_hint)
    params = callback(agent.get("/authorize", params=authorization.params), web)
    assert params["error"] == "login_required" and params["iss"] == provider.url
    assert params["state"] == authorization.state

    # Without prompt=none: the login form, and whoever logs in gets the code.
    authorization = web.authorization(id_token_hint=philip_hint)
    assert is_login_redirect(agent.get("/authorize", params=authorization.params))
    code = agent.code_for(web, authorization, email=PHILIP.email, password=PHILIP.password)
    _, claims = redeem(provider, web, code, authorization.verifier)
    assert claims["sub"] == philip["sub"] != mary["sub"]


def test_login_hint_prefills_the_email_field(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(login_hint=MARY.email)
    response = agent.get("/authorize", params=authorization.params)
    assert is_login_redirect(response)
    page = agent.get(response.headers["Location"])
    assert f'value="{MARY.email}"' in page.text
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    redeem(provider, web, code, authorization.verifier)


def test_ui_locales_and_acr_values_are_accepted(provider, web):
    for extra in ({"ui_locales": "nl-BE fr en"}, {"acr_values": "urn:mace:incommon:iap:silver"},
                  {"ui_locales": "en", "acr_values": "1 2", "claims_locales": "en"}):
        agent = UserAgent(provider.url)
        _, claims = sign_in(provider, web, agent, **extra)
        assert claims["auth_time"]


def test_post_to_the_authorization_endpoint_works(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    first = agent.post("/authorize", authorization.params)
    assert first.status_code == 303 and first.headers["Location"].startswith("/login?")
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password,
                          method="POST")
    redeem(provider, web, code, authorization.verifier)
    # With a session, the POST answers with the code, by 303 (RFC 9700 §4.11).
    authorization = web.authorization()
    response = agent.post("/authorize", authorization.params)
    assert response.status_code == 303
    params = callback(response, web)
    assert params["iss"] == provider.url
    redeem(provider, web, params["code"], authorization.verifier)


@pytest.mark.parametrize(("parameter", "value", "error"), [
    ("request", "eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCBhZG1pbiJ9.", "request_not_supported"),
    ("request_uri", "https://evil.example/request.jwt", "request_uri_not_supported"),
    ("request_uri", "urn:ietf:params:oauth:request_uri:abc", "request_uri_not_supported"),
])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_request_objects_are_refused_on_an_error_page(provider, web, parameter, value, error,
                                                      method):
    agent = signed_in_agent(provider)
    params = web.authorization(**{parameter: value}).params
    if method == "GET":
        response = agent.get("/authorize", params=params)
    else:
        response = agent.post("/authorize", params)
    assert response.status_code == 400 and "Location" not in response.headers
    assert ERROR_PAGE_FR in response.text and f"<code>{error}</code>" in response.text


# -- Consent for clients that are not first-party ---------------------------------------


@pytest.fixture
def partner(provider) -> RelyingParty:
    return provider.register("Partner", "web", first_party=False)


def consent_page(agent: UserAgent, rp: RelyingParty, **overrides):
    authorization = rp.authorization(**overrides)
    page = agent.get("/authorize", params=authorization.params)
    assert page.status_code == 200 and 'name="decision"' in page.text, page.status_code
    return authorization, page


def test_consent_is_asked_and_dont_allow_is_access_denied(provider, partner):
    agent = signed_in_agent(provider)
    authorization, page = consent_page(agent, partner, scope="openid email")
    assert "Autoriser Partner ?" in page.text and "Voir votre adresse e-mail" in page.text
    response = agent.submit(page, {"decision": "deny"})
    assert response.status_code == 303
    params = callback(response, partner)
    assert params["error"] == "access_denied" and "code" not in params
    assert params["state"] == authorization.state and params["iss"] == provider.url
    # Nothing was remembered: the page comes again.
    consent_page(agent, partner, scope="openid email")


def test_consent_allowed_is_remembered_and_asked_again_when_needed(provider, partner):
    agent = signed_in_agent(provider)
    authorization, page = consent_page(agent, partner)
    params = callback(agent.submit(page, {"decision": "allow"}), partner)
    assert params["iss"] == provider.url and params["state"] == authorization.state
    redeem(provider, partner, params["code"], authorization.verifier)

    # Remembered: no page the second time, and prompt=none is silent.
    for overrides in ({}, {"prompt": "none"}, {"scope": "openid"}):
        authorization = partner.authorization(**overrides)
        params = callback(agent.get("/authorize", params=authorization.params), partner)
        redeem(provider, partner, params["code"], authorization.verifier)

    # prompt=consent shows it again.
    consent_page(agent, partner, prompt="consent")
    # More than was allowed: asked again; with prompt=none, consent_required.
    consent_page(agent, partner, scope="openid profile email phone")
    authorization = partner.authorization(scope="openid phone", prompt="none")
    params = callback(agent.get("/authorize", params=authorization.params), partner)
    assert params["error"] == "consent_required" and "code" not in params
    assert params["state"] == authorization.state and params["iss"] == provider.url

    # Consent is per person: Philip is asked too.
    consent_page(signed_in_agent(provider, PHILIP), partner)


def test_prompt_none_without_consent_is_consent_required(provider, partner):
    agent = signed_in_agent(provider)
    authorization = partner.authorization(prompt="none")
    params = callback(agent.get("/authorize", params=authorization.params), partner)
    assert params["error"] == "consent_required" and "code" not in params
    assert params["iss"] == provider.url and params["state"] == authorization.state


@pytest.mark.parametrize("token", [None, "", "forged-csrf-token"])
def test_consent_post_without_a_valid_csrf_token_is_refused(provider, partner, token):
    agent = signed_in_agent(provider)
    _, page = consent_page(agent, partner)
    action = html.unescape(FORM_ACTION.search(page.text).group(1))
    data = {"decision": "allow"} if token is None else {"decision": "allow", "csrf_token": token}
    response = agent.post(action, data)
    assert response.status_code == 400 and "Location" not in response.headers
    assert "code=" not in response.text and 'name="decision"' in response.text
    # Nothing was recorded.
    params = callback(agent.get("/authorize", params=partner.authorization(
        prompt="none").params), partner)
    assert params["error"] == "consent_required"
