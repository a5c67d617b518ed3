"""The console takes the residential one-administrator rule from the
directory: self-promotion and hand-over go through
``idp.directory.administrators.make_administrator``, and the console words
its refusal. On SQLite and PostgreSQL."""

import threading
import time

import pytest
from sqlalchemy import text

from admin_console import administration
from admin_console.eligibility import Refusal
from admin_console.promotion import become_administrator
from claims.vocabulary import Role
from idp.directory.models import Membership
from idp.infrastructure import database
from tests.admin_console.helpers import audit, directory_state, outbox
from tests.factories import CustomerFactory, MembershipFactory


def role_of(app, membership) -> Role:
    with database.new_session(app) as session:
        return session.get(Membership, membership.id).role


def promote(app, membership):
    return become_administrator(app, membership.person_id, "987654321", address="192.0.2.1",
                                channel="web", context_customer_id=membership.customer_id)


def test_self_promotion_refused_by_the_directory_is_worded_and_audited(app, db):
    home = CustomerFactory(residential=True, number="987654321")
    MembershipFactory(customer=home, administrator=True, person__name="Thomas Taylor")
    emma = MembershipFactory(customer=home)
    db.commit()
    before = directory_state(app)
    result = promote(app, emma)
    assert result.code is Refusal.RESIDENTIAL_TAKEN
    assert result.message == (
        "Customer number 987654321 is a residential customer, which has one administrator, "
        "and it has one already. Please ask the administrator, Thomas Taylor, to hand "
        "administration over to you on the Members page of the console.")
    assert audit(app)[-1] == ("promotion.refused", f"person:{emma.person_id}",
                              {"refusal": "residential_has_administrator"})
    assert directory_state(app) == before


def test_the_consoles_own_rules_are_checked_first(app, db):
    home = CustomerFactory(residential=True, number="987654321", closed=True)
    MembershipFactory(customer=home, administrator=True)
    emma = MembershipFactory(customer=home)
    db.commit()
    assert promote(app, emma).code is Refusal.CLOSED


def test_hand_over_to_a_member_who_joined_before_the_administrator(app, db):
    # Emma's row comes first, so written in one go the promotion would reach
    # the database before the step-down and the index would refuse it.
    home = CustomerFactory(residential=True, number="987654321")
    emma = MembershipFactory(customer=home, person__name="Emma",
                             person__email="emma@taylor.example")
    thomas = MembershipFactory(customer=home, administrator=True, person__name="Thomas")
    db.commit()
    assert emma.id < thomas.id
    done = administration.hand_over(app, thomas.person_id, home.id, emma.id)
    assert done and done.message == "Emma is now the administrator; you are a user."
    assert (role_of(app, emma), role_of(app, thomas)) == (Role.ADMINISTRATOR, Role.USER)
    assert [a for a, _, _ in audit(app)[-2:]] == ["membership.demoted", "membership.promoted"]


# PostgreSQL only: SQLite has one writer at a time, so nobody can write
# between the check and the write there.
@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_a_writer_slipping_past_the_lock_is_stopped_by_the_database(app, db):
    """Someone writes an administrator without the directory (plain SQL, no
    lock) while a member promotes himself: the member's check saw nobody, the
    index refuses his write, and the console still answers with its refusal."""
    home = CustomerFactory(residential=True, number="987654321")
    emma, mary = MembershipFactory(customer=home), MembershipFactory(customer=home)
    db.commit()
    engine = database.engine(app)
    bypass = engine.raw_connection()
    results = []
    try:
        bypass.cursor().execute(
            f"UPDATE membership SET role = 'administrator' WHERE id = {emma.id}")
        worker = threading.Thread(target=lambda: results.append(promote(app, mary)))
        worker.start()
        _wait_for_a_blocked_writer(engine)
        bypass.commit()
        worker.join(timeout=30)
    finally:
        bypass.close()
    (result,) = results
    assert result.code is Refusal.RESIDENTIAL_TAKEN
    assert (role_of(app, emma), role_of(app, mary)) == (Role.ADMINISTRATOR, Role.USER)
    assert audit(app)[-1][2] == {"refusal": "residential_has_administrator"}
    assert outbox(app) == []


def _wait_for_a_blocked_writer(engine, timeout: float = 20) -> None:
    """Until a session of this database waits for a lock (the member's write,
    waiting to see whether the bypass commits)."""
    deadline = time.monotonic() + timeout
    with engine.connect() as connection:
        while time.monotonic() < deadline:
            waiting = connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock'")).scalar()
            connection.rollback()
            if waiting:
                return
            time.sleep(0.05)
    raise AssertionError("the promotion never waited for the bypassing writer")
