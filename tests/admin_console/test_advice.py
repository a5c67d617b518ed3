"""Every page's advice leads somewhere real: a household member is told to
ask the administrator (by name) to hand over; "closed" says who can open it;
"ask an administrator to make you one" names administrators who have a
"Make administrator" button; an unverified address comes with a "Send the
link again" button that sends one (throttled). The rules' words are tested
without a database (they are pure functions of the rows given); the pages
on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import update

from admin_console.eligibility import Refusal, may_promote, names, residential_taken
from claims.vocabulary import CustomerType, Role
from idp.directory.models import Customer, Membership, Person, PersonStatus
from idp.infrastructure import database
from tests.admin_console.helpers import in_english, outbox
from tests.admin_console.test_console_pages import BY_NAME, MARY, PHILIP, signed_in
from tests.snapshots import snapshot

EMMA = BY_NAME["Emma Taylor"]


@pytest.fixture
def provider(provider):
    """The demo on a real server, every person reading English."""
    return in_english(provider)


def words(response) -> str:
    return " ".join(response.text.split())


def rows(customer_type=CustomerType.BUSINESS, *, open_=True, excluded=False, verified=True):
    customer = Customer(number="123456789", name="Smith ltd", type=customer_type,
                        self_promotion_open=open_)
    person = Person(email="mary@smith.example", name="Mary", email_verified=verified,
                    status=PersonStatus.ACTIVE)
    member = Membership(person=person, customer=customer, role=Role.USER,
                        excluded_from_administration=excluded)
    return person, member, customer


@pytest.mark.parametrize(("case", "administrators", "code", "sentence"), [
    ("closed", ["Philip", "Anna"], Refusal.CLOSED,
     "The administrators of customer number 123456789 have closed self-promotion. Only an "
     "administrator can open it again: Philip or Anna. Please ask Philip or Anna to make you "
     "an administrator on the Members page of the console."),
    ("closed", [], Refusal.CLOSED,
     "The administrators of customer number 123456789 have closed self-promotion. It has no "
     "administrator to open it again, so please contact our helpdesk."),
    ("closed household", ["Thomas"], Refusal.CLOSED,
     "The administrators of customer number 123456789 have closed self-promotion. Only an "
     "administrator can open it again: Thomas. Please ask the administrator, Thomas, to hand "
     "administration over to you on the Members page of the console."),
    ("excluded", ["A", "B", "C", "D", "E"], Refusal.EXCLUDED,
     "An administrator of customer number 123456789 has excluded you from administration. "
     "Please ask A, B, C or 2 more to make you an administrator on the Members page of the "
     "console."),
    ("excluded", [], Refusal.EXCLUDED,
     "An administrator of customer number 123456789 has excluded you from administration. It "
     "has no administrator now, so please contact our helpdesk."),
    ("unverified", ["Philip"], Refusal.UNVERIFIED,
     "Please confirm your e-mail address first: administrators are told of changes by "
     "e-mail. Follow the link we sent to mary@smith.example, or send the link again."),
])
def test_each_refusal_names_who_can_help_and_how(case, administrators, code, sentence):
    person, member, customer = rows(
        CustomerType.RESIDENTIAL if "household" in case else CustomerType.BUSINESS,
        open_="closed" not in case, excluded=case == "excluded",
        verified=case != "unverified")
    decision = may_promote(person, member, customer, "web", administrators)
    assert decision.code is code
    assert decision.message == sentence


def test_a_household_member_is_told_to_ask_the_administrator_by_name():
    _, _, customer = rows(CustomerType.RESIDENTIAL)
    assert residential_taken(customer, ["Thomas Taylor"]).message.endswith(
        "Please ask the administrator, Thomas Taylor, to hand administration over to you on "
        "the Members page of the console.")
    assert names(["A", "B"], "and") == "A and B" and names([]) == ""


def test_emma_sees_why_before_typing_anything(provider):
    agent = signed_in(provider, EMMA)
    home = words(agent.get("/console"))
    assert ("Customer number 987654321 is a residential customer, which has one "
            "administrator, and it has one already. Please ask the administrator, Thomas "
            "Taylor, to hand administration over to you") in home
    assert 'href="/console/become-administrator"' not in home
    assert "Let the administrators know" in home  # Thomas can be told she would like to


def test_closed_self_promotion_names_who_can_open_it(provider):
    philip = signed_in(provider, PHILIP)
    members = philip.get("/console/members")
    philip.submit(members, {"open": "0"}, action="/console/self-promotion")
    assert ('users cannot become administrator by themselves; you can make one with "Make '
            'administrator" above.') in words(philip.get("/console/members"))
    mary = words(signed_in(provider, MARY).get("/console"))
    assert ("have closed self-promotion. Only an administrator can open it again: Philip "
            "Smith. Please ask Philip Smith to make you an administrator on the Members page "
            "of the console.") in mary


def test_an_unverified_address_comes_with_a_button_that_sends_the_link(provider):
    with database.write_session(provider.app) as session:
        session.execute(update(Person).where(Person.email == MARY.email)
                        .values(email_verified=False))
    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    assert "Follow the link we sent to mary.jones@smith-ltd.example, or send the link again." \
        in words(home)
    assert "Send the link again" in home.text
    become = agent.get("/console/become-administrator")
    assert "Send the link again" in become.text
    sent = agent.follow(agent.submit(home, {}, action="/console/verification-link"))
    assert "We sent a new link to mary.jones@smith-ltd.example." in words(sent)
    assert [(k, to) for k, to, _ in outbox(provider.app)] == [
        ("email.verification", MARY.email)]
    for _ in range(4):
        agent.submit(home, {}, action="/console/verification-link")
    before = snapshot(provider.app)
    blocked = agent.follow(agent.submit(home, {}, action="/console/verification-link"))
    assert "We sent several links already. Please wait" in words(blocked)
    assert snapshot(provider.app) == before
    assert len(outbox(provider.app)) == 5
    no_token = agent.follow(agent.post("/console/verification-link", {}))
    assert "open too long" in words(no_token)
    assert snapshot(provider.app) == before


def test_a_verified_address_gets_no_link(provider):
    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    assert "Send the link again" not in home.text
    before = snapshot(provider.app)
    done = agent.follow(agent.submit(home, {}, action="/console/verification-link"))
    assert "Your e-mail address is confirmed already." in words(done)
    assert snapshot(provider.app) == before
