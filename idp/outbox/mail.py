"""Queueing e-mails in the outbox, inside the caller's transaction.

Each e-mail is rendered now (plain text and HTML, from
``admin_console/templates/mail/``) and stored; ``keyholder worker`` sends it.
So a change and the e-mails telling of it commit or roll back together."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from sqlalchemy.orm import Session

from idp.directory.models import Customer, Person
from idp.outbox.models import OutboxMessage

# E-mails that carry a single-use link's secret (its hash alone is in
# account_link): their bodies are emptied once sent or given up, so a copy of
# the database opens no link ("Random secrets, stored hashed").
SECRET_LINK_KINDS = frozenset({"password.reset", "email.verification",
                               "membership.invitation"})


def when(moment: datetime) -> str:
    """A date and time people read in an e-mail: 26 November 2026 at 07:10 UTC."""
    return f"{moment.day} {moment:%B %Y} at {moment:%H:%M} UTC"


def console_url(path: str = "") -> str:
    return current_app.config["KEYHOLDER"].ISSUER + "/console" + path


def queue(db: Session, kind: str, template: str, subject: str, to: Person,
          customer: Customer | None, **context) -> OutboxMessage:
    """Render ``mail/<template>.txt`` and ``.html`` for ``to`` and queue them."""
    context = {"to": to, "customer": customer, "console_url": console_url(), **context}
    message = OutboxMessage(
        kind=kind, customer_id=customer.id if customer else None, recipient=to.email,
        recipient_name=to.name, subject=subject,
        text_body=render_template(f"mail/{template}.txt", **context),
        html_body=render_template(f"mail/{template}.html", **context))
    db.add(message)
    return message
