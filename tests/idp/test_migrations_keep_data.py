"""Upgrading a database that has data keeps every row, from every earlier
revision, on SQLite and PostgreSQL; a migration that would leave a row
referring to nothing is refused and changes nothing.

SQLite alters a table by copying it, and dropping the old copy with foreign
keys on deletes every row that refers to it: migration 0005 copies `client`
(and so lost every consent, code and grant), 0003 copies `token_grant` (and
lost every refresh token)."""

import os
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, exc, select

from idp.infrastructure import migrate
from idp.infrastructure.database import create_database_engine

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)

# One row in each table, every foreign key filled. A table or column that
# does not exist yet at the starting revision is left out.
ROWS = {
    "customer": {"id": 7, "number": "987654321", "name": "Taylor household",
                 "type": "residential", "self_promotion_open": True, "created_at": AT},
    "person": {"id": "thomas", "email": "thomas@taylor.example", "email_verified": True,
               "name": "Thomas Taylor", "password_hash": "x", "status": "active",
               "locale": "en", "created_at": AT},
    "membership": {"id": 3, "person_id": "thomas", "customer_id": 7, "role": "administrator",
                   "customer_type": "residential", "mobile": None,
                   "excluded_from_administration": False, "created_at": AT},
    "audit_event": {"id": 4, "at": AT, "action": "test", "actor": "operator",
                    "customer_id": 7, "person_id": "thomas", "details": {"why": "test"}},
    "client": {"id": "webshop", "name": "Webshop", "type": "web", "secret_hash": "h" * 64,
               "redirect_uris": ["https://shop.example/cb"], "post_logout_redirect_uris": [],
               "first_party": False, "id_token_signed_response_alg": "RS256",
               "created_at": AT},
    "consent": {"id": 5, "person_id": "thomas", "client_id": "webshop",
                "scope": "openid email", "granted_at": AT},
    "sso_session": {"id": 6, "secret_hash": "s" * 64, "sid": "sid-1", "person_id": "thomas",
                    "auth_time": AT, "amr": ["pwd"], "created_at": AT, "expires_at": LATER,
                    "ended_at": None, "channel": "web"},
    "authorization_code": {
        "id": 8, "code_hash": "c" * 64, "client_id": "webshop", "person_id": "thomas",
        "session_id": 6, "customer_id": 7, "redirect_uri": "https://shop.example/cb",
        "scope": "openid", "nonce": "n", "code_challenge": "x" * 43,
        "code_challenge_method": "S256", "auth_time": AT, "amr": ["pwd"], "sid": "sid-1",
        "created_at": AT, "expires_at": LATER, "used_at": AT, "resources": []},
    "token_grant": {
        "id": "grant-1", "client_id": "webshop", "person_id": "thomas", "session_id": 6,
        "code_id": 8, "customer_id": 7, "scope": "openid", "auth_time": AT, "amr": ["pwd"],
        "sid": "sid-1", "created_at": AT, "expires_at": LATER, "revoked_at": None,
        "revoked_reason": None, "resources": []},
    "refresh_token": {"id": 9, "token_hash": "r" * 64, "grant_id": "grant-1",
                      "scope": "openid", "created_at": AT, "used_at": None},
    "revoked_access_token": {"jti": "jti-1", "expires_at": LATER},
    "throttle_counter": {"key": "login:thomas", "window_start": AT, "failures": 2,
                         "blocked_until": None},
    "outbox_message": {
        "id": 10, "kind": "test", "customer_id": 7, "recipient": "thomas@taylor.example",
        "recipient_name": "Thomas Taylor", "subject": "Hello", "text_body": "Hello",
        "html_body": "<p>Hello</p>", "created_at": AT, "attempts": 0, "next_attempt_at": AT,
        "sent_at": None, "last_error": None},
    "device_authorization": {
        "id": 11, "device_code_hash": "d" * 64, "user_code": "WXYZ-ABCD",
        "client_id": "webshop", "scope": "openid", "resources": [], "created_at": AT,
        "expires_at": LATER, "interval": 5, "last_polled_at": None, "person_id": "thomas",
        "session_id": 6, "customer_id": 7, "decided_at": AT, "approved": True,
        "redeemed_at": None},
    "ssf_stream": {
        "id": "stream-1", "client_id": "webshop", "method": "urn:ietf:rfc:8935",
        "endpoint_url": "https://shop.example/events", "authorization_header": "Bearer s",
        "events_requested": [], "description": None, "status": "enabled", "reason": None,
        "created_at": AT, "updated_at": AT, "verified_at": None},
    "ssf_stream_subject": {"id": 12, "stream_id": "stream-1", "person_id": "thomas",
                           "added": False, "created_at": AT},
    "push_delivery": {
        "id": 13, "kind": "set", "stream_id": "stream-1", "client_id": "webshop",
        "jti": "jti-set-1", "claims": {"aud": "webshop"}, "created_at": AT, "attempts": 0,
        "next_attempt_at": AT, "delivered_at": None, "outcome": None, "last_error": None},
    "account_link": {
        "id": 14, "purpose": "invitation", "token_hash": "l" * 64, "person_id": "thomas",
        "email": "thomas@taylor.example", "customer_id": 7, "role": "user", "mobile": None,
        "created_by": "operator", "created_at": AT, "expires_at": LATER, "used_at": None},
    "recovery_code": {"id": 15, "person_id": "thomas", "code_hash": "k" * 64,
                      "used_at": None},
}

HEAD = migrate.head_revision()
EARLIER = [script.revision for script in reversed(list(
    ScriptDirectory.from_config(migrate.alembic_config()).walk_revisions()))
    if script.revision != HEAD]


@pytest.fixture
def engine(empty_database_url):
    engine = create_database_engine(empty_database_url)
    yield engine
    engine.dispose()


def tables(connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(bind=connection)
    return metadata


def fill(engine) -> None:
    with engine.begin() as connection:
        for name, row in ROWS.items():
            table = tables(connection).tables.get(name)
            if table is not None:
                connection.execute(table.insert(), {k: v for k, v in row.items() if k in table.c})


def every_row(engine, columns: dict[str, list[str]] | None = None) -> dict[str, list[tuple]]:
    """Every row of every table; with ``columns``, of those tables and columns only."""
    columns = columns or columns_of(engine)
    with engine.connect() as connection:
        metadata = tables(connection)
        return {name: sorted((tuple(row) for row in connection.execute(
                    select(*(metadata.tables[name].c[c] for c in names)))), key=repr)
                for name, names in columns.items()}


def columns_of(engine) -> dict[str, list[str]]:
    with engine.connect() as connection:
        return {name: list(table.c.keys()) for name, table in tables(connection).tables.items()
                if name != "alembic_version"}


@pytest.mark.parametrize("start", EARLIER)
def test_an_upgrade_keeps_every_row(engine, start):
    command.upgrade(migrate.alembic_config(engine), start)
    fill(engine)
    columns = columns_of(engine)
    before = every_row(engine, columns=columns)
    assert {name: len(rows) for name, rows in before.items()} == {
        name: 1 for name in columns if name in ROWS}  # every table there has its row

    migrate.upgrade(engine)

    assert migrate.current_revision(engine) == HEAD
    assert every_row(engine, columns=columns) == before


def test_sqlite_gives_the_migrations_connection_back_with_foreign_keys_on(tmp_path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'k.db'}")
    try:
        migrate.upgrade(engine)
        assert engine.pool.checkedin() == 1  # the one the upgrade used, and no other
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


DANGLING = '''"""a faulty migration: the consent's client does not exist"""
from alembic import op

revision = "dangling"
down_revision = "{head}"


def upgrade():
    op.execute("UPDATE consent SET client_id = 'no-such-client'")
'''


def test_a_migration_that_would_leave_a_dangling_reference_is_refused(engine, tmp_path):
    """The faulty migration comes after the real ones; the whole upgrade is
    one transaction, so the database stays at the revision it was."""
    command.upgrade(migrate.alembic_config(engine), "0004")
    fill(engine)
    before = every_row(engine)
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "dangling.py").write_text(DANGLING.format(head=HEAD))
    config = migrate.alembic_config(engine)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(
        [str(migrate.MIGRATIONS / "versions"), str(versions)]))

    if engine.dialect.name == "sqlite":  # foreign keys are off while SQLite migrates
        with pytest.raises(migrate.DanglingReferences) as refused:
            command.upgrade(config, "head")
        assert str(refused.value) == (
            "The database was not changed: the upgrade would leave rows that refer to rows "
            "that do not exist (1 consent row whose client_id is not in client). If they were "
            "there before (PRAGMA foreign_key_check lists them), fix or delete them, then "
            "upgrade again.")
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    else:  # PostgreSQL checks the foreign key itself, at the UPDATE
        with pytest.raises(exc.IntegrityError, match="fk_consent_client_id_client"):
            command.upgrade(config, "head")

    assert migrate.current_revision(engine) == "0004"
    assert every_row(engine) == before
