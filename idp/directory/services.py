"""Directory operations. They work inside the caller's transaction and never
commit: the caller decides the unit of work, so a refusal leaves nothing behind."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from claims.customer_numbers import normalise_customer_number
from claims.vocabulary import CustomerType, Role
from idp.directory.administrators import make_administrator
from idp.directory.contacts import normalise_email, normalise_mobile, normalise_name
from idp.directory.errors import (
    DuplicateCustomer,
    DuplicateEmail,
    DuplicateMembership,
    InvalidEmail,
    UnknownCustomer,
    UnknownPerson,
)
from idp.directory.models import AuditEvent, Customer, Membership, Person, PersonStatus

OPERATOR = "operator"  # the actor of command-line changes


class AuditAction(StrEnum):
    CUSTOMER_ADDED = "customer.added"
    PERSON_ADDED = "person.added"
    MEMBERSHIP_ADDED = "membership.added"
    PROMOTED = "membership.promoted"            # became administrator (details: how)
    DEMOTED = "membership.demoted"              # became user (details: how)
    PROMOTION_REFUSED = "promotion.refused"     # details: the refusal code
    PROMOTION_UNDONE = "membership.promotion_undone"  # an administrator did not agree (details: by)
    INTENT_ANNOUNCED = "promotion.intent_announced"
    MEMBER_EXCLUDED = "membership.excluded"
    MEMBER_INCLUDED = "membership.included"
    SELF_PROMOTION_CLOSED = "customer.self_promotion_closed"
    SELF_PROMOTION_OPENED = "customer.self_promotion_opened"
    KEY_REVOKED = "key.revoked"                 # a signing key (details: kid, alg, replaced_by)
    MEMBERSHIP_REMOVED = "membership.removed"   # details: the role it had
    PERSON_SUSPENDED = "person.suspended"
    PERSON_UNSUSPENDED = "person.unsuspended"
    PASSWORD_CHANGED = "person.password_changed"  # details: how (changed, reset, operator)


# Called as listener(session, event) for every audit event recorded, in its
# transaction: the security events transmitter reports role changes, removals
# and suspensions from here (idp.security_events.sources), so no path that
# audits a change can forget to push it.
audit_listeners: list[Callable[[Session, AuditEvent], None]] = []


def person_actor(person: Person) -> str:
    return f"person:{person.id}"


class Directory:
    """The directory as seen through one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    # -- customers -----------------------------------------------------------

    def add_customer(self, number: str, name: str, type: CustomerType | str,
                     actor: str = OPERATOR) -> Customer:
        number = normalise_customer_number(number)
        customer_type = CustomerType(type)
        if self.find_customer(number) is not None:
            raise DuplicateCustomer(f"Customer number {number} already exists.")
        customer = Customer(number=number, name=normalise_name(name), type=customer_type)
        self.session.add(customer)
        self.session.flush()
        self.record(AuditAction.CUSTOMER_ADDED, actor, customer=customer,
                    type=customer_type.value)
        return customer

    def find_customer(self, number: str) -> Customer | None:
        """The customer with this canonical number, or None."""
        return self.session.scalar(select(Customer).where(Customer.number == number))

    def customer(self, typed_number: str) -> Customer:
        """The customer for a number as typed; raises if invalid or unknown."""
        number = normalise_customer_number(typed_number)
        customer = self.find_customer(number)
        if customer is None:
            raise UnknownCustomer(f"There is no customer with number {number}.")
        return customer

    # -- persons -------------------------------------------------------------

    def add_person(self, email: str, name: str, password_hash: str, *,
                   email_verified: bool = False, locale: str = "en",
                   actor: str = OPERATOR) -> Person:
        address = normalise_email(email)
        if self.find_person(address) is not None:
            raise DuplicateEmail("A person with this e-mail address already exists.")
        person = Person(email=address, name=normalise_name(name),
                        password_hash=password_hash, email_verified=email_verified,
                        locale=locale)
        self.session.add(person)
        self.session.flush()
        self.record(AuditAction.PERSON_ADDED, actor, person=person)
        return person

    def find_person(self, email: str) -> Person | None:
        """The person with this e-mail address (any case), or None."""
        try:
            address = normalise_email(email)
        except InvalidEmail:
            return None
        return self.session.scalar(select(Person).where(Person.email == address))

    def person(self, email: str) -> Person:
        person = self.find_person(email)
        if person is None:
            raise UnknownPerson("There is no person with this e-mail address.")
        return person

    def person_by_subject(self, subject: str) -> Person | None:
        return self.session.get(Person, subject)

    # -- memberships -----------------------------------------------------------

    def add_membership(self, person: Person, customer: Customer, role: Role | str,
                       mobile: str | None = None, actor: str = OPERATOR) -> Membership:
        """Add ``person`` to ``customer``. An administrator joins as a user and is
        then made one, through the rules every promotion passes."""
        role = Role(role)
        mobile = normalise_mobile(mobile) if mobile else None
        if self.membership(person, customer) is not None:
            raise DuplicateMembership(
                f"This person is already a member of customer {customer.number}.")
        membership = Membership(person=person, customer=customer, role=Role.USER,
                                mobile=mobile)
        self.session.add(membership)
        self.session.flush()
        if role is Role.ADMINISTRATOR:
            make_administrator(self.session, membership)
        self.record(AuditAction.MEMBERSHIP_ADDED, actor, customer=customer, person=person,
                    role=role.value, mobile=mobile is not None)
        return membership

    def remove_membership(self, membership: Membership, actor: str = OPERATOR) -> None:
        """Remove ``membership``: the person's tokens for that customer are
        inactive from the commit on (introspection reads the membership live)."""
        self.record(AuditAction.MEMBERSHIP_REMOVED, actor, customer=membership.customer,
                    person=membership.person, role=membership.role.value)
        self.session.delete(membership)
        self.session.flush()

    def set_suspended(self, person: Person, suspended: bool, actor: str = OPERATOR) -> bool:
        """Suspend or unsuspend ``person``; False when nothing changes."""
        status = PersonStatus.SUSPENDED if suspended else PersonStatus.ACTIVE
        if person.status is status:
            return False
        person.status = status
        self.record(AuditAction.PERSON_SUSPENDED if suspended else AuditAction.PERSON_UNSUSPENDED,
                    actor, person=person)
        return True

    def membership(self, person: Person, customer: Customer) -> Membership | None:
        return self.session.scalar(select(Membership).where(
            Membership.person_id == person.id, Membership.customer_id == customer.id))

    def memberships_of(self, person: Person) -> Sequence[Membership]:
        """The person's memberships, with their customers, oldest first."""
        return self.session.scalars(
            select(Membership).where(Membership.person_id == person.id)
            .options(selectinload(Membership.customer)).order_by(Membership.id)).all()

    def members_of(self, customer: Customer) -> Sequence[Membership]:
        """The customer's memberships, with their persons, oldest first."""
        return self.session.scalars(
            select(Membership).where(Membership.customer_id == customer.id)
            .options(selectinload(Membership.person)).order_by(Membership.id)).all()

    def administrators_of(self, customer: Customer) -> Sequence[Membership]:
        return [m for m in self.members_of(customer) if m.role is Role.ADMINISTRATOR]

    # -- audit -----------------------------------------------------------------

    def record(self, action: AuditAction | str, actor: str, *,
               customer: Customer | None = None, person: Person | None = None,
               **details: Any) -> AuditEvent:
        """Add an audit event to the current transaction. ``details`` must hold
        no secret: it is shown to administrators."""
        event = AuditEvent(action=str(action), actor=actor,
                           customer_id=customer.id if customer else None,
                           person_id=person.id if person else None, details=details)
        self.session.add(event)
        for listener in audit_listeners:
            listener(self.session, event)
        return event

    def audit_trail(self, customer: Customer) -> Sequence[AuditEvent]:
        return self.session.scalars(
            select(AuditEvent).where(AuditEvent.customer_id == customer.id)
            .order_by(AuditEvent.id)).all()
