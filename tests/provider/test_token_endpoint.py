"""The token endpoint: codes ("Single-use codes"), refresh tokens ("Refresh
rotation with reuse detection"), client authentication, client credentials,
and no-store ("No caching of token responses"); the rules are in
docs/security.md."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from idp.directory.models import Person, PersonStatus, utcnow
from idp.infrastructure import database
from idp.protocol.tokens.models import AuthorizationCode, TokenGrant
from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")


def login_code(provider, rp, **params):
    agent = UserAgent(provider.url)
    authorization = rp.authorization(**params)
    return agent, authorization, agent.code_for(rp, authorization, email=MARY.email,
                                                password=MARY.password)


def tokens_for(provider, rp, **params):
    agent, authorization, code = login_code(provider, rp, **params)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return agent, response.json()


def run_sql(provider, statement):
    with provider.app.app_context():
        session = database.session()
        session.execute(statement)
        session.commit()


def error_of(response, status=400) -> str:
    """The error code of a token-endpoint error, after its exact status."""
    assert response.status_code == status, response.text
    return response.json()["error"]


def invalid_client(provider, response) -> None:
    """RFC 6749 §5.2: 401 and a Basic challenge (with its realm, RFC 7617 §2)."""
    assert error_of(response, 401) == "invalid_client"
    assert response.headers["WWW-Authenticate"] == f'Basic realm="{provider.url}"'


# -- client authentication -----------------------------------------------------

def test_client_secret_basic_and_post(provider, web):
    _, authorization, code = login_code(provider, web)
    posted = requests.post(f"{provider.url}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": web.redirect_uri,
        "code_verifier": authorization.verifier, "client_id": web.client_id,
        "client_secret": web.client_secret})
    assert posted.status_code == 200, posted.text
    _, tokens = tokens_for(provider, web)  # redeem() uses HTTP Basic
    assert tokens["access_token"]


@pytest.mark.parametrize("credentials", [
    ("right-id", "wrong-secret"), ("unknown-client", "x"), ("right-id", ""),
])
def test_wrong_client_credentials_are_invalid_client(provider, web, credentials):
    client_id = web.client_id if credentials[0] == "right-id" else credentials[0]
    response = requests.post(f"{provider.url}/token", timeout=10, auth=(client_id, credentials[1]),
                             data={"grant_type": "authorization_code", "code": "x"})
    invalid_client(provider, response)


def test_malformed_basic_header_is_invalid_client_not_a_crash(provider, web):
    # A real grant type: the grant reads the header (an unknown one is refused before).
    response = requests.post(f"{provider.url}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": "x", "redirect_uri": web.redirect_uri},
        headers={"Authorization": "Basic //79Ong="})  # b"\xff\xfe:x", not UTF-8
    invalid_client(provider, response)


def test_a_public_client_redeems_with_pkce_only(provider):
    app = provider.register("App", "native", redirect_uris=["http://127.0.0.1/callback"])
    _, tokens = tokens_for(provider, app)
    assert tokens["refresh_token"] and tokens["id_token"]


def test_no_store_on_token_responses_errors_included(provider, web):
    _, authorization, code = login_code(provider, web)
    ok = web.redeem(code, authorization.verifier)
    error = web.redeem(code, authorization.verifier)
    for response in (ok, error):
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["Pragma"] == "no-cache"


# -- authorization codes ---------------------------------------------------------

def test_code_reuse_is_refused_and_revokes_the_first_tokens(provider, web):
    _, authorization, code = login_code(provider, web)
    first = web.redeem(code, authorization.verifier).json()
    assert web.introspect(first["access_token"]).json()["active"] is True
    second = web.redeem(code, authorization.verifier)
    assert error_of(second) == "invalid_grant"
    assert web.introspect(first["access_token"]).json() == {"active": False}
    assert error_of(web.refresh(first["refresh_token"])) == "invalid_grant"


def test_parallel_redemption_has_one_winner(provider, web):
    _, authorization, code = login_code(provider, web)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: web.redeem(code, authorization.verifier), range(8)))
    assert sorted(r.status_code for r in results) == [200] + [400] * 7
    assert [r.json()["error"] for r in results if r.status_code == 400] == ["invalid_grant"] * 7


def test_an_expired_code_is_refused(provider, web):
    _, authorization, code = login_code(provider, web)
    run_sql(provider, update(AuthorizationCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert error_of(web.redeem(code, authorization.verifier)) == "invalid_grant"


def test_codes_live_at_most_60_seconds(provider, web):
    login_code(provider, web)
    with provider.app.app_context():
        code = database.session().query(AuthorizationCode).one()
        # The default, which is also the most KEYHOLDER_AUTHORIZATION_CODE_LIFETIME allows.
        assert provider.app.config["KEYHOLDER"].AUTHORIZATION_CODE_LIFETIME == 60
        assert code.expires_at - code.created_at == timedelta(seconds=60)


def test_a_code_is_bound_to_its_client(provider, web):
    other = provider.register("Foot 11", "web")
    _, authorization, code = login_code(provider, web)
    stolen = other.token(grant_type="authorization_code", code=code,
                         redirect_uri=web.redirect_uri, code_verifier=authorization.verifier)
    assert error_of(stolen) == "invalid_grant"


def test_a_code_is_bound_to_its_redirect_uri(provider):
    rp = provider.register("Portal", "web", redirect_uris=[
        "http://127.0.0.1:9/portal/a", "http://127.0.0.1:9/portal/b"])
    _, authorization, code = login_code(provider, rp)
    response = rp.token(grant_type="authorization_code", code=code, code_verifier=authorization
                        .verifier, redirect_uri="http://127.0.0.1:9/portal/b")
    assert error_of(response) == "invalid_grant"


def test_a_failed_pkce_attempt_burns_the_code(provider, web):
    _, authorization, code = login_code(provider, web)
    assert error_of(web.redeem(code, "x" * 43)) == "invalid_grant"
    assert error_of(web.redeem(code, authorization.verifier)) == "invalid_grant"


# -- refresh tokens ----------------------------------------------------------------

def test_refresh_rotates_and_reuse_kills_the_family(provider, web):
    _, tokens = tokens_for(provider, web)
    rotated = web.refresh(tokens["refresh_token"]).json()
    newer = web.refresh(rotated["refresh_token"]).json()
    assert web.introspect(newer["access_token"]).json()["active"] is True
    reused = web.refresh(tokens["refresh_token"])  # the first one, again: theft
    assert error_of(reused) == "invalid_grant"
    assert web.introspect(newer["access_token"]).json() == {"active": False}
    assert error_of(web.refresh(newer["refresh_token"])) == "invalid_grant"


def test_client_b_cannot_use_client_a_refresh_token(provider, web):
    other = provider.register("Foot 11", "web")
    _, tokens = tokens_for(provider, web)
    assert error_of(other.refresh(tokens["refresh_token"])) == "invalid_grant"
    assert web.refresh(tokens["refresh_token"]).status_code == 200  # still the owner's


def test_refresh_cannot_widen_the_scope(provider, web):
    _, tokens = tokens_for(provider, web, scope="openid email")
    wider = web.refresh(tokens["refresh_token"], scope="openid email profile")
    assert error_of(wider) == "invalid_scope"
    narrower = web.refresh(tokens["refresh_token"], scope="openid")
    assert narrower.status_code == 200 and narrower.json()["scope"] == "openid"


def test_refresh_has_an_absolute_lifetime(provider, web):
    _, tokens = tokens_for(provider, web)
    run_sql(provider, update(TokenGrant).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert error_of(web.refresh(tokens["refresh_token"])) == "invalid_grant"


def test_logout_revokes_the_sessions_refresh_tokens(provider, web):
    agent, tokens = tokens_for(provider, web)
    page = agent.get("/")
    agent.submit(page, {}, action="/logout")
    assert error_of(web.refresh(tokens["refresh_token"])) == "invalid_grant"
    assert web.introspect(tokens["access_token"]).json() == {"active": False}


def test_suspension_ends_tokens_and_session_at_once(provider, web):
    agent, tokens = tokens_for(provider, web)
    run_sql(provider, update(Person).where(Person.email == MARY.email)
            .values(status=PersonStatus.SUSPENDED))
    assert web.introspect(tokens["access_token"]).json() == {"active": False}
    assert error_of(web.refresh(tokens["refresh_token"])) == "invalid_grant"
    userinfo = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 401 and userinfo.json()["error"] == "invalid_token"
    silent = agent.authorize(web.authorization(prompt="none"))
    assert "error=login_required" in silent.headers["Location"]


def test_a_suspended_person_cannot_log_in(provider, web):
    run_sql(provider, update(Person).where(Person.email == MARY.email)
            .values(status=PersonStatus.SUSPENDED))
    agent = UserAgent(provider.url)
    page = agent.login(MARY.email, MARY.password)
    assert page.status_code == 403 and "suspended" in page.text


# -- client credentials ------------------------------------------------------------

def test_client_credentials_for_a_service(provider):
    service = provider.register("Usage API", "service")
    response = service.token(grant_type="client_credentials", scope="openid profile")
    assert response.status_code == 200, response.text
    token = response.json()
    assert "refresh_token" not in token and "id_token" not in token
    seen = service.introspect(token["access_token"]).json()
    assert seen["active"] is True and seen["sub"] == service.client_id
    assert "scope" not in seen  # no user scopes for a client acting for itself


def test_client_credentials_only_for_services(provider):
    web = provider.register("Other", "web", redirect_uris=["http://127.0.0.1/cb"])
    # Authenticated, but not allowed this grant: 400 (RFC 6749 §5.2).
    assert error_of(web.token(grant_type="client_credentials")) == "unauthorized_client"
    # A public client cannot authenticate for a grant that needs a secret.
    app = provider.register("App", "native", redirect_uris=["http://127.0.0.1/cb"])
    invalid_client(provider, app.token(grant_type="client_credentials"))
