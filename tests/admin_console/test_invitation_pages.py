"""Invitations over HTTP on a real provider with the demo people: Philip
invites from the Members page; the e-mailed link opens a page that changes
nothing; a new person joins with a name and a password, an existing one
signs in (the login's ``next`` comes back) and accepts. Refusals (used,
expired, unknown links, the wrong person, a member already, no CSRF token,
another site, NUL bytes) each show a clear page and change nothing. On
SQLite and PostgreSQL."""

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select, update

from idp.account.models import AccountLink
from idp.directory.models import Customer, Membership, Person, utcnow
from idp.infrastructure import database
from tests.admin_console.helpers import in_english, invitation_link, outbox
from tests.admin_console.test_console_pages import BY_NAME, MARY, PHILIP, signed_in
from tests.provider.agents import UserAgent
from tests.snapshots import snapshot

EMMA = BY_NAME["Emma Taylor"]
PASSWORD = "a kettle of seven blue herons"
NEW_FIELDS = {"name": "Jane Doe", "password": PASSWORD, "again": PASSWORD}


@pytest.fixture
def provider(provider):
    """The demo on a real server, every person reading English."""
    return in_english(provider)


def join(agent, page, **fields):
    """Post the invitation page's form with its token and ``fields``."""
    token = re.search(r'name="token" type="hidden" value="([^"]*)"', page.text).group(1)
    return agent.submit(page, {"token": html.unescape(token), **fields})


def words(response) -> str:
    """The page's text with its line breaks and indentation as single spaces."""
    return " ".join(html.unescape(response.text).split())


def invite(provider, email="jane.doe@smith-ltd.example", mobile="+32 470 99 99 99"):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    assert "Invite someone" in words(members)
    done = agent.follow(agent.submit(members, {"email": email, "mobile": mobile},
                                     action="/console/invitations"))
    assert f"We sent an invitation to {email.strip().lower()}." in words(done)
    assert "Invitations not accepted yet" in words(done)
    link, secret = invitation_link(provider.app, email.strip().lower())
    return link, secret


def member_numbers(provider, email) -> list[str]:
    with database.new_session(provider.app) as session:
        return sorted(session.scalars(select(Customer.number).join(Membership).join(Person)
                                      .where(Person.email == email)))


def test_a_new_person_joins_and_signs_in(provider):
    link, _ = invite(provider)
    assert link.startswith(provider.url + "/console/invitation?token=")
    jane = UserAgent(provider.url)
    before = snapshot(provider.app)
    page = jane.get(link)
    assert page.status_code == 200
    assert "Philip Smith invites jane.doe@smith-ltd.example to customer number 123456789" \
        in words(page)
    assert 'name="token"' in words(page) and "Choose a password" in words(page)
    assert snapshot(provider.app) == before  # opening the link changes nothing
    mismatch = join(jane, page, **{**NEW_FIELDS, "again": "something else entirely"})
    assert mismatch.status_code == 400 and "The two passwords are not the same." in words(mismatch)
    common = join(jane, page, **{**NEW_FIELDS, "password": "iloveyou", "again": "iloveyou"})
    assert common.status_code == 400 and "one of the most common ones" in words(common)
    missing = join(jane, page, name="", password="", again="")
    assert missing.status_code == 400 and "Please give your name" in words(missing)
    assert snapshot(provider.app) == before
    joined = join(jane, page, **NEW_FIELDS)
    assert joined.status_code == 200 and "Welcome, Jane Doe" in words(joined)
    assert "you are a user of customer number 123456789 (Smith ltd)" in words(joined)
    assert member_numbers(provider, "jane.doe@smith-ltd.example") == ["123456789"]
    # The link is spent; the new login works.
    again = join(jane, page, **NEW_FIELDS)
    assert again.status_code == 400 and "This link has been used already." in words(again)
    login = jane.get(html.unescape(_href(joined.text, "Sign in")))
    signed = jane.login("jane.doe@smith-ltd.example", PASSWORD, login)
    assert signed.status_code == 303 and signed.headers["Location"] == "/console"
    console = jane.get("/console")
    assert '<dd id="role"><strong>user</strong></dd>' in words(console)
    assert ("membership.invitation_accepted", PHILIP.email,
            "Jane Doe joined customer 123456789") in outbox(provider.app)


def _href(text: str, label: str) -> str:
    start = text.index(f">{label}</a>")
    return text[text.rindex('href="', 0, start) + 6:text.rindex('"', 0, start)]


def test_an_existing_person_signs_in_first_then_accepts(provider):
    link, secret = invite(provider, "Emma.Taylor@taylor-home.example", "")
    emma = UserAgent(provider.url)
    page = emma.get(link)
    assert "There is a login with emma.taylor@taylor-home.example already." in words(page)
    login_url = html.unescape(_href(page.text, "Sign in to accept"))
    query = parse_qs(urlsplit(login_url).query)
    assert query["next"] == [f"/console/invitation?token={secret}"]
    assert query["login_hint"] == [EMMA.email]
    login = emma.get(login_url)
    back = emma.login(EMMA.email, EMMA.password, login)
    assert back.status_code == 303 and back.headers["Location"] == query["next"][0]
    accept = emma.get(back.headers["Location"])
    assert "You are signed in as emma.taylor@taylor-home.example." in words(accept)
    done = emma.submit(accept, {"token": secret})
    assert done.status_code == 303 and done.headers["Location"] == "/console"
    console = emma.get("/console")
    assert "Welcome to Smith ltd: you are now a user of customer number 123456789." \
        in words(console)
    assert 'id="customer-number">123456789' in words(console)
    assert member_numbers(provider, EMMA.email) == ["123456789", "987654321"]


def test_the_wrong_person_and_a_member_already_are_told_and_nothing_changes(provider):
    link, secret = invite(provider, EMMA.email, "")
    mary = signed_in(provider, MARY)
    page = mary.get(link)
    assert f"You are signed in as {MARY.email}, but this invitation is for {EMMA.email}." \
        in words(page)
    assert "Accept the invitation" not in words(page)
    before = snapshot(provider.app)
    csrf = mary.csrf(mary.get("/console"))  # her page has no form: she may not accept
    forced = mary.post("/console/invitation/accept", {"token": secret, "csrf_token": csrf})
    assert forced.status_code == 400
    assert f"This invitation is for {EMMA.email}. Please sign in as {EMMA.email}" in words(forced)
    # Mary posts the new-person form for an address that has a login.
    new = mary.post("/console/invitation/new",
                    {"token": secret, "csrf_token": csrf, **NEW_FIELDS})
    assert new.status_code == 400 and "Please sign in with it" in words(new)
    assert snapshot(provider.app) == before
    # Invited while a member: the page says so; nothing changes.
    with database.write_session(provider.app) as session:
        link_row = session.scalar(select(AccountLink))
        emma = session.scalar(select(Person).where(Person.email == EMMA.email))
        customer = session.get(Customer, link_row.customer_id)
        session.add(Membership(person=emma, customer=customer))
    before = snapshot(provider.app)
    emma_agent = UserAgent(provider.url)
    member = emma_agent.get(link)
    assert member.status_code == 400
    assert f"{EMMA.email} is already a member of customer number 123456789." in words(member)
    assert snapshot(provider.app) == before


def test_used_expired_and_unknown_links_show_a_clear_page(provider):
    link, _ = invite(provider)
    visitor = UserAgent(provider.url)
    form_page = visitor.get(link)
    with database.write_session(provider.app) as session:
        session.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    before = snapshot(provider.app)
    for url, expected in ((link, "This link has expired."),
                          (link[:-3] + "abc", "This link is not valid."),
                          ("/console/invitation", "This link is not valid."),
                          ("/console/invitation?token=" + "x" * 5000,
                           "This link is not valid.")):
        page = visitor.get(url)
        assert page.status_code == 400 and expected in words(page)
        assert "This invitation cannot be used" in words(page)
    expired = join(visitor, form_page, **NEW_FIELDS)
    assert expired.status_code == 400 and "This link has expired." in words(expired)
    assert snapshot(provider.app) == before


def test_csrf_other_sites_and_nul_bytes_change_nothing(provider):
    link, secret = invite(provider)
    jane = UserAgent(provider.url)
    page = jane.get(link)
    before = snapshot(provider.app)
    no_token = jane.post("/console/invitation/new", {"token": secret, **NEW_FIELDS})
    assert no_token.status_code == 400 and "open too long" in words(no_token)
    cross_site = jane.post("/console/invitation/new",
                           {"token": secret, "csrf_token": jane.csrf(page), **NEW_FIELDS},
                           headers={"Origin": "https://evil.example"})
    assert cross_site.status_code == 403 and "sent from another site" in words(cross_site)
    for fields in ({"name": "Jane\x00"}, {"token": secret + "\x00"},
                   {"password": "a long pass\x00phrase", "again": "a long pass\x00phrase"}):
        nul = jane.submit(page, {"token": secret, **NEW_FIELDS, **fields})
        assert nul.status_code == 400  # refused at the edge ("No control characters")
    assert jane.get(link + "%00").status_code == 400
    assert snapshot(provider.app) == before
    assert join(jane, page, **NEW_FIELDS).status_code == 200  # the link still works


def test_an_invitation_form_with_a_bad_address_keeps_what_was_typed(provider):
    agent = signed_in(provider, PHILIP)
    members = agent.get("/console/members")
    before = snapshot(provider.app)
    refused = agent.submit(members, {"email": "jane at example", "mobile": "0470"},
                           action="/console/invitations")
    assert refused.status_code == 400 and 'role="alert" id="invite-message"' in words(refused)
    assert "This is not an e-mail address" in words(refused)
    assert 'value="jane at example"' in words(refused)
    member = agent.submit(members, {"email": MARY.email, "mobile": ""},
                          action="/console/invitations")
    assert member.status_code == 400
    assert f"{MARY.email} is already a member of customer number 123456789." in words(member)
    assert snapshot(provider.app) == before


def test_philip_withdraws_an_invitation_and_its_link_stops_working(provider):
    link, _ = invite(provider)
    philip = signed_in(provider, PHILIP)
    members = philip.get("/console/members")
    invitation_id = re.search(r'name="invitation" value="(\d+)"', members.text).group(1)
    done = philip.follow(philip.submit(members, {"invitation": invitation_id},
                                       action="/console/invitations/withdraw"))
    assert ("The invitation of jane.doe@smith-ltd.example is withdrawn: its link no longer "
            "works.") in words(done)
    assert "Invitations not accepted yet" not in done.text
    page = UserAgent(provider.url).get(link)
    assert page.status_code == 400 and "This link has expired." in words(page)
