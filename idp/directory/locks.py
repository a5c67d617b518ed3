"""Reading what a change depends on, locked for the rest of the transaction.

On PostgreSQL the customer's row is locked (``SELECT ... FOR NO KEY UPDATE``): every
change of a customer's administrators takes this lock first (the console's
actions, and :func:`idp.directory.administrators.make_administrator`, which
every promotion goes through), so two promotions of one residential household
cannot both see "no administrator" (no read-then-write race). On SQLite the
transaction began with ``BEGIN IMMEDIATE`` (:func:`idp.infrastructure.database.begin_write`),
which serialises writers already; the locking clause is left out of the SQL there.

``FOR NO KEY UPDATE`` rather than ``FOR UPDATE``: as exclusive as ``FOR UPDATE``
among those who take it, but it lets rows that refer to the customer be
inserted meanwhile (a foreign-key check takes ``FOR KEY SHARE``). So a
transaction that adds a membership and then locks its customer, to make it
administrator, waits for another doing the same instead of deadlocking."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from claims.vocabulary import Role
from idp.directory.models import Customer, Membership


def customer(db: Session, customer_id: int) -> Customer | None:
    return db.scalar(select(Customer).where(Customer.id == customer_id)
                     .with_for_update(key_share=True).execution_options(populate_existing=True))


def customer_by_number(db: Session, number: str) -> Customer | None:
    return db.scalar(select(Customer).where(Customer.number == number)
                     .with_for_update(key_share=True).execution_options(populate_existing=True))


def membership(db: Session, person_id: str, customer_id: int) -> Membership | None:
    """Read after the customer's lock: its role is the current one."""
    return db.scalar(select(Membership)
                     .where(Membership.person_id == person_id,
                            Membership.customer_id == customer_id)
                     .options(selectinload(Membership.person))
                     .execution_options(populate_existing=True))


def member_by_id(db: Session, membership_id: int, customer_id: int) -> Membership | None:
    """A membership of *this* customer only: ids from forms are never trusted
    to belong to the customer in the session (every query is scoped to it)."""
    return db.scalar(select(Membership)
                     .where(Membership.id == membership_id,
                            Membership.customer_id == customer_id)
                     .options(selectinload(Membership.person))
                     .execution_options(populate_existing=True))


def administrators(db: Session, customer_id: int) -> list[Membership]:
    return list(db.scalars(select(Membership)
                           .where(Membership.customer_id == customer_id,
                                  Membership.role == Role.ADMINISTRATOR)
                           .options(selectinload(Membership.person))
                           .order_by(Membership.id)))


def count_administrators(db: Session, customer_id: int) -> int:
    return db.scalar(select(func.count()).select_from(Membership).where(
        Membership.customer_id == customer_id, Membership.role == Role.ADMINISTRATOR))
