"""Queueing e-mails in the outbox, inside the caller's transaction.

Each e-mail is rendered now (plain text and HTML, from
``admin_console/templates/mail/``) and stored; ``keyholder worker`` sends it.
So a change and the e-mails telling of it commit or roll back together."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from idp import i18n
from idp.directory.models import Customer, Person
from idp.i18n import LazyText as LazyString
from idp.i18n import formats
from idp.outbox.models import OutboxMessage

# E-mails that carry a single-use link's secret (its hash alone is in
# account_link): their bodies are emptied once sent or given up, so a copy of
# the database opens no link ("Random secrets, stored hashed").
SECRET_LINK_KINDS = frozenset({"password.reset", "email.verification", "promotion.notice",
                               "membership.invitation"})


def when(moment: datetime) -> str:
    """A date and time in the language of the page or e-mail being written,
    in the customer's time zone: 26 November 2026 at 08:10."""
    return formats.when(moment)


def language(to: object) -> str:
    """The language ``to`` (a person, or an invitation's address) reads e-mail in."""
    return i18n.locale_for(i18n.language_of(getattr(to, "locale", None)))


def console_url(path: str = "") -> str:
    return current_app.config["KEYHOLDER"].ISSUER + "/console" + path


def queue(db: Session, kind: str, template: str, subject: str | LazyString, to: Person,
          customer: Customer | None, **context) -> OutboxMessage:
    """Render ``mail/<template>.txt`` and ``.html`` for ``to`` and queue them,
    in ``to``'s language: ``subject`` is best a ``lazy_gettext`` string, and
    dates are best given as datetimes for the templates' ``when`` filter."""
    context = {"to": to, "customer": customer, "console_url": console_url(), **context}
    with force_locale(language(to)):
        message = OutboxMessage(
            kind=kind, customer_id=customer.id if customer else None, recipient=to.email,
            recipient_name=to.name, subject=str(subject),
            text_body=render_template(f"mail/{template}.txt", **context),
            html_body=render_template(f"mail/{template}.html", **context))
    db.add(message)
    return message
