"""Creating and upgrading the database with Alembic (``keyholder init``)."""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Engine

from idp import database

MIGRATIONS = Path(__file__).with_name("migrations")


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


def upgrade(engine: Engine) -> tuple[str | None, str | None]:
    """Bring the database to the newest revision; returns (before, after)."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    return before, current_revision(engine)


@click.command("init")
@with_appcontext
def init_command() -> None:
    """Create or upgrade the database, and create the signing keys if missing."""
    from idp.keys import KeyStoreError, key_store

    engine = database.engine(current_app)
    before, after = upgrade(engine)
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
