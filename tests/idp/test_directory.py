"""The directory service on SQLite and PostgreSQL (every test runs on both)."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from claims.customer_numbers import InvalidCustomerNumber
from claims.vocabulary import CustomerType, Role
from idp.directory.errors import (
    DuplicateCustomer,
    DuplicateEmail,
    DuplicateMembership,
    InvalidMobile,
    UnknownCustomer,
    UnknownPerson,
)
from idp.directory.models import AuditEvent, Customer, Membership, Person, PersonStatus
from idp.directory.services import AuditAction, Directory
from idp.infrastructure import database
from tests.factories import CustomerFactory, MembershipFactory, PersonFactory


def test_add_customer_normalises_the_number_and_audits(directory, db):
    customer = directory.add_customer(" 123.456.789 ", "Smith ltd", "business")
    db.commit()
    assert customer.number == "123456789"
    assert customer.type is CustomerType.BUSINESS
    assert customer.self_promotion_open is True
    (event,) = directory.audit_trail(customer)
    assert event.action == AuditAction.CUSTOMER_ADDED
    assert event.actor == "operator"


def test_customer_numbers_are_unique(directory):
    directory.add_customer("123456789", "Smith ltd", "business")
    with pytest.raises(DuplicateCustomer, match="123456789 already exists"):
        directory.add_customer("123 456 789", "Other", "residential")


def test_unknown_and_invalid_customer_numbers(directory):
    with pytest.raises(UnknownCustomer, match="no customer with number 987654321"):
        directory.customer("987-654-321")
    with pytest.raises(InvalidCustomerNumber):
        directory.customer("９８７６５４３２１")


def test_the_database_refuses_a_duplicate_number_too(db):
    # The unique index, not only the service's check, guards the number.
    db.add(Customer(number="111111111", name="A", type=CustomerType.BUSINESS))
    db.add(Customer(number="111111111", name="B", type=CustomerType.BUSINESS))
    with pytest.raises(IntegrityError):
        db.flush()


def test_person_gets_an_opaque_subject_and_a_canonical_email(directory, db):
    person = directory.add_person(" Mary.Jones@Smith-Ltd.Example ", "Mary  Jones", "hash",
                                  email_verified=True)
    db.commit()
    assert person.email == "mary.jones@smith-ltd.example"
    assert person.name == "Mary Jones"
    assert person.status is PersonStatus.ACTIVE and person.is_active
    assert len(person.id) >= 22 and "mary" not in person.id.lower()
    assert directory.find_person("MARY.JONES@smith-ltd.example") is person


def test_subjects_are_unique_and_random(directory):
    subjects = {directory.add_person(f"p{i}@example.com", f"P {i}", "h").id for i in range(20)}
    assert len(subjects) == 20


@pytest.mark.parametrize("other", ["mary@example.com", "MARY@EXAMPLE.COM", " Mary@Example.com"])
def test_email_is_unique_case_insensitively(directory, other):
    directory.add_person("Mary@example.com", "Mary", "hash")
    with pytest.raises(DuplicateEmail):
        directory.add_person(other, "Another Mary", "hash")


def test_unknown_person(directory):
    with pytest.raises(UnknownPerson):
        directory.person("nobody@example.com")
    assert directory.find_person("not an address") is None


def test_membership_with_and_without_mobile(directory, db):
    customer = CustomerFactory()
    mary, philip = PersonFactory(), PersonFactory()
    user = directory.add_membership(mary, customer, "user", "+32 470 00 00 02")
    admin = directory.add_membership(philip, customer, Role.ADMINISTRATOR)
    db.commit()
    assert user.mobile == "+32470000002" and user.role is Role.USER
    assert admin.mobile is None and admin.is_administrator
    assert not user.excluded_from_administration


def test_membership_rejects_a_bad_mobile_and_duplicates(directory):
    customer, person = CustomerFactory(), PersonFactory()
    with pytest.raises(InvalidMobile):
        directory.add_membership(person, customer, "user", "0470 00 00 02")
    directory.add_membership(person, customer, "user")
    with pytest.raises(DuplicateMembership, match=customer.number):
        directory.add_membership(person, customer, "administrator")


def test_a_person_in_two_customers(directory):
    work, home = CustomerFactory(), CustomerFactory(residential=True)
    thomas = PersonFactory()
    directory.add_membership(thomas, work, "user", "+32470000003")
    directory.add_membership(thomas, home, "administrator")
    memberships = directory.memberships_of(thomas)
    assert [(m.customer.number, m.role) for m in memberships] == [
        (work.number, Role.USER), (home.number, Role.ADMINISTRATOR)]


def test_members_and_administrators_of_a_customer(directory):
    customer = CustomerFactory()
    admin = MembershipFactory(customer=customer, administrator=True)
    user = MembershipFactory(customer=customer)
    MembershipFactory(administrator=True)  # another customer's administrator
    assert directory.members_of(customer) == [admin, user]
    assert directory.administrators_of(customer) == [admin]


def test_audit_trail_is_per_customer_and_ordered(directory):
    customer, other = CustomerFactory(), CustomerFactory()
    person = PersonFactory()
    directory.add_membership(person, customer, "user")
    directory.record("test.second", "system", customer=customer, note="kept")
    directory.record("test.elsewhere", "system", customer=other)
    trail = directory.audit_trail(customer)
    assert [e.action for e in trail] == [AuditAction.MEMBERSHIP_ADDED, "test.second"]
    assert trail[0].person_id == person.id
    assert trail[1].details == {"note": "kept"}


def test_removing_a_person_removes_memberships_but_keeps_the_audit(directory, db):
    membership = MembershipFactory()
    person, customer = membership.person, membership.customer
    directory.record("test.event", "system", customer=customer, person=person)
    db.commit()
    db.delete(person)
    db.commit()
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Membership)) == 0
    event = db.scalar(select(AuditEvent).where(AuditEvent.action == "test.event"))
    assert event.person_id is None and event.customer_id == customer.id


@pytest.mark.parametrize(("table", "column"), [
    ("membership", "role"), ("customer", "type"), ("person", "status")])
def test_enumerations_are_checked_by_the_database(db, table, column):
    # A third role (or type, or status) is refused by the CHECK constraint,
    # even when written without the ORM.
    MembershipFactory()
    db.commit()
    with pytest.raises(IntegrityError):
        db.execute(text(f"UPDATE {table} SET {column} = 'owner'"))
    db.rollback()


def test_a_rolled_back_unit_of_work_leaves_nothing(app):
    with app.app_context():
        session = database.session()
        directory = Directory(session)
        directory.add_customer("222222222", "Gone", "business")
        session.rollback()
    with database.new_session(app) as fresh:
        assert fresh.scalar(select(func.count()).select_from(Customer)) == 0
        assert fresh.scalar(select(func.count()).select_from(Person)) == 0
