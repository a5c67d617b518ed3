"""Directory tables (docs/design.md, "The domain").

A *person* is one login; a *membership* links a person to a *customer* with a
role. Enumerations are stored as their wire strings with a CHECK constraint,
so the two databases agree and a row can be read by eye.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from claims.vocabulary import CustomerType, Role
from idp.directory.errors import OneAdministratorOnly
from idp.infrastructure.database import Base, explain_violation


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_subject() -> str:
    # 128 random bits: stable, opaque, never derived from the e-mail (OIDC Core §8).
    return secrets.token_urlsafe(16)


class PersonStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


def _enum(enum_class: type[StrEnum], name: str) -> Enum:
    return Enum(enum_class, name=name, native_enum=False, create_constraint=True,
                length=20, values_callable=lambda members: [m.value for m in members],
                validate_strings=True)


class Customer(Base):
    __tablename__ = "customer"
    # The parent key of the memberships' copy of the type (below). An index,
    # not a constraint: adding a constraint means copying the table on SQLite.
    __table_args__ = (Index(None, "id", "type", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[CustomerType] = mapped_column(_enum(CustomerType, "customer_type"))
    self_promotion_open: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set by its administrators: each administrator signs in with a second factor.
    second_factor_required: Mapped[bool] = mapped_column(Boolean, default=False,
                                                         server_default="0")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="customer", order_by="Membership.id",
        cascade="all, delete-orphan", passive_deletes=True)

    def __repr__(self) -> str:
        return f"<Customer {self.number} {self.type.value}>"


class Person(Base):
    __tablename__ = "person"

    # The OIDC `sub`: opaque, stable, unique.
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_subject)
    # Stored in canonical (lower-case) form, so uniqueness is case-insensitive
    # with a plain unique index on both databases.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    status: Mapped[PersonStatus] = mapped_column(
        _enum(PersonStatus, "person_status"), default=PersonStatus.ACTIVE)
    locale: Mapped[str] = mapped_column(String(35), default="en")
    # RFC 6238: the shared secret, encrypted at rest (idp.account.totp), and
    # when it was enrolled; None: no second factor.
    totp_secret: Mapped[str | None] = mapped_column(String(200), default=None)
    totp_enabled_at: Mapped[datetime | None] = mapped_column(default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="person", order_by="Membership.id",
        cascade="all, delete-orphan", passive_deletes=True)

    @property
    def is_active(self) -> bool:
        return self.status is PersonStatus.ACTIVE

    def __repr__(self) -> str:  # no e-mail or hash in logs
        return f"<Person {self.id}>"


# The residential one-administrator rule, kept by the database itself: at most
# one administrator row per residential customer. The rule is decided (with
# its reason) by idp.directory.administrators; this index stops any writer
# that goes around it, with the rule's error (explain_violation, below).
_RESIDENTIAL_ADMINISTRATOR = text(
    f"role = '{Role.ADMINISTRATOR.value}' AND customer_type = '{CustomerType.RESIDENTIAL.value}'")
ONE_RESIDENTIAL_ADMINISTRATOR = Index(
    "ix_membership_one_residential_administrator", "customer_id", unique=True,
    postgresql_where=_RESIDENTIAL_ADMINISTRATOR, sqlite_where=_RESIDENTIAL_ADMINISTRATOR)


class Membership(Base):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("person_id", "customer_id"),
        # The customer's type, copied so that the index below can see it, and
        # kept equal to the customer's by the database: a change of the type
        # cascades here (and is refused if it would break the rule).
        ForeignKeyConstraint(["customer_id", "customer_type"], ["customer.id", "customer.type"],
                             ondelete="CASCADE", onupdate="CASCADE"),
        ONE_RESIDENTIAL_ADMINISTRATOR,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(Integer, index=True)
    # Set from the customer by the relationship below; never set it by hand.
    customer_type: Mapped[CustomerType] = mapped_column(_enum(CustomerType, "customer_type"))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"), default=Role.USER)
    # E.164, the member's own mobile under this customer; None: no mobile.
    mobile: Mapped[str | None] = mapped_column(String(16), default=None)
    # Set by an administrator: this member may not promote himself.
    excluded_from_administration: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="memberships")
    customer: Mapped[Customer] = relationship(back_populates="memberships")

    @property
    def is_administrator(self) -> bool:
        return self.role is Role.ADMINISTRATOR

    def __repr__(self) -> str:
        return f"<Membership {self.person_id} {self.customer_id} {self.role.value}>"


explain_violation(ONE_RESIDENTIAL_ADMINISTRATOR, OneAdministratorOnly)


class AuditEvent(Base):
    """Who did what to whom, under which customer, and how. Never holds secrets."""

    __tablename__ = "audit_event"
    # A customer's trail (the console), a person's activity (the Security page).
    __table_args__ = (Index(None, "customer_id", "id"), Index(None, "person_id", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    action: Mapped[str] = mapped_column(String(64))
    # "person:<sub>", "operator" (the command line) or "system".
    actor: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), default=None)
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), default=None)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def __repr__(self) -> str:
        return f"<AuditEvent {self.id} {self.action}>"
