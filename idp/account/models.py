"""What the account pages remember: single-use links sent by e-mail, and the
recovery codes of a second factor. Secrets are stored as SHA-256 hashes only
(they are 256-bit random strings: a slow hash would add nothing)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from idp.directory.models import utcnow
from idp.infrastructure.database import Base


class LinkPurpose(StrEnum):
    PASSWORD_RESET = "password_reset"          # 30 minutes
    EMAIL_VERIFICATION = "email_verification"  # 7 days
    INVITATION = "invitation"                  # 7 days, into a customer number
    PROMOTION_UNDO = "promotion_undo"          # KEYHOLDER_PROMOTION_UNDO_WINDOW


class AccountLink(Base):
    """A link sent by e-mail, usable once before ``expires_at``."""

    __tablename__ = "account_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The person it is for (None: an invitation to an address nobody has yet).
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True, default=None)
    email: Mapped[str] = mapped_column(String(254), index=True)
    # An invitation's customer, role and own mobile.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), default=None)
    role: Mapped[str | None] = mapped_column(String(20), default=None)
    mobile: Mapped[str | None] = mapped_column(String(16), default=None)
    # Undoing a promotion: the promoted person (no foreign key: adding one
    # copies the table on SQLite; a link about someone gone finds no member).
    subject_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_by: Mapped[str] = mapped_column(String(64))  # an audit actor
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)


class RecoveryCode(Base):
    """One of the ten single-use codes that stand in for a lost second factor."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(default=None)
