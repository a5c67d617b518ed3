"""Letting the administrators know (the help page's step 2): one notice per
member per customer per ``KEYHOLDER_INTENT_NOTICE_INTERVAL``, read from the
audit trail; a second one inside it queues nothing and says when the next may
go; the console page says when the last one went. On SQLite and PostgreSQL."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select

from admin_console.intent_notice import TooSoon, announce_intent
from idp.directory.models import AuditEvent
from idp.directory.services import AuditAction
from idp.infrastructure import database
from idp.outbox.mail import when
from tests.admin_console.helpers import audit, directory_state, in_english, outbox
from tests.admin_console.test_console_pages import MARY, PHILIP, signed_in
from tests.factories import CustomerFactory, MembershipFactory

DAY = timedelta(days=1)
INTENT = AuditAction.INTENT_ANNOUNCED.value


@pytest.fixture
def provider(provider):
    """The demo on a real server, every person reading English."""
    return in_english(provider)


@pytest.fixture
def smith(db):
    """Smith ltd: Philip and Anna administrators, Mary a user."""
    customer = CustomerFactory(number="123456789", name="Smith ltd")
    MembershipFactory(customer=customer, administrator=True, person__name="Philip Smith",
                      person__email="philip@smith.example")
    MembershipFactory(customer=customer, administrator=True, person__name="Anna Smith",
                      person__email="anna@smith.example")
    mary = MembershipFactory(customer=customer, person__name="Mary Jones",
                             person__email="mary@smith.example")
    db.commit()
    return customer, mary


def intents(app) -> list[tuple[str, str, dict]]:
    return [event for event in audit(app) if event[0] == INTENT]


def backdate_notices(app, by: timedelta) -> None:
    """Move every intent notice ``by`` into the past (the console has no
    clock to fake: the audit trail is where "last sent" lives)."""
    with database.write_session(app) as session:
        for event in session.scalars(select(AuditEvent).where(AuditEvent.action == INTENT)):
            event.at -= by


def last_sent(app):
    with database.new_session(app) as session:
        return session.scalar(select(AuditEvent.at).where(AuditEvent.action == INTENT)
                              .order_by(AuditEvent.id.desc()).limit(1))


SMITH_MAILS = [("promotion.intent", "philip@smith.example"),
               ("promotion.intent", "anna@smith.example")]


def test_the_administrators_are_told_once_a_day(app, smith):
    customer, mary = smith
    told = announce_intent(app, mary.person_id, customer.id)
    assert told and set(told.names) == {"Philip Smith", "Anna Smith"}
    assert [(kind, to) for kind, to, _ in outbox(app)] == SMITH_MAILS
    assert [(actor, details) for _, actor, details in intents(app)] == [
        (f"person:{mary.person_id}", {"told": 2})]
    sent = last_sent(app)
    before, trail = directory_state(app), audit(app)

    again = announce_intent(app, mary.person_id, customer.id)
    assert isinstance(again, TooSoon) and not again
    assert again.code == "intent_notice_too_soon"
    assert (again.last_sent, again.next_allowed) == (sent, sent + DAY)
    assert again.message == (f"You already let the administrators know on {when(sent)}. "
                             "Nothing was sent. You can let them know again from "
                             f"{when(sent + DAY)}.")
    assert directory_state(app) == before and audit(app) == trail  # nothing queued or audited


def test_after_the_interval_they_may_be_told_again(app, smith):
    customer, mary = smith
    assert announce_intent(app, mary.person_id, customer.id)
    backdate_notices(app, DAY - timedelta(minutes=1))
    assert not announce_intent(app, mary.person_id, customer.id)  # a minute short of a day
    backdate_notices(app, timedelta(minutes=1))
    assert announce_intent(app, mary.person_id, customer.id)
    assert [(kind, to) for kind, to, _ in outbox(app)] == SMITH_MAILS * 2
    assert len(intents(app)) == 2


def test_the_interval_is_the_setting(make_app, database_url, mailbox):
    app = make_app(database_url, SMTP_URL=mailbox.url, INTENT_NOTICE_INTERVAL=3600)
    with app.app_context():
        customer = CustomerFactory()
        MembershipFactory(customer=customer, administrator=True)
        mary = MembershipFactory(customer=customer)
        database.session().commit()
        assert announce_intent(app, mary.person_id, customer.id)
        refused = announce_intent(app, mary.person_id, customer.id)
        assert refused.next_allowed - refused.last_sent == timedelta(hours=1)
        backdate_notices(app, timedelta(hours=1))
        assert announce_intent(app, mary.person_id, customer.id)
        assert len(outbox(app)) == 2


def test_the_limit_is_per_member_and_per_customer(app, db, smith):
    customer, mary = smith
    thomas = MembershipFactory(customer=customer, person__email="thomas@smith.example")
    home = CustomerFactory(residential=True)
    MembershipFactory(customer=home, administrator=True, person__email="ann@home.example")
    MembershipFactory(customer=home, person=mary.person)  # Mary belongs to a household too
    db.commit()
    assert announce_intent(app, mary.person_id, customer.id)
    assert announce_intent(app, thomas.person_id, customer.id)  # another member
    assert announce_intent(app, mary.person_id, home.id)  # another customer
    assert not announce_intent(app, mary.person_id, customer.id)
    assert sorted(to for _, to, _ in outbox(app)) == sorted(
        ["philip@smith.example", "anna@smith.example"] * 2 + ["ann@home.example"])


def test_a_notice_that_told_nobody_does_not_count(app, db):
    customer = CustomerFactory()
    mary = MembershipFactory(customer=customer)
    db.commit()
    assert announce_intent(app, mary.person_id, customer.id).names == ()
    assert outbox(app) == [] and [d for _, _, d in intents(app)] == [{"told": 0}]
    MembershipFactory(customer=customer, administrator=True, person__email="new@x.example")
    db.commit()
    assert announce_intent(app, mary.person_id, customer.id).names != ()
    assert [to for _, to, _ in outbox(app)] == ["new@x.example"]


def test_ten_clicks_at_once_tell_each_administrator_once(app, smith):
    customer, mary = smith
    start = threading.Barrier(10)

    def click(_):
        with app.app_context():
            start.wait(timeout=30)
            return announce_intent(app, mary.person_id, customer.id)

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = list(pool.map(click, range(10)))
    assert sum(1 for r in results if r) == 1
    assert sorted(r.code for r in results if not r) == ["intent_notice_too_soon"] * 9
    assert sorted((kind, to) for kind, to, _ in outbox(app)) == sorted(SMITH_MAILS)


# -- the console page --------------------------------------------------------

def written(app, moment) -> str:
    """A date as an English page writes it, in the customer's time zone."""
    with app.app_context():
        return when(moment)


def notice_text(page) -> str:
    found = re.search(r'<p id="intent-notice">(.*?)</p>', page.text, re.S)
    return " ".join(found.group(1).split()) if found else ""


def flashes(page) -> list[str]:
    return re.findall(r'<p class="(?:notice|alert)" role="status">(.*?)</p>', page.text)


def test_the_page_says_when_they_were_told_and_a_second_click_sends_nothing(provider):
    def at(moment):
        return written(provider.app, moment)

    agent = signed_in(provider, MARY)
    home = agent.get("/console")
    assert notice_text(home) == ""
    first = agent.submit(home, {}, action="/console/tell-administrators")
    assert first.status_code == 303 and first.headers["Location"] == "/console"
    told = agent.get("/console")
    assert flashes(told) == ["We told Philip Smith by e-mail that you intend to become "
                             "administrator."]
    sent = last_sent(provider.app)
    assert notice_text(told) == (f"You last let the administrators know on {at(sent)}. "
                                 f"You can let them know again from {at(sent + DAY)}.")
    assert re.search(r'<button type="submit" class="secondary"\s+disabled', told.text)

    second = agent.submit(told, {}, action="/console/tell-administrators")
    assert second.status_code == 303 and second.headers["Location"] == "/console"
    refused = agent.get("/console")
    assert flashes(refused) == [
        f"You already let the administrators know on {at(sent)}. Nothing was sent. "
        f"You can let them know again from {at(sent + DAY)}."]
    assert [(kind, to) for kind, to, _ in outbox(provider.app)] == [
        ("promotion.intent", PHILIP.email)]
    assert len(intents(provider.app)) == 1

    backdate_notices(provider.app, DAY)
    later = agent.get("/console")
    assert notice_text(later) == (f"You last let the administrators know on "
                                  f"{at(sent - DAY)}. You can let them know again now.")
    assert not re.search(r'<button type="submit" class="secondary"\s+disabled', later.text)
    agent.submit(later, {}, action="/console/tell-administrators")
    assert flashes(agent.get("/console"))[0].startswith("We told Philip Smith by e-mail")
    assert [to for _, to, _ in outbox(provider.app)] == [PHILIP.email, PHILIP.email]
