"""The residential one-administrator rule under concurrency ("One administrator
per household", "One winner", docs/security.md): 20 members of one household
promote themselves at the same moment, each in a thread with a connection of
its own. Exactly one wins, one set of e-mails is queued. On PostgreSQL the
customer's row lock decides; on SQLite the writers' lock (BEGIN IMMEDIATE)."""

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from admin_console.eligibility import Refusal
from admin_console.promotion import become_administrator
from claims.vocabulary import Role
from idp.directory.models import Membership
from idp.infrastructure import database
from tests.admin_console.helpers import outbox
from tests.factories import CustomerFactory, MembershipFactory

RACERS = 20


def race(app, members, number):
    start = threading.Barrier(len(members))

    def attempt(member):
        with app.app_context():  # as a request's thread has
            start.wait(timeout=30)
            return become_administrator(app, member.person_id, number, address="192.0.2.1",
                                        channel="web")

    with ThreadPoolExecutor(max_workers=len(members)) as pool:
        return list(pool.map(attempt, members))


def test_twenty_promotions_in_one_household_make_one_administrator(app, db):
    home = CustomerFactory(residential=True, number="987654321")
    members = [MembershipFactory(customer=home) for _ in range(RACERS)]
    db.commit()
    results = race(app, members, "987654321")
    winners = [r for r in results if r]
    assert len(winners) == 1
    assert sorted(r.code for r in results if not r) == [Refusal.RESIDENTIAL_TAKEN] * (RACERS - 1)
    with database.new_session(app) as session:
        admins = session.scalar(select(func.count()).select_from(Membership).where(
            Membership.customer_id == home.id, Membership.role == Role.ADMINISTRATOR))
    assert admins == 1
    mails = outbox(app)
    assert [kind for kind, _, _ in mails] == ["promotion.confirmation"]


def test_one_person_submitting_ten_times_at_once_is_promoted_once(app, db):
    business = CustomerFactory(number="123456789")
    MembershipFactory(customer=business, administrator=True, person__email="philip@x.example")
    mary = MembershipFactory(customer=business, person__email="mary@x.example")
    db.commit()
    results = race(app, [mary] * 10, "123456789")
    assert sum(1 for r in results if r) == 1
    assert {r.code for r in results if not r} == {Refusal.ALREADY}
    assert sorted((kind, to) for kind, to, _ in outbox(app)) == [
        ("promotion.confirmation", "mary@x.example"), ("promotion.notice", "philip@x.example")]
