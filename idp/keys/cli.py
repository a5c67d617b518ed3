"""``keyholder keys list|rotate|retire|revoke|import``: the operator's signing-key
commands. A refusal prints one ``Error:`` line, exits 1 and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from claims.jwks import DEFAULT_MAX_AGE
from idp.directory.services import OPERATOR, AuditAction, Directory
from idp.infrastructure import database
from idp.keys import (
    ALGORITHMS,
    KeyInfo,
    KeyState,
    KeyStore,
    KeyStoreError,
    key_store,
    retention_seconds,
)

keys_group = AppGroup("keys", help="The signing keys: next -> active -> retired "
                                   "(or revoked, when one may be compromised).")

COLUMNS = ("KID", "ALG", "STATE", "CREATED", "ACTIVATED", "RETIRED", "REVOKED",
           "PUBLISHED UNTIL")


def refusing(func: Callable) -> Callable:
    @wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except KeyStoreError as error:
            raise click.ClickException(str(error)) from None
    return wrapper


@keys_group.command("list")
@refusing
def list_command() -> None:
    """List the keys: kid, algorithm, state and when it changed (UTC)."""
    keys = key_store(current_app).list()
    if not keys:
        click.echo("No signing keys yet: `keyholder init` creates them.")
        return
    rows = [COLUMNS] + [(k.kid, k.alg, k.state.value, _time(k.created_at),
                         _time(k.activated_at), _time(k.retired_at), _time(k.revoked_at),
                         _time(k.published_until)) for k in keys]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                    strict=True)).rstrip())


@keys_group.command("rotate")
@click.option("--alg", type=click.Choice(ALGORITHMS), help="Only this algorithm (default: all).")
@refusing
def rotate_command(alg: str | None) -> None:
    """Retire the active key, activate the next one (published since the
    last rotation) and make a new next key."""
    _report(key_store(current_app).rotate(alg))


# A kid is base64url and may begin with "-": take it as the argument, not an option.
@keys_group.command("retire", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@refusing
def retire_command(kid: str) -> None:
    """Retire one key now. It stays published until the tokens it signed have
    expired (for a key that may be compromised, use `keys revoke`)."""
    _report(key_store(current_app).retire(kid))


@keys_group.command("revoke", context_settings={"ignore_unknown_options": True})
@click.argument("kid")
@refusing
def revoke_command(kid: str) -> None:
    """Revoke a key that may be compromised: it leaves the JWKS at once and
    nothing it signed is accepted any more (introspection, UserInfo); an
    active key is replaced by the next one. Audited."""
    changed = key_store(current_app).revoke(kid)
    # The key store is changed first: a revocation must not wait for the
    # database, and an audit event must never tell of one that did not happen.
    (revoked,) = [key for key in changed if key.kid == kid]
    replaced_by = [key.kid for key in changed if key.state is KeyState.ACTIVE]
    _report(changed)
    session = database.session()
    try:
        Directory(session).record(AuditAction.KEY_REVOKED, OPERATOR, kid=kid, alg=revoked.alg,
                                  replaced_by=replaced_by[0] if replaced_by else None)
        session.commit()
    except SQLAlchemyError as error:
        session.rollback()
        raise click.ClickException(f"signing key {kid} is revoked, but the audit event could "
                                   f"not be written ({type(error).__name__})") from None
    click.echo(f"Relying parties drop it when they next fetch the JWKS (the claims toolkit "
               f"within {DEFAULT_MAX_AGE:.0f} s).")


@keys_group.command("import")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@refusing
def import_command(folder: Path | None) -> None:
    """Move the keys of a key folder (default: KEYHOLDER_KEYS_DIR) into the
    database, for KEYHOLDER_KEYS_STORE=database. Every key keeps its kid and
    state; nothing is imported unless each one decrypts with the passphrase,
    and only into a database that has no signing keys yet."""
    settings = current_app.config["KEYHOLDER"]
    if settings.KEYS_STORE != "database":
        raise click.ClickException("KEYHOLDER_KEYS_STORE is not database: the keys are "
                                   "already read from the folder")
    source = KeyStore(folder or Path(settings.KEYS_DIR), settings.KEYS_PASSPHRASE,
                      retention_seconds=retention_seconds(settings))
    if source.directory is None or not source.directory.is_dir():
        raise click.ClickException(f"there is no key folder at {source.directory}")
    keys = source.list()  # decrypts every key: a wrong passphrase stops here
    if not keys:
        raise click.ClickException(f"there are no keys in {source.directory}")
    imported = key_store(current_app).adopt(source)
    for key in imported:
        click.echo(f"imported {key.alg} key {key.kid} ({key.state})")
    click.echo(f"{len(imported)} keys are in the database now; the folder is no longer "
               "read and may be deleted once every node runs with the database store.")


def _report(keys: list[KeyInfo]) -> None:
    for key in keys:
        line = f"{key.alg} key {key.kid} is now {key.state}"
        if key.published_until is not None:
            line += f", published until {_time(key.published_until)}"
        click.echo(line)


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M:%S}Z"
