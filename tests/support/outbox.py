"""Putting rows in the outbox and reading them back, as the worker's tests need.

Rows are inserted with the ORM directly: queueing them from a change
(``idp.outbox.mail.queue``) is tested with the console."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from idp.infrastructure import database
from idp.outbox.models import OutboxMessage

DOMAIN = "keyholder.localhost"  # of MAIL_FROM in tests.support.settings


def queue(app: Flask, count: int = 1, **fields) -> list[int]:
    """Queue ``count`` messages (to person0@example.com, person1@...); returns their ids."""
    with database.new_session(app) as session:
        rows = [OutboxMessage(**{
            "kind": "test.notice", "recipient": f"person{i}@example.com",
            "recipient_name": f"Person {i}", "subject": f"Notice {i}",
            "text_body": f"Hello Person {i},\n\nsomething happened.\n",
            "html_body": f"<p>Hello Person {i},</p><p>something happened.</p>",
            **fields}) for i in range(count)]
        session.add_all(rows)
        session.commit()
        return [row.id for row in rows]


def outbox(app: Flask) -> dict[int, OutboxMessage]:
    with database.new_session(app) as session:
        return {row.id: row for row in session.scalars(select(OutboxMessage))}


def update(app: Flask, outbox_id: int, **fields) -> None:
    with database.new_session(app) as session:
        row = session.get(OutboxMessage, outbox_id)
        for name, value in fields.items():
            setattr(row, name, value)
        session.commit()


def message_id(outbox_id: int) -> str:
    return f"<outbox-{outbox_id}@{DOMAIN}>"
