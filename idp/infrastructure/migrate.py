"""Creating and upgrading the database with Alembic (``keyholder init``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Connection, Engine

from idp.infrastructure import database
from idp.keys import KeyStoreError, key_store

MIGRATIONS = Path(__file__).parent.parent / "migrations"


class MigrationRefused(Exception):
    """A migration found data it cannot carry over; the message says what to
    fix. Raised before the migration changes anything."""


class DanglingReferences(MigrationRefused):
    """The upgrade would leave rows that refer to rows that do not exist;
    raised before the commit, so the whole upgrade is rolled back."""


def alembic_config(engine: Engine | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@contextmanager
def migration_connection(engine: Engine) -> Iterator[Connection]:
    """The connection Alembic migrates through, in one transaction for the
    whole upgrade: committed at the end, rolled back if any step fails.

    SQLite alters a table by copying it (create, copy, drop the old one,
    rename), and with foreign keys on, dropping the old table deletes or
    nulls every row that refers to it (ON DELETE CASCADE / SET NULL). So, as
    SQLite's own procedure for such changes says, foreign keys are off while
    it migrates (the pragma is ignored inside a transaction, hence before
    BEGIN), and ``PRAGMA foreign_key_check`` refuses, before the commit, an
    upgrade that would leave a row referring to nothing. PostgreSQL alters
    tables in place and checks every foreign key itself."""
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                # A migration may rightly take longer than a request.
                connection.exec_driver_sql("SET LOCAL statement_timeout = 0")
                connection.exec_driver_sql("SET LOCAL lock_timeout = 0")
                yield connection
            return
        try:
            _set_sqlite_foreign_keys(connection, on=False)
            # A writer from the start: a migration reads, then writes.
            with connection.execution_options(sqlite_begin="IMMEDIATE").begin():
                before = _heads(connection)
                yield connection
                if _heads(connection) != before:  # an up-to-date database is left alone
                    _refuse_dangling_references(connection)
        finally:
            try:
                _set_sqlite_foreign_keys(connection, on=True)
            except BaseException:
                connection.invalidate()  # never back to the pool with foreign keys off
                raise


def _heads(connection: Connection) -> tuple[str, ...]:
    return MigrationContext.configure(connection).get_current_heads()


def _set_sqlite_foreign_keys(connection: Connection, *, on: bool) -> None:
    driver = connection.connection.driver_connection
    if driver.in_transaction:
        raise RuntimeError("PRAGMA foreign_keys must be set outside a transaction")
    driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")
    if driver.execute("PRAGMA foreign_keys").fetchone()[0] != on:
        raise RuntimeError(f"SQLite did not turn foreign keys {'on' if on else 'off'}")


def _refuse_dangling_references(connection: Connection) -> None:
    broken = Counter((table, parent, fk_id) for table, _rowid, parent, fk_id
                     in connection.exec_driver_sql("PRAGMA foreign_key_check"))
    if not broken:
        return
    listed = []
    for (table, parent, fk_id), count in sorted(broken.items()):
        columns = ", ".join(
            row[3] for row in connection.exec_driver_sql(f'PRAGMA foreign_key_list("{table}")')
            if row[0] == fk_id)  # rows: id, seq, table, from, to, ...
        listed.append(f"{count} {table} row{'s' if count > 1 else ''} whose {columns}"
                      f" is not in {parent}")
    raise DanglingReferences(
        "The database was not changed: the upgrade would leave rows that refer to rows "
        f"that do not exist ({'; '.join(listed)}). If they were there before "
        "(PRAGMA foreign_key_check lists them), fix or delete them, then upgrade again.")


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the database to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_revision(engine)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database, and create the signing keys if missing."""
    engine = database.engine(current_app)
    try:
        before, after = upgrade(engine)
    except MigrationRefused as refused:
        raise click.ClickException(str(refused)) from None
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        click.echo(f"Database {where} is up to date (revision {after}).")
    else:
        click.echo(f"Database {where} upgraded from {before or 'empty'} to {after}.")
    try:
        created = key_store(current_app).ensure()
    except KeyStoreError as error:
        raise click.ClickException(str(error)) from None
    for info in created:
        click.echo(f"Created {info.alg} signing key {info.kid} ({info.state.value}).")
    if not created:
        click.echo("Signing keys are in place.")
