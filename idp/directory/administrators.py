"""Making a member administrator: the one way in, for the command line
(``person add``, ``member add``, ``member set-role``) and the console
(self-promotion, hand-over) alike.

The residential one-administrator rule is decided here and nowhere else: a
residential customer (a household) has one administrator at most. It is
decided under the customer's lock (:mod:`idp.directory.locks`), so two
promotions at once cannot both see "no administrator", and the database
backs it with a partial unique index (:mod:`idp.directory.models`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from claims.policy import Allowed, Decision, Denied
from claims.vocabulary import CustomerType, Role
from idp.directory import locks
from idp.directory.errors import OneAdministratorOnly
from idp.directory.models import Customer, Membership


def one_administrator_rule(customer: Customer, others: Sequence[Membership]) -> Decision:
    """May ``customer``, whose other administrators are ``others``, have one more?"""
    if customer.type is CustomerType.RESIDENTIAL and others:
        return Denied(f"Customer {customer.number} is residential and has an administrator "
                      f"({others[0].person.name}); a residential customer has one at most. "
                      "Set that role to user first.")
    return Allowed()


def make_administrator(db: Session, member: Membership) -> list[Membership]:
    """Make ``member`` (in the database already) administrator of its
    customer, in the caller's transaction, or raise :class:`OneAdministratorOnly`
    with the reason, having changed nothing. Returns the customer's other
    administrators, read under the lock, for the caller to tell.

    Changes made earlier in the transaction count (the session writes them
    before it reads): a hand-over's step-down reaches the database first, so
    the customer has no administrator when this one comes."""
    customer = locks.customer(db, member.customer_id)
    others = [m for m in locks.administrators(db, customer.id) if m.id != member.id]
    decision = one_administrator_rule(customer, others)
    if not decision:
        raise OneAdministratorOnly(decision.reason)
    # A savepoint: if the database refuses all the same (a writer that went
    # around this function), the caller's transaction lives on to say why.
    with db.begin_nested():
        member.role = Role.ADMINISTRATOR
    return others
