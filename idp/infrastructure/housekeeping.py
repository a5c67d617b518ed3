"""Forgetting what has expired: codes, token families, revoked token ids,
ended sessions, device requests and throttling windows.

Nothing here is needed for correctness (every read checks expiry); it keeps
the tables small. Used codes are kept a day past their expiry, so that a
late second use is still recognised and revokes what the first one issued.
``keyholder purge`` runs it; ``keyholder worker`` runs it every hour."""

from __future__ import annotations

from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import delete, or_

from idp.directory.models import utcnow
from idp.infrastructure import database, failure_counters
from idp.login.models import SsoSession
from idp.protocol.tokens.models import (
    AuthorizationCode,
    DeviceAuthorization,
    RevokedAccessToken,
    TokenGrant,
)

GRACE = timedelta(days=1)  # kept past expiry, for reuse detection and support
LONGEST_THROTTLE_WINDOW = timedelta(hours=1)


def purge(app: Flask, now: datetime | None = None) -> dict[str, int]:
    """Delete what has expired; returns how many rows of each table."""
    now = now or utcnow()
    old = now - GRACE
    with database.write_session(app) as db:
        removed = {
            "authorization_code": db.execute(
                delete(AuthorizationCode).where(AuthorizationCode.expires_at < old)).rowcount,
            "device_authorization": db.execute(
                delete(DeviceAuthorization).where(DeviceAuthorization.expires_at < old)).rowcount,
            "token_grant": db.execute(  # and, by cascade, its refresh tokens
                delete(TokenGrant).where(TokenGrant.expires_at < now)).rowcount,
            "revoked_access_token": db.execute(
                delete(RevokedAccessToken).where(RevokedAccessToken.expires_at < now)).rowcount,
            "sso_session": db.execute(delete(SsoSession).where(or_(
                SsoSession.expires_at < old, SsoSession.ended_at < old))).rowcount,
            "throttle_counter": failure_counters.purge(db, LONGEST_THROTTLE_WINDOW),
        }
    return removed


@click.command("purge")
@with_appcontext
def purge_command() -> None:
    """Delete expired codes, token families, sessions and counters."""
    removed = purge(current_app)
    click.echo(", ".join(f"{table}={count}" for table, count in removed.items()))
