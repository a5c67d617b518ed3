"""The residential one-administrator rule is the directory's, and the
database's: make_administrator decides it under the customer's lock, and a
partial unique index refuses a second residential administrator whoever
writes it (plain SQL included). On SQLite and PostgreSQL."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, update

from claims.vocabulary import CustomerType, Role
from idp.directory.administrators import make_administrator
from idp.directory.errors import OneAdministratorOnly
from idp.directory.models import Customer, Membership, Person
from idp.directory.services import Directory
from idp.infrastructure import database
from tests.factories import CustomerFactory, MembershipFactory, PersonFactory
from tests.snapshots import snapshot

RACERS = 12
TAKEN = "Customer 987654321 is residential and has an administrator (Thomas Taylor)"


@pytest.fixture
def household(db):
    home = CustomerFactory(residential=True, number="987654321", name="Taylor household")
    thomas = MembershipFactory(customer=home, administrator=True, person__name="Thomas Taylor")
    emma = MembershipFactory(customer=home, person__name="Emma Taylor")
    db.commit()
    return home, thomas, emma


def administrators(app, customer_id: int) -> list[str]:
    with database.new_session(app) as session:
        return list(session.scalars(select(Membership.person_id).where(
            Membership.customer_id == customer_id, Membership.role == Role.ADMINISTRATOR)))


def raw(app, sql: str) -> None:
    """Run ``sql`` on a driver connection: no ORM, no directory, no translation."""
    connection = database.engine(app).raw_connection()
    try:
        connection.cursor().execute(sql)
        connection.commit()
    except Exception:
        connection.rollback()
        raise
    finally:
        connection.close()


def refused_by_the_index(app):
    """The driver's own IntegrityError, naming the one-administrator index."""
    engine = database.engine(app)
    words = ("UNIQUE constraint failed: membership.customer_id" if engine.dialect.name == "sqlite"
             else "ix_membership_one_residential_administrator")
    return pytest.raises(engine.dialect.dbapi.IntegrityError, match=words)


# -- the directory function ---------------------------------------------------------

def test_a_household_gets_no_second_administrator(app, db, household):
    _, _, emma = household
    before = snapshot(app)
    with pytest.raises(OneAdministratorOnly) as refused:
        make_administrator(db, emma)
    assert refused.value.reason == (f"{TAKEN}; a residential customer has one at most. "
                                    "Set that role to user first.")
    assert refused.value.code == "residential_has_administrator"
    db.commit()
    assert snapshot(app) == before


def test_a_business_has_as_many_administrators_as_it_likes(app, db):
    smith = CustomerFactory(type=CustomerType.BUSINESS)
    philip = MembershipFactory(customer=smith, administrator=True)
    mary, anna = MembershipFactory(customer=smith), MembershipFactory(customer=smith)
    db.commit()
    assert make_administrator(db, mary) == [philip]
    assert make_administrator(db, anna) == [philip, mary]
    db.commit()
    assert sorted(administrators(app, smith.id)) == sorted(
        m.person_id for m in (philip, mary, anna))


def test_a_step_down_earlier_in_the_transaction_counts(app, db, household):
    # The hand-over's order: the administrator steps down, then the other
    # member is made one, in one transaction.
    home, thomas, emma = household
    thomas.role = Role.USER
    assert make_administrator(db, emma) == []
    db.commit()
    assert administrators(app, home.id) == [emma.person_id]


def test_adding_an_administrator_to_a_household_goes_through_the_rule(app, db, household):
    home, _, _ = household
    newcomer = PersonFactory()
    db.commit()
    before = snapshot(app)
    directory = Directory(db)
    with pytest.raises(OneAdministratorOnly, match=re.escape(TAKEN)):
        directory.add_membership(newcomer, home, Role.ADMINISTRATOR)
    db.rollback()
    assert snapshot(app) == before


# -- the database -----------------------------------------------------------------

def test_the_database_refuses_a_second_residential_administrator_written_in_sql(
        app, db, household):
    home, _, emma = household
    intruder = PersonFactory()
    db.commit()
    before = snapshot(app)
    with refused_by_the_index(app):
        raw(app, f"UPDATE membership SET role = 'administrator' WHERE id = {emma.id}")
    with refused_by_the_index(app):
        raw(app, "INSERT INTO membership (person_id, customer_id, customer_type, role,"
                 " excluded_from_administration, created_at) VALUES"
                 f" ('{intruder.id}', {home.id}, 'residential', 'administrator', false,"
                 " CURRENT_TIMESTAMP)")
    assert snapshot(app) == before


def test_the_copy_of_the_customer_type_cannot_lie(app, db, household):
    # The index trusts membership.customer_type; the foreign key keeps it true.
    home, _, emma = household
    intruder = PersonFactory()
    db.commit()
    before = snapshot(app)
    integrity_error = database.engine(app).dialect.dbapi.IntegrityError
    with pytest.raises(integrity_error):
        raw(app, "INSERT INTO membership (person_id, customer_id, customer_type, role,"
                 " excluded_from_administration, created_at) VALUES"
                 f" ('{intruder.id}', {home.id}, 'business', 'administrator', false,"
                 " CURRENT_TIMESTAMP)")
    with pytest.raises(integrity_error):
        raw(app, f"UPDATE membership SET customer_type = 'business' WHERE id = {emma.id}")
    assert snapshot(app) == before


def test_a_business_with_two_administrators_cannot_become_residential(app, db):
    smith = CustomerFactory(type=CustomerType.BUSINESS, number="123456789")
    MembershipFactory(customer=smith, administrator=True)
    MembershipFactory(customer=smith, administrator=True)
    db.commit()
    before = snapshot(app)
    with refused_by_the_index(app):
        raw(app, "UPDATE customer SET type = 'residential' WHERE number = '123456789'")
    assert snapshot(app) == before


def test_a_business_with_one_administrator_can_become_residential(app, db):
    shop = CustomerFactory(type=CustomerType.BUSINESS, number="123456789")
    MembershipFactory(customer=shop, administrator=True)
    user = MembershipFactory(customer=shop)
    db.commit()
    raw(app, "UPDATE customer SET type = 'residential' WHERE number = '123456789'")
    with database.new_session(app) as session:  # the copies followed the customer
        assert set(session.scalars(select(Membership.customer_type))) == {
            CustomerType.RESIDENTIAL}
    with refused_by_the_index(app):
        raw(app, f"UPDATE membership SET role = 'administrator' WHERE id = {user.id}")


def test_a_writer_going_around_the_directory_gets_the_rules_error(app, db, household):
    # Not a driver's IntegrityError (a 500, a traceback): the rule's own error.
    _, _, emma = household
    emma.role = Role.ADMINISTRATOR
    with pytest.raises(OneAdministratorOnly, match="one administrator at most"):
        db.flush()
    db.rollback()
    with pytest.raises(OneAdministratorOnly, match="one administrator at most"):
        db.execute(update(Membership).where(Membership.id == emma.id)
                   .values(role=Role.ADMINISTRATOR))
    db.rollback()
    assert emma.role is Role.USER


# -- concurrency --------------------------------------------------------------------

def race(app, attempt, arguments):
    """Run ``attempt`` once per argument, all at the same moment, each in a
    thread with its own app context and session; returns what each did."""
    start = threading.Barrier(len(arguments))

    def run(argument):
        with app.app_context():
            start.wait(timeout=30)
            try:
                with database.write_session(app) as session:
                    attempt(session, argument)
                return "done"
            except OneAdministratorOnly as refused:
                return refused.reason

    with ThreadPoolExecutor(max_workers=len(arguments)) as pool:
        return list(pool.map(run, arguments))


def test_concurrent_administrators_added_to_one_household_make_one(app, db):
    home = CustomerFactory(residential=True, number="987654321")
    people = [PersonFactory(name=f"Person {i}") for i in range(RACERS)]
    db.commit()

    def add(session, person_id):
        Directory(session).add_membership(session.get(Person, person_id),
                                          session.get(Customer, home.id), Role.ADMINISTRATOR)

    results = race(app, add, [p.id for p in people])
    assert results.count("done") == 1
    # Each refusal is the rule's, decided under the lock, naming the winner.
    (winner,) = administrators(app, home.id)
    name = next(p.name for p in people if p.id == winner)
    assert [r for r in results if r != "done"] == [
        f"Customer 987654321 is residential and has an administrator ({name}); a residential "
        "customer has one at most. Set that role to user first."] * (RACERS - 1)
    with database.new_session(app) as session:  # the refused memberships are gone too
        assert session.scalar(select(func.count()).select_from(Membership)) == 1


def test_concurrent_promotions_in_one_household_make_one(app, db):
    home = CustomerFactory(residential=True, number="987654321")
    members = [MembershipFactory(customer=home) for _ in range(RACERS)]
    db.commit()

    def promote(session, membership_id):
        make_administrator(session, session.get(Membership, membership_id))

    results = race(app, promote, [m.id for m in members])
    assert results.count("done") == 1
    assert all(r.startswith("Customer 987654321 is residential and has an administrator (")
               for r in results if r != "done")
    assert len(administrators(app, home.id)) == 1


def test_concurrent_promotions_in_a_business_all_succeed(app, db):
    smith = CustomerFactory(type=CustomerType.BUSINESS)
    members = [MembershipFactory(customer=smith) for _ in range(RACERS)]
    db.commit()

    def promote(session, membership_id):
        make_administrator(session, session.get(Membership, membership_id))

    assert race(app, promote, [m.id for m in members]) == ["done"] * RACERS
    assert len(administrators(app, smith.id)) == RACERS

