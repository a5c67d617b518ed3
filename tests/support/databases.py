"""The services tests need, a database of a test's own on the PostgreSQL
server, and emptying the session's shared one after each test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import make_url

from idp.infrastructure import database, migrate
from idp.infrastructure.database import create_database_engine

POSTGRES_URL = os.environ.get(
    "KEYHOLDER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
IN_CI = bool(os.environ.get("CI"))

# The parameters of ``database_url``: every test that uses it runs on both.
DATABASES = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

# For a test whose outcome cannot depend on the database (see tests/README.md,
# "One database or both"): ``pytestmark = ONE_DATABASE`` or ``@ONE_DATABASE``.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def unavailable(reason: str) -> None:
    """Skip on a laptop without the service; fail in CI, where it must be there."""
    if IN_CI:
        pytest.fail(f"{reason} (CI is set: this must run)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server (its URL), dropped afterwards."""
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[postgres]')")
    server = make_url(POSTGRES_URL)
    conninfo = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL is not reachable at {server.host}:{server.port}: {error}")
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate_database(url: str) -> str:
    """Bring the database at ``url`` to the newest revision; returns ``url``."""
    engine = create_database_engine(url)
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    return url


def empty_tables(url: str) -> None:
    """Delete every row of the provider's tables and restart their ids, as
    ``TRUNCATE ... RESTART IDENTITY`` would, in a tenth of its time: a
    PostgreSQL TRUNCATE makes new files for each of the tables (about 50 ms
    in all), a DELETE of a test's few rows takes about 5 ms. Children go
    first; alembic_version stays."""
    engine = create_database_engine(url)
    try:
        with engine.begin() as connection:
            statements = [f'DELETE FROM "{table.name}"'
                          for table in reversed(database.Base.metadata.sorted_tables)]
            sequences = connection.exec_driver_sql(
                "SELECT sequence_name FROM information_schema.sequences "
                "WHERE sequence_schema = current_schema()").scalars().all()
            statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
            connection.exec_driver_sql("; ".join(statements))
    finally:
        engine.dispose()
