"""The Members page over HTTP on a real provider with the demo people:
removing a member (whose next introspection says ``active: false``), making
a user administrator, requiring a second factor; and the refusals, each
changing nothing: a user posting the administrators' forms directly, no CSRF
token, another site, foreign ids, NUL bytes, an administrator removing
himself. On SQLite and PostgreSQL."""

import re

import pytest
from sqlalchemy import select

from claims.vocabulary import Role
from idp.directory.models import Customer, Membership, Person
from idp.infrastructure import database
from idp.protocol.tokens.models import TokenGrant
from tests.admin_console.helpers import in_english, outbox
from tests.admin_console.test_console_pages import BY_NAME, MARY, PHILIP, THOMAS, signed_in
from tests.provider.agents import UserAgent
from tests.snapshots import snapshot

EMMA = BY_NAME["Emma Taylor"]
API = "http://127.0.0.1:9/usage-api"


@pytest.fixture
def provider(provider):
    """The demo on a real server, every person reading English."""
    return in_english(provider)


def membership_id(provider, person, number) -> int:
    with database.new_session(provider.app) as session:
        return session.scalar(select(Membership.id).join(Person).join(Customer).where(
            Person.email == person.email, Customer.number == number))


def tokens(provider, rp, person, customer_number):
    agent = UserAgent(provider.url)
    authorization = rp.authorization(scope="openid customer", resource=API,
                                     customer_number=customer_number)
    code = agent.code_for(rp, authorization, email=person.email, password=person.password)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_removed_members_next_introspection_says_inactive(provider, web):
    """Thomas is a user of Smith ltd and the administrator of his household:
    Philip removes him from Smith ltd; his Smith ltd tokens stop at once,
    his household's live on."""
    api = provider.register("Usage API", "service", resource_uri=API)
    work = tokens(provider, web, THOMAS, "123456789")
    home = tokens(provider, web, THOMAS, "987654321")
    assert api.introspect(work["access_token"]).json()["active"] is True

    agent = signed_in(provider, PHILIP)
    thomas_id = membership_id(provider, THOMAS, "123456789")
    members = agent.get("/console/members")
    assert f'href="/console/members/remove?membership={thomas_id}"' in members.text
    confirm = agent.get("/console/members/remove", params={"membership": thomas_id})
    assert confirm.status_code == 200 and "Remove Thomas Taylor?" in confirm.text
    done = agent.follow(agent.submit(confirm, {"membership": str(thomas_id)}))
    assert "Thomas Taylor is no longer a member of customer number 123456789" in done.text

    assert api.introspect(work["access_token"]).json() == {"active": False}
    refused = web.refresh(work["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert api.introspect(home["access_token"]).json()["active"] is True
    assert web.refresh(home["refresh_token"]).status_code == 200
    with database.new_session(provider.app) as session:  # the families, revoked at once
        families = session.execute(select(Customer.number, TokenGrant.revoked_reason)
                                   .join(Customer, Customer.id == TokenGrant.customer_id)
                                   .join(Person).where(Person.email == THOMAS.email)).all()
    assert sorted(families) == [("123456789", "membership_removed"), ("987654321", None)]
    assert ("membership.removed", THOMAS.email,
            "You are no longer a member of customer 123456789") in outbox(provider.app)


def test_philip_makes_mary_administrator_and_requires_a_second_factor(provider):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    mary_id = membership_id(provider, MARY, "123456789")
    done = agent.follow(agent.submit(members, {"membership": str(mary_id)},
                                     action="/console/members/promote"))
    assert ("Mary Jones is now an administrator of customer number 123456789. We told Mary "
            "Jones and the other administrators (Philip Smith) by e-mail.") in done.text
    with database.new_session(provider.app) as session:
        assert session.get(Membership, mary_id).role is Role.ADMINISTRATOR
    assert sorted((kind, to) for kind, to, _ in outbox(provider.app)) == [
        ("promotion.confirmation", MARY.email), ("promotion.notice", PHILIP.email)]
    assert 'id="second-factor-state">not required' in done.text
    required = agent.follow(agent.submit(done, {"required": "1"},
                                         action="/console/second-factor"))
    assert "A second factor is now required for the administrators" in required.text
    assert 'id="second-factor-state">required' in required.text
    assert outbox(provider.app)[-1] == (
        "customer.second_factor", MARY.email,
        "Second factor required for the administrators of customer 123456789")


def test_the_household_page_offers_hand_over_not_invitations(provider):
    agent = signed_in(provider, THOMAS)
    agent.get("/console", params={"customer": "987654321"})
    members = agent.get("/console/members")
    assert "Hand administration over" in members.text
    assert "Make administrator" not in members.text and "Invite someone" not in members.text


ADMINISTRATORS_FORMS = [
    ("/console/members/remove", "membership"),
    ("/console/members/promote", "membership"),
    ("/console/members/exclude", "membership"),
    ("/console/second-factor", "required"),
    ("/console/self-promotion", "open"),
    ("/console/invitations", "email"),
    ("/console/invitations/withdraw", "invitation"),
]


@pytest.mark.parametrize(("path", "field"), ADMINISTRATORS_FORMS)
def test_a_user_posting_the_administrators_forms_changes_nothing(provider, path, field):
    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    value = {"membership": str(membership_id(provider, PHILIP, "123456789")),
             "required": "1", "open": "0", "email": "jane@example.com",
             "invitation": "1"}[field]
    before = snapshot(provider.app)
    response = agent.submit(home, {field: value}, action=path)
    assert response.status_code == 403
    assert "Only an administrator of this customer number can see this page." in response.text
    assert snapshot(provider.app) == before


@pytest.mark.parametrize(("path", "field"), ADMINISTRATORS_FORMS)
def test_without_a_csrf_token_or_from_another_site_nothing_changes(provider, path, field):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    value = {"membership": str(membership_id(provider, MARY, "123456789")),
             "required": "1", "open": "0", "email": "jane@example.com",
             "invitation": "1"}[field]
    before = snapshot(provider.app)
    no_token = agent.post(path, {field: value})
    page = agent.follow(no_token)
    assert "open too long" in page.text
    cross_site = agent.post(path, {field: value, "csrf_token": agent.csrf(members)},
                            headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403 and "sent from another site" in cross_site.text
    assert snapshot(provider.app) == before


def test_foreign_ids_nul_bytes_and_removing_oneself_change_nothing(provider):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    emma_id = membership_id(provider, EMMA, "987654321")  # the household's
    philip_id = membership_id(provider, PHILIP, "123456789")
    before = snapshot(provider.app)
    for path in ("/console/members/remove", "/console/members/promote"):
        foreign = agent.follow(agent.submit(members, {"membership": str(emma_id)},
                                            action=path))
        assert "This person is not a member of this customer number." in foreign.text
    confirm = agent.follow(agent.get("/console/members/remove",
                                     params={"membership": emma_id}))
    assert "This person is not a member of this customer number." in confirm.text
    himself = agent.follow(agent.submit(members, {"membership": str(philip_id)},
                                        action="/console/members/remove"))
    assert "You cannot remove yourself from this customer number." in himself.text
    assert "step down to user instead" in himself.text
    nul = agent.submit(members, {"membership": f"{emma_id}\x00"},
                       action="/console/members/remove")
    assert nul.status_code == 400  # refused at the edge ("No control characters")
    for value in ("1 OR 1=1", "９", "9" * 13, "-1", ""):
        page = agent.follow(agent.submit(members, {"membership": value},
                                         action="/console/members/remove"))
        assert "This person is not a member of this customer number." in page.text
    assert snapshot(provider.app) == before
    assert not re.search(r"Philip Smith is no longer", agent.get("/console/members").text)
