"""An outbox row as an e-mail (RFC 5322, MIME multipart/alternative).

The ``Message-ID`` is made from the outbox id, ``<outbox-{id}@{domain}>``, so
the rare duplicate (a crash between sending and marking as sent, see
:mod:`idp.outbox.delivery`) carries the same id as the first copy and
mail clients and tests can recognise it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from idp.outbox.models import OutboxMessage


class InvalidMailFrom(ValueError):
    """``KEYHOLDER_MAIL_FROM`` is not an address like ``Name <user@domain>``."""


@dataclass(frozen=True)
class Sender:
    name: str
    address: str

    @classmethod
    def parse(cls, mail_from: str) -> Sender:
        name, address = parseaddr(mail_from)
        local, _, domain = address.rpartition("@")
        if not local or not domain:
            raise InvalidMailFrom(f"KEYHOLDER_MAIL_FROM is not an e-mail address: {mail_from!r}")
        return cls(name, address)

    @property
    def domain(self) -> str:
        return self.address.rpartition("@")[2].lower()


def message_id(outbox_id: int, sender: Sender) -> str:
    return f"<outbox-{outbox_id}@{sender.domain}>"


def compose(row: OutboxMessage, sender: Sender, now: datetime) -> EmailMessage:
    """The e-mail for ``row``; raises ``ValueError`` (or ``email.errors`` errors)
    when a stored field cannot be a header (a line break, a bad address)."""
    email = EmailMessage()
    email["Message-ID"] = message_id(row.id, sender)
    email["Date"] = format_datetime(now)
    email["From"] = Address(sender.name, addr_spec=sender.address)
    email["To"] = Address(row.recipient_name, addr_spec=row.recipient)
    email["Subject"] = row.subject
    email.set_content(row.text_body)
    email.add_alternative(row.html_body, subtype="html")
    return email
