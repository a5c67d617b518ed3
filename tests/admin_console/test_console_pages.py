"""The console over HTTP on a real server: the login first, my role, the
customer-number form with its messages, re-authentication, CSRF and origin
checks, the app channel, administrators' pages."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from claims.vocabulary import Role
from idp.directory.models import AuditEvent, Customer, Membership, Person, utcnow
from idp.directory.services import OPERATOR, AuditAction, Directory
from idp.infrastructure import database
from idp.login.models import SsoSession
from keyholder.demo.data import PEOPLE
from tests.admin_console.helpers import directory_state, in_english, outbox
from tests.provider.agents import UserAgent, query_of

BY_NAME = {p.name: p for p in PEOPLE}
MARY, PHILIP, THOMAS = BY_NAME["Mary Jones"], BY_NAME["Philip Smith"], BY_NAME["Thomas Taylor"]


@pytest.fixture
def provider(provider):
    """The demo on a real server, every person reading English."""
    return in_english(provider)


def signed_in(provider, person) -> UserAgent:
    agent = UserAgent(provider.url)
    first = agent.get("/console")
    assert first.status_code == 302 and "/login?next=/console" in first.headers["Location"]
    page = agent.get(first.headers["Location"])
    done = agent.login(person.email, person.password, page)
    assert done.status_code == 303 and done.headers["Location"] == "/console"
    return agent


def role_of(provider, email) -> Role:
    with database.new_session(provider.app) as session:
        return session.scalar(select(Membership.role).join(Person).where(Person.email == email))


def alerts(page) -> str:
    return " ".join(line.strip() for line in page.text.splitlines() if 'role="alert"' in line
                    or 'role="status"' in line)


def test_mary_sees_user_and_becomes_administrator(provider):
    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    assert '<dd id="role"><strong>user</strong></dd>' in home.text
    assert "More functionalities" in home.text and "Become administrator" in home.text
    form = agent.get("/console/become-administrator")
    wrong = agent.submit(form, {"customer_number": "987 654 321"})
    assert wrong.status_code == 400 and "not the customer number of an account" in wrong.text
    cookie = agent.http.cookies.get("keyholder_sso", domain="127.0.0.1")
    right = agent.submit(wrong, {"customer_number": "123 456 789"})
    assert right.status_code == 303 and right.headers["Location"] == "/console"
    assert agent.http.cookies.get("keyholder_sso", domain="127.0.0.1") != cookie  # new id
    home = agent.get("/console")
    assert '<dd id="role"><strong>administrator</strong></dd>' in home.text
    assert "We told the other administrators by e-mail (Philip Smith)" in home.text
    assert role_of(provider, MARY.email) is Role.ADMINISTRATOR
    assert sorted(to for _, to, _ in outbox(provider.app)) == [MARY.email, PHILIP.email]


def test_an_old_login_must_type_the_password_again(provider):
    agent = signed_in(provider, MARY)
    with database.new_session(provider.app) as session:
        session.execute(update(SsoSession).values(auth_time=utcnow() - timedelta(minutes=11)))
        session.commit()
    form = agent.get("/console/become-administrator")
    assert 'name="password"' in form.text and "more than 10 minutes ago" in form.text
    before = directory_state(provider.app)
    wrong = agent.submit(form, {"customer_number": "123456789", "password": "not it"})
    assert wrong.status_code == 400 and "This password is not right" in wrong.text
    assert directory_state(provider.app) == before
    right = agent.submit(wrong, {"customer_number": "123456789", "password": MARY.password})
    assert right.status_code == 303
    assert role_of(provider, MARY.email) is Role.ADMINISTRATOR


def test_without_csrf_token_or_from_another_origin_nothing_changes(provider):
    agent = signed_in(provider, MARY)
    form = agent.get("/console/become-administrator")
    before = directory_state(provider.app)
    no_token = agent.post("/console/become-administrator", {"customer_number": "123456789"})
    assert no_token.status_code == 400 and "open too long" in no_token.text
    foreign = agent.post("/console/become-administrator",
                         {"customer_number": "123456789", "csrf_token": agent.csrf(form)},
                         headers={"Origin": "https://evil.example"})
    assert foreign.status_code == 403 and "sent from another site" in foreign.text
    cross_site = agent.post("/console/become-administrator",
                            {"customer_number": "123456789", "csrf_token": agent.csrf(form)},
                            headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"})
    assert cross_site.status_code == 403
    assert directory_state(provider.app) == before
    assert role_of(provider, MARY.email) is Role.USER


@pytest.mark.parametrize("typed", ["1" * 10_000, "123\x00456789", "' OR 1=1 --", "١٢٣٤٥٦٧٨٩"])
def test_bad_input_is_a_message_never_a_500(provider, typed):
    agent = signed_in(provider, MARY)
    form = agent.get("/console/become-administrator")
    before = directory_state(provider.app)
    response = agent.submit(form, {"customer_number": typed})
    assert response.status_code == 400 and 'role="alert"' in response.text
    assert directory_state(provider.app) == before


def test_a_session_started_in_the_app_cannot_promote(provider):
    app = provider.register("MyApp", "native", redirect_uris=["http://127.0.0.1/callback"])
    agent = UserAgent(provider.url)
    callback = agent.authorize(app.authorization(scope="openid customer"), email=MARY.email,
                               password=MARY.password)
    assert "code" in query_of(callback.headers["Location"])
    form = agent.get("/console/become-administrator")
    refused = agent.submit(form, {"customer_number": "123456789"})
    assert refused.status_code == 400
    assert "done on the web site, not in the app" in refused.text
    assert role_of(provider, MARY.email) is Role.USER


def test_letting_the_administrators_know_by_button(provider):
    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    told = agent.follow(agent.submit(home, {}, action="/console/tell-administrators"))
    assert "We told Philip Smith by e-mail" in told.text
    assert [(kind, to) for kind, to, _ in outbox(provider.app)] == [
        ("promotion.intent", PHILIP.email)]


def test_a_user_cannot_open_administrators_pages(provider):
    agent = signed_in(provider, MARY)
    for path in ("/console/members", "/console/audit", "/console/step-down"):
        page = agent.get(path)
        assert page.status_code == 403 and "Only an administrator" in page.text


def test_the_audit_trail_shows_fifty_events_a_page_newest_first(provider):
    with database.write_session(provider.app) as session:
        smith = session.scalar(select(Customer).where(Customer.number == "123456789"))
        mary = session.scalar(select(Person).where(Person.email == MARY.email))
        for n in range(55):
            Directory(session).record(AuditAction.MEMBER_EXCLUDED if n % 2
                                      else AuditAction.MEMBER_INCLUDED, OPERATOR,
                                      customer=smith, person=mary)
        last = session.scalar(select(func.max(AuditEvent.id)))
    agent = signed_in(provider, PHILIP)
    first = agent.get("/console/audit")
    rows = re.findall(r"<tr>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>", first.text)
    assert len(rows) == 50 and rows[0] == \
        "Our helpdesk allowed Mary Jones again to become an administrator."  # the 55th
    older = re.search(r'href="(/console/audit\?before=\d+)"', first.text)
    assert older, "no way to the older events"
    second = agent.get(older.group(1))
    rest = re.findall(r"<tr>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>", second.text)
    with database.new_session(provider.app) as session:
        total = session.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.customer_id == smith.id))
    assert len(rest) == total - 50 and f"before={last - 49}" in older.group(1)
    assert 'href="/console/audit?before=' not in second.text


def test_philip_administers_members(provider):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    assert members.status_code == 200
    for person in (MARY, THOMAS):
        assert person.name in members.text
    with database.new_session(provider.app) as session:
        mary_id = session.scalar(select(Membership.id).join(Person)
                                 .where(Person.email == MARY.email))
    done = agent.follow(agent.submit(members, {"membership": str(mary_id)},
                                     action="/console/members/exclude"))
    assert "can no longer become administrator" in done.text
    closed = agent.follow(agent.submit(done, {"open": "0"}, action="/console/self-promotion"))
    assert "Self-promotion is now closed." in closed.text
    audit = agent.get("/console/audit")
    # Sentences, with names and "you" for the reader; never an action's code.
    assert "You closed self-promotion." in audit.text
    assert "You excluded Mary Jones from administration." in audit.text
    assert "self_promotion_closed" not in audit.text and "membership." not in audit.text
    # A membership id of another customer is not Philip's to touch.
    with database.new_session(provider.app) as session:
        emma_id = session.scalar(select(Membership.id).join(Person)
                                 .where(Person.email == BY_NAME["Emma Taylor"].email))
    foreign = agent.follow(agent.submit(closed, {"membership": str(emma_id)},
                                        action="/console/members/exclude"))
    assert "not a member of this customer number" in foreign.text


def test_stepping_down_warns_the_last_administrator(provider):
    agent = signed_in(provider, PHILIP)
    page = agent.get("/console/step-down")
    assert "You are the only administrator." in page.text
    done = agent.follow(agent.submit(page, {}))
    assert "It has no administrator any more." in done.text
    assert role_of(provider, PHILIP.email) is Role.USER


def test_thomas_switches_customer_and_hands_the_household_over(provider):
    agent = signed_in(provider, THOMAS)
    home = agent.get("/console")
    assert 'id="customer-number">123456789' in home.text  # his first membership
    switched = agent.follow(agent.get("/console", params={"customer": "987654321"}))
    assert 'id="customer-number">987654321' in switched.text
    assert '<dd id="role"><strong>administrator</strong></dd>' in switched.text
    members = agent.get("/console/members")
    with database.new_session(provider.app) as session:
        emma_id = session.scalar(select(Membership.id).join(Person)
                                 .where(Person.email == BY_NAME["Emma Taylor"].email))
    done = agent.follow(agent.submit(members, {"membership": str(emma_id)},
                                     action="/console/hand-over"))
    assert "Emma Taylor is now the administrator; you are a user." in done.text
    assert '<dd id="role"><strong>user</strong></dd>' in done.text
    assert sorted(to for _, to, _ in outbox(provider.app)) == [
        BY_NAME["Emma Taylor"].email, THOMAS.email]
    refused = agent.follow(agent.get("/console", params={"customer": "555555555"}))
    assert "You are not a member of that customer number." in refused.text
