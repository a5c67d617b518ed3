"""The operator's own records, as the self-care portal and the usage API see
them: subscriptions, bills, usage, options and Bizz Club points, keyed by
customer number and mobile number. This is not the provider's database (the
services never read that one): who may see what comes from the tokens, and
these tables only say what exists.

    engine = open_store("instance/operator.db")
    with Session(engine) as session:
        usage_for(session, "123456789", mobile="+32470000002")

Money is in euro cents (integers: SQLite has no decimal type), months are
``YYYY-MM`` text, data volumes in MB.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Engine,
    Enum,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class SubscriptionKind(StrEnum):
    MOBILE = "mobile"
    FIXED_LINE = "fixed line"
    INTERNET = "internet"
    TV = "TV"


class BillStatus(StrEnum):
    PAID = "paid"
    OPEN = "open"
    OVERDUE = "overdue"


def _enum(kind: type[StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, values_callable=lambda e: [m.value for m in e],
                length=16, validate_strings=True)


class Subscription(Base):
    """One line under a customer number; ``number`` is the mobile number
    (E.164) of a mobile, the line's reference otherwise."""

    __tablename__ = "subscriptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(9), index=True)
    kind: Mapped[SubscriptionKind] = mapped_column(_enum(SubscriptionKind))
    number: Mapped[str] = mapped_column(String(32), unique=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    plan: Mapped[str] = mapped_column(String(200))
    options: Mapped[list[Option]] = relationship(back_populates="subscription",
                                                 order_by="Option.id")

    @property
    def is_mobile(self) -> bool:
        return self.kind is SubscriptionKind.MOBILE


class Bill(Base):
    __tablename__ = "bills"
    __table_args__ = (UniqueConstraint("customer_number", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_number: Mapped[str] = mapped_column(String(9), index=True)
    month: Mapped[str] = mapped_column(String(7))
    amount_cents: Mapped[int] = mapped_column(Integer)
    status: Mapped[BillStatus] = mapped_column(_enum(BillStatus))


class Usage(Base):
    """A mobile's usage in one month."""

    __tablename__ = "usage"
    __table_args__ = (UniqueConstraint("mobile_number", "month"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mobile_number: Mapped[str] = mapped_column(ForeignKey("subscriptions.number"), index=True)
    month: Mapped[str] = mapped_column(String(7))
    data_mb: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
    sms: Mapped[int] = mapped_column(Integer)


class Option(Base):
    """An option of a subscription, paid (with a monthly fee) or free."""

    __tablename__ = "options"
    __table_args__ = (
        UniqueConstraint("subscription_id", "name"),
        CheckConstraint("(paid AND monthly_fee_cents > 0) OR (NOT paid AND monthly_fee_cents = 0)",
                        name="fee_matches_paid"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    paid: Mapped[bool]
    monthly_fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(default=False)
    activated_by: Mapped[str | None] = mapped_column(String(255))  # the person's sub
    activated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    subscription: Mapped[Subscription] = relationship(back_populates="options")


class BizzClubPoints(Base):
    __tablename__ = "bizz_club_points"
    customer_number: Mapped[str] = mapped_column(String(9), primary_key=True)
    points: Mapped[int] = mapped_column(Integer)


def open_store(path: str | Path) -> Engine:
    """The store in the SQLite file ``path``, its tables created if missing."""
    engine = create_engine(f"sqlite:///{path}")

    @event.listens_for(engine, "connect")
    def _pragmas(connection, _record) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")  # readers do not wait for a writer
        cursor.execute("PRAGMA busy_timeout = 5000")
        cursor.close()

    Base.metadata.create_all(engine)
    return engine


# -- reading ------------------------------------------------------------------------

def subscriptions_of(session: Session, customer_number: str) -> list[Subscription]:
    return list(session.scalars(select(Subscription)
                                .where(Subscription.customer_number == customer_number)
                                .order_by(Subscription.id)))


def find_subscription(session: Session, customer_number: str,
                      number: str) -> Subscription | None:
    """The subscription ``number`` if it is under ``customer_number``: a number
    of another customer is not found, so forms can only name one's own."""
    return session.scalar(select(Subscription).where(
        Subscription.customer_number == customer_number, Subscription.number == number))


def bills_of(session: Session, customer_number: str) -> list[Bill]:
    return list(session.scalars(select(Bill).where(Bill.customer_number == customer_number)
                                .order_by(Bill.month.desc())))


def usage_for(session: Session, customer_number: str,
              mobile: str | None = None) -> list[dict]:
    """The usage of the mobiles of ``customer_number`` (only ``mobile``'s when
    given), by mobile and month: dicts with ``mobile``, ``holder``, ``month``,
    ``data_mb``, ``minutes`` and ``sms``. A mobile of another customer gives []."""
    query = (select(Usage, Subscription.holder)
             .join(Subscription, Subscription.number == Usage.mobile_number)
             .where(Subscription.customer_number == customer_number)
             .order_by(Usage.mobile_number, Usage.month.desc()))
    if mobile is not None:
        query = query.where(Usage.mobile_number == mobile)
    return [{"mobile": usage.mobile_number, "holder": holder, "month": usage.month,
             "data_mb": usage.data_mb, "minutes": usage.minutes, "sms": usage.sms}
            for usage, holder in session.execute(query)]


def options_of(session: Session, customer_number: str,
               number: str | None = None) -> list[Option]:
    query = (select(Option).join(Option.subscription)
             .where(Subscription.customer_number == customer_number)
             .order_by(Subscription.number, Option.id))
    if number is not None:
        query = query.where(Subscription.number == number)
    return list(session.scalars(query))


def bizz_club_points(session: Session, customer_number: str) -> int | None:
    return session.scalar(select(BizzClubPoints.points)
                          .where(BizzClubPoints.customer_number == customer_number))


# -- changing -----------------------------------------------------------------------

def activate_option(session: Session, option: Option, subject: str, *,
                    at_fee_cents: int | None = None) -> bool:
    """Activate ``option`` for the person ``subject``, only at the monthly fee
    ``at_fee_cents`` when given (the price the person confirmed); False if it
    was active already, or its fee is another. One conditional UPDATE: two
    clicks at once activate it once, and a price changed meanwhile does not
    slip through. The caller decides whether the person may, and commits."""
    conditions = [Option.id == option.id, Option.active.is_(False)]
    if at_fee_cents is not None:
        conditions.append(Option.monthly_fee_cents == at_fee_cents)
    result = session.execute(
        update(Option).where(*conditions)
        .values(active=True, activated_by=subject, activated_at=datetime.now(UTC))
        .execution_options(synchronize_session=False))
    session.expire(option)
    return result.rowcount == 1


__all__ = ["Base", "Bill", "BillStatus", "BizzClubPoints", "Option", "Subscription",
           "SubscriptionKind", "Usage", "activate_option", "bills_of", "bizz_club_points",
           "find_subscription", "open_store", "options_of", "subscriptions_of", "usage_for"]
