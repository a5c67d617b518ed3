"""Reading the console's effects through connections of their own."""

import re

from sqlalchemy import select, update

from idp.directory.models import AuditEvent, Person
from idp.infrastructure import database
from idp.outbox.models import OutboxMessage
from tests.snapshots import snapshot

# Refusals are audited and wrong numbers counted; everything else must stay.
DIRECTORY_TABLES = {"customer", "person", "membership", "client", "outbox_message",
                    "sso_session", "token_grant", "refresh_token"}


def in_english(provider):
    """The demo's Philip reads Dutch and Mary French (keyholder.demo.data):
    a module whose tests read the console and its e-mails in English
    overrides its ``provider`` fixture with this. The other languages are
    test_console_languages.py's."""
    with database.write_session(provider.app) as session:
        session.execute(update(Person).values(locale="en"))
    return provider


def directory_state(app) -> dict:
    return {k: v for k, v in snapshot(app).items() if k in DIRECTORY_TABLES}


def outbox(app) -> list[tuple[str, str, str]]:
    """(kind, recipient, subject) of every queued e-mail, oldest first."""
    with database.new_session(app) as session:
        return [(m.kind, m.recipient, m.subject) for m in
                session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]


def bodies(app, recipient: str) -> list[str]:
    with database.new_session(app) as session:
        return [m.text_body for m in session.scalars(
            select(OutboxMessage).where(OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id))]


def audit(app) -> list[tuple[str, str, dict]]:
    with database.new_session(app) as session:
        return [(e.action, e.actor, e.details) for e in
                session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


INVITATION_LINK = re.compile(r"(http://\S+/console/invitation\?token=([A-Za-z0-9_-]+))")


def invitation_link(app, recipient: str) -> tuple[str, str]:
    """(the link, its secret) of the newest invitation e-mailed to ``recipient``."""
    [*_, body] = bodies(app, recipient)
    match = INVITATION_LINK.search(body)
    assert match, body
    return match.group(1), match.group(2)

