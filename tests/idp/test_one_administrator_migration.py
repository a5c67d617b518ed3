"""Migration 0006 (the database's one-administrator index) on a database
that has data: it carries the data over, or refuses, changing nothing, when
a household already has two administrators. On SQLite and PostgreSQL."""


import pytest
from alembic import command
from sqlalchemy import text

from idp.infrastructure import migrate
from idp.infrastructure.database import create_database_engine

BEFORE = "0005"

PEOPLE = [("thomas", "thomas@taylor.example"), ("emma", "emma@taylor.example"),
          ("philip", "philip@smith.example"), ("anna", "anna@smith.example")]
MEMBERSHIPS = [  # person, customer id, role
    ("thomas", 2, "administrator"), ("emma", 2, "user"),
    ("philip", 1, "administrator"), ("anna", 1, "administrator"), ("thomas", 1, "user")]


@pytest.fixture
def old_engine(empty_database_url):
    """A database at revision 0005 with Smith ltd (business, two
    administrators) and the Taylor household (residential, one), and an
    audit event of each customer."""
    engine = create_database_engine(empty_database_url)
    command.upgrade(migrate.alembic_config(engine), BEFORE)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO customer (id, number, name, type, self_promotion_open, created_at)"
            " VALUES (1, '123456789', 'Smith ltd', 'business', true, CURRENT_TIMESTAMP),"
            " (2, '987654321', 'Taylor household', 'residential', true, CURRENT_TIMESTAMP)"))
        for sub, email in PEOPLE:
            connection.execute(text(
                "INSERT INTO person (id, email, email_verified, name, password_hash, status,"
                " locale, created_at) VALUES (:sub, :email, true, :sub, 'x', 'active', 'en',"
                " CURRENT_TIMESTAMP)"), {"sub": sub, "email": email})
        for sub, customer_id, role in MEMBERSHIPS:
            connection.execute(text(
                "INSERT INTO membership (person_id, customer_id, role,"
                " excluded_from_administration, created_at)"
                " VALUES (:sub, :customer, :role, false, CURRENT_TIMESTAMP)"),
                {"sub": sub, "customer": customer_id, "role": role})
        connection.execute(text(
            "INSERT INTO audit_event (at, action, actor, customer_id, details) VALUES"
            " (CURRENT_TIMESTAMP, 'test', 'operator', 1, '{}'),"
            " (CURRENT_TIMESTAMP, 'test', 'operator', 2, '{}')"))
    yield engine
    engine.dispose()


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as connection:
        return sorted(map(tuple, connection.execute(text(sql))))


MEMBERSHIP = "SELECT person_id, customer_id, role FROM membership"


def test_the_data_is_carried_over_and_the_index_holds(old_engine):
    migrate.upgrade(old_engine)
    assert migrate.current_revision(old_engine) == migrate.head_revision()
    assert rows(old_engine, "SELECT person_id, customer_id, role, customer_type FROM membership"
                ) == sorted([(s, c, r, "residential" if c == 2 else "business")
                             for s, c, r in MEMBERSHIPS])
    # Nothing that refers to a customer was lost on the way (SQLite copies tables).
    assert rows(old_engine, "SELECT customer_id FROM audit_event") == [(1,), (2,)]
    with pytest.raises(old_engine.dialect.dbapi.IntegrityError):
        connection = old_engine.raw_connection()
        try:
            connection.cursor().execute(
                "UPDATE membership SET role = 'administrator' WHERE person_id = 'emma'")
        finally:
            connection.rollback()
            connection.close()


def test_a_downgrade_and_upgrade_again_keep_the_data(old_engine):
    migrate.upgrade(old_engine)
    command.downgrade(migrate.alembic_config(old_engine), BEFORE)
    assert rows(old_engine, MEMBERSHIP) == sorted(MEMBERSHIPS)
    migrate.upgrade(old_engine)
    assert rows(old_engine, MEMBERSHIP) == sorted(MEMBERSHIPS)


def test_a_household_with_two_administrators_stops_the_migration(make_app, old_engine):
    with old_engine.begin() as connection:
        connection.execute(text(
            "UPDATE membership SET role = 'administrator' WHERE person_id = 'emma'"))
    before = rows(old_engine, MEMBERSHIP)
    url = old_engine.url.render_as_string(hide_password=False)
    result = make_app(url).test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "Error: The database was not changed: a residential customer has one administrator at "
        "most, and these have more (987654321: emma@taylor.example, thomas@taylor.example). "
        "Make all but one of each customer's administrators users with the version you run "
        "now (keyholder member set-role EMAIL --customer NUMBER --role user), then upgrade "
        "again."]
    assert migrate.current_revision(old_engine) == BEFORE
    assert rows(old_engine, MEMBERSHIP) == before
