"""The outbox: e-mails queued in the same transaction as the change they tell
about, sent later by ``keyholder worker`` (a transactional outbox: a change
is never told without happening, nor happens without being told)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.directory.models import utcnow
from idp.infrastructure.database import Base


class OutboxMessage(Base):
    __tablename__ = "outbox_message"
    __table_args__ = (Index(None, "sent_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What the message is about ("promotion.notice", ...): for tests and audits.
    kind: Mapped[str] = mapped_column(String(40))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), default=None)
    recipient: Mapped[str] = mapped_column(String(254))
    recipient_name: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    # The last delivery error, short and without secrets (never the SMTP password).
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)

    def __repr__(self) -> str:
        return f"<OutboxMessage {self.id} {self.kind}>"
