"""The customer claims end to end (issue 4): tokens and UserInfo speak for the
chosen customer, the account chooser, the ``customer_number`` hint, and
freshness (introspection and refresh see a role change at once; a JWT keeps
what it was issued with until it expires)."""

import json

import jwt as pyjwt
import pytest
import requests
from sqlalchemy import delete, select, update

from claims.vocabulary import Role
from idp.directory.models import Customer, Membership, Person
from idp.directory.services import Directory
from idp.infrastructure import database
from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent, query_of

BY_NAME = {p.name: p for p in PEOPLE}
PHILIP, MARY, THOMAS = BY_NAME["Philip Smith"], BY_NAME["Mary Jones"], BY_NAME["Thomas Taylor"]
SCOPE = "openid profile customer phone"
ADMIN_WEB = ["bills", "usage:all", "usage:own_mobile", "options:all", "options:activate_paid",
             "options:activate_free:own_mobile", "bizz_club", "onedrive", "tv", "cloud",
             "foot11"]


def claims_of(token: str) -> dict:
    return pyjwt.decode(token, options={"verify_signature": False})


def sign_in(provider, rp, person, **params):
    """Authorize (choosing ``customer`` on the chooser if asked) and redeem."""
    agent = UserAgent(provider.url)
    authorization = rp.authorization(scope=SCOPE, **params)
    code = agent.code_for(rp, authorization, email=person.email, password=person.password)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return agent, response.json()


def userinfo(provider, access_token: str) -> requests.Response:
    return requests.get(f"{provider.url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {access_token}"})


def set_role(provider, email: str, number: str, role: Role) -> None:
    with provider.app.app_context():
        session = database.session()
        person = Directory(session).person(email)
        customer = Directory(session).customer(number)
        session.execute(update(Membership).where(Membership.person_id == person.id,
                                                 Membership.customer_id == customer.id)
                        .values(role=role))
        session.commit()


def test_an_administrator_on_the_web(provider, web):
    _, tokens = sign_in(provider, web, PHILIP)
    for claims in (claims_of(tokens["id_token"]), claims_of(tokens["access_token"]),
                   userinfo(provider, tokens["access_token"]).json(),
                   web.introspect(tokens["access_token"]).json()):
        assert claims["customer_number"] == "123456789"
        assert claims["role"] == "administrator" and claims["customer_type"] == "business"
        assert claims["entitlements"] == ADMIN_WEB
    assert claims_of(tokens["id_token"])["phone_number"] == "+32470000001"


def test_a_user_in_the_app_sees_only_her_own_mobile(provider):
    app = provider.register("MyApp", "native", redirect_uris=["http://127.0.0.1/callback"])
    _, tokens = sign_in(provider, app, MARY)
    access = claims_of(tokens["access_token"])
    assert access["role"] == "user" and access["customer_number"] == "123456789"
    assert access["entitlements"] == ["usage:own_mobile", "options:activate_free:own_mobile"]
    assert access["phone_number"] == "+32470000002"


def test_without_the_customer_scope_there_are_no_customer_claims(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid profile")
    code = agent.code_for(web, authorization, email=PHILIP.email, password=PHILIP.password)
    tokens = web.redeem(code, authorization.verifier).json()
    for claims in (claims_of(tokens["id_token"]), claims_of(tokens["access_token"])):
        assert not {"customer_number", "role", "entitlements", "phone_number"} & set(claims)


def test_the_account_chooser_for_a_person_in_two_customers(provider, web):
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope=SCOPE)
    page = agent.authorize(authorization, email=THOMAS.email, password=THOMAS.password)
    assert page.status_code == 200 and "Which customer number?" in page.text
    for text in ("Smith ltd", "123456789", "Taylor household", "987654321", "administrator",
                 "user"):
        assert text in page.text
    callback = agent.follow(agent.submit(page, {"customer": "987654321"}))
    code = query_of(callback.headers["Location"])["code"]
    tokens = web.redeem(code, authorization.verifier).json()
    home = claims_of(tokens["access_token"])
    assert home["customer_number"] == "987654321" and home["role"] == "administrator"
    assert home["customer_type"] == "residential"
    assert "bizz_club" not in home["entitlements"] and "onedrive" not in home["entitlements"]
    assert "phone_number" not in home  # no own mobile at home
    # The choice holds for the refresh tokens of this authorization.
    refreshed = web.refresh(tokens["refresh_token"]).json()
    assert claims_of(refreshed["access_token"])["customer_number"] == "987654321"
    assert claims_of(refreshed["id_token"])["customer_number"] == "987654321"
    # Switching is a new authorization: the chooser again, now for work.
    again = web.authorization(scope=SCOPE)
    page = agent.authorize(again)
    assert "Which customer number?" in page.text
    callback = agent.follow(agent.submit(page, {"customer": "123456789"}))
    work = web.redeem(query_of(callback.headers["Location"])["code"], again.verifier).json()
    assert claims_of(work["access_token"])["role"] == "user"
    assert claims_of(work["access_token"])["phone_number"] == "+32470000003"


def test_the_chooser_refuses_a_customer_of_someone_else_and_a_missing_csrf(provider, web):
    agent = UserAgent(provider.url)
    page = agent.authorize(web.authorization(scope=SCOPE), email=THOMAS.email,
                           password=THOMAS.password)
    forged = agent.submit(page, {"customer": "111111111"})
    assert forged.status_code == 200 and "Which customer number?" in forged.text
    no_csrf = agent.post(page.url, {"customer": "987654321"})
    assert no_csrf.status_code == 400 and "open too long" in no_csrf.text


@pytest.mark.parametrize("hint", ["987654321", "987 654 321", "987.654.321"])
def test_the_customer_number_hint_preselects(provider, web, hint):
    _, tokens = sign_in(provider, web, THOMAS, customer_number=hint)
    assert claims_of(tokens["access_token"])["customer_number"] == "987654321"


@pytest.mark.parametrize(("hint", "words"), [
    ("111111111", "not a member of customer number 111111111"),
    ("123456780", "not a member of customer number 123456780"),
    ("12345", "not a customer number"),
    ("１２３４５６７８９", "not a customer number"),
])
def test_a_hint_the_person_cannot_use_is_refused_clearly(provider, web, hint, words):
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope=SCOPE, customer_number=hint)
    response = agent.authorize(authorization, email=MARY.email, password=MARY.password)
    params = query_of(response.headers["Location"])
    assert params["error"] == "invalid_request" and words in params["error_description"]
    assert params["state"] == authorization.state and params["iss"] == provider.url


def test_prompt_none_needs_a_choice_or_a_hint(provider, web):
    agent, _ = sign_in(provider, web, THOMAS, customer_number="123456789")
    silent = agent.authorize(web.authorization(scope=SCOPE, prompt="none"))
    assert query_of(silent.headers["Location"])["error"] == "account_selection_required"
    hinted = agent.authorize(web.authorization(scope=SCOPE, prompt="none",
                                               customer_number="987654321"))
    assert "code" in query_of(hinted.headers["Location"])


def test_a_role_change_is_seen_at_once_where_the_directory_is_read(provider, web):
    _, tokens = sign_in(provider, web, MARY)
    assert web.introspect(tokens["access_token"]).json()["role"] == "user"
    set_role(provider, MARY.email, "123456789", Role.ADMINISTRATOR)
    # Introspection and UserInfo read the directory: administrator at once.
    seen = web.introspect(tokens["access_token"]).json()
    assert seen["active"] is True and seen["role"] == "administrator"
    assert "foot11" in seen["entitlements"]
    assert userinfo(provider, tokens["access_token"]).json()["role"] == "administrator"
    # The JWT issued before still says what it was issued with, until it expires.
    assert claims_of(tokens["access_token"])["role"] == "user"
    # A refresh issues tokens with the current role.
    refreshed = web.refresh(tokens["refresh_token"]).json()
    assert claims_of(refreshed["access_token"])["role"] == "administrator"
    assert claims_of(refreshed["id_token"])["role"] == "administrator"


def test_a_removed_membership_is_inactive_at_once(provider, web):
    _, tokens = sign_in(provider, web, MARY)
    with provider.app.app_context():
        session = database.session()
        mary = session.scalar(select(Person).where(Person.email == MARY.email))
        session.execute(delete(Membership).where(Membership.person_id == mary.id))
        session.commit()
    assert web.introspect(tokens["access_token"]).json() == {"active": False}
    assert userinfo(provider, tokens["access_token"]).status_code == 401
    assert web.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


def test_a_person_without_membership_gets_no_customer_claims(provider, web):
    with provider.app.app_context():
        from idp.infrastructure.passwords import PASSWORDS

        session = database.session()
        hasher = provider.app.extensions[PASSWORDS]
        Directory(session).add_person("solo@example.com", "Solo", hasher.hash("solo-password"),
                                      email_verified=True)
        session.commit()
    solo = type(MARY)("solo@example.com", "Solo", "solo-password", ())
    _, tokens = sign_in(provider, web, solo)
    assert "customer_number" not in claims_of(tokens["access_token"])
    assert "role" not in userinfo(provider, tokens["access_token"]).json()


def test_nothing_a_client_sends_sets_the_role(provider, web):
    claims_request = json.dumps({
        "userinfo": {"role": {"value": "administrator"}, "customer_number": {"value": "1"}},
        "id_token": {"role": {"essential": True, "value": "administrator"}}})
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope=SCOPE + " administrator admin role:administrator",
                                      claims=claims_request, role="administrator",
                                      customer_type="business", entitlements="foot11")
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    tokens = web.redeem(code, authorization.verifier, role="administrator",
                        customer_number="987654321", scope="openid administrator").json()
    assert "error" not in tokens, tokens
    for claims in (claims_of(tokens["id_token"]), claims_of(tokens["access_token"]),
                   userinfo(provider, tokens["access_token"]).json(),
                   web.introspect(tokens["access_token"], role="administrator").json()):
        assert claims["role"] == "user" and claims["customer_number"] == "123456789"
        assert "foot11" not in claims["entitlements"]
    assert set(tokens["scope"].split()) == set(SCOPE.split())
    refreshed = web.refresh(tokens["refresh_token"], role="administrator").json()
    assert claims_of(refreshed["access_token"])["role"] == "user"


def test_customer_claims_follow_the_customer_not_the_person(provider, web):
    # Thomas is a user at work and the administrator at home: two tokens, two roles.
    _, work = sign_in(provider, web, THOMAS, customer_number="123456789")
    _, home = sign_in(provider, web, THOMAS, customer_number="987654321")
    assert web.introspect(work["access_token"]).json()["role"] == "user"
    assert web.introspect(home["access_token"]).json()["role"] == "administrator"
    with provider.app.app_context():
        numbers = set(database.session().scalars(select(Customer.number)))
    assert {"123456789", "987654321"} <= numbers
