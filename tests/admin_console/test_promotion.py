"""Becoming administrator (docs/design.md): every refusal with its message and
an unchanged directory; the promotion's role, audit and e-mails; a double
submit promotes once and mails once. On SQLite and PostgreSQL."""

import pytest
from sqlalchemy import select

from admin_console.eligibility import WRONG_NUMBER, Refusal
from admin_console.promotion import PERSON_LIMIT, become_administrator
from claims.vocabulary import Role
from idp.directory.models import Membership, PersonStatus
from idp.infrastructure import database
from tests.admin_console.helpers import audit, directory_state, outbox
from tests.factories import CustomerFactory, MembershipFactory


@pytest.fixture
def smith(db):
    """Smith ltd: Philip and Anna administrators, Mary a user with a mobile."""
    customer = CustomerFactory(number="123456789", name="Smith ltd")
    philip = MembershipFactory(customer=customer, administrator=True,
                               person__name="Philip Smith", person__email="philip@smith.example")
    anna = MembershipFactory(customer=customer, administrator=True, person__name="Anna Smith",
                             person__email="anna@smith.example")
    mary = MembershipFactory(customer=customer, person__name="Mary Jones",
                             person__email="mary@smith.example")
    db.commit()
    return customer, philip, anna, mary


def promote(app, membership, typed="123 456 789", channel="web", address="192.0.2.1"):
    return become_administrator(app, membership.person_id, typed, address=address,
                                channel=channel, context_customer_id=membership.customer_id)


def role_of(app, membership) -> Role:
    with database.new_session(app) as session:
        return session.get(Membership, membership.id).role


def test_mary_becomes_administrator_and_the_others_are_told(app, smith):
    mary = smith[3]
    result = promote(app, mary)
    assert result and result.customer_number == "123456789"
    assert set(result.told) == {"Philip Smith", "Anna Smith"}
    assert role_of(app, mary) is Role.ADMINISTRATOR
    assert sorted(outbox(app)) == sorted([
        ("promotion.notice", "philip@smith.example",
         "Mary Jones became an administrator of customer 123456789"),
        ("promotion.notice", "anna@smith.example",
         "Mary Jones became an administrator of customer 123456789"),
        ("promotion.confirmation", "mary@smith.example",
         "You are now an administrator of customer 123456789"),
    ])
    action, actor, details = audit(app)[-1]
    assert action == "membership.promoted" and actor == f"person:{mary.person_id}"
    assert details == {"how": "self-promotion"}


def test_a_double_submit_promotes_once_and_mails_once(app, smith):
    _, _, _, mary = smith
    assert promote(app, mary)
    mails = outbox(app)
    again = promote(app, mary)
    assert not again and again.code is Refusal.ALREADY
    assert "already an administrator" in again.message
    assert outbox(app) == mails


@pytest.mark.parametrize(("change", "typed", "code", "words"), [
    (None, "987654321", Refusal.WRONG_NUMBER, WRONG_NUMBER),           # no such customer
    ("other-company", "555555555", Refusal.WRONG_NUMBER, WRONG_NUMBER),  # exists, not hers
    (None, "12345678", Refusal.WRONG_NUMBER, "exactly 9 digits; this has 8"),
    (None, "１２３４５６７８９", Refusal.WRONG_NUMBER, "digits 0 to 9"),
    (None, "123\u200b456789", Refusal.WRONG_NUMBER, "only digits"),
    (None, "1" * 10_000, Refusal.WRONG_NUMBER, "far too long"),
    (None, "123456789'; DROP TABLE membership; --", Refusal.WRONG_NUMBER, "only digits"),
    ("suspended", "123456789", Refusal.SUSPENDED, "Your account is suspended"),
    ("unverified", "123456789", Refusal.UNVERIFIED, "confirm your e-mail address"),
    ("excluded", "123456789", Refusal.EXCLUDED, "has excluded you from administration"),
    ("closed", "123456789", Refusal.CLOSED, "have closed self-promotion"),
    ("app", "123456789", Refusal.APP_CHANNEL, "done on the web site, not in the app"),
])
def test_every_refusal_says_why_and_changes_nothing(app, db, smith, change, typed, code, words):
    customer, _, _, mary = smith
    channel = "web"
    if change == "other-company":
        CustomerFactory(number="555555555")
    elif change == "suspended":
        mary.person.status = PersonStatus.SUSPENDED
    elif change == "unverified":
        mary.person.email_verified = False
    elif change == "excluded":
        mary.excluded_from_administration = True
    elif change == "closed":
        customer.self_promotion_open = False
    elif change == "app":
        channel = "app"
    db.commit()
    before = directory_state(app)
    result = promote(app, mary, typed, channel=channel)
    assert not result and result.code is code
    assert str(words) in str(result.message)  # the words may be lazy (translated when shown)
    assert directory_state(app) == before
    if code is Refusal.WRONG_NUMBER:
        action, _, details = audit(app)[-1]
        assert action == "promotion.refused" and details == {"refusal": "wrong_number"}


# A residential customer with an administrator: tests/admin_console/test_residential_rule.py.


def test_residential_without_administrator_accepts_one(app, db):
    home = CustomerFactory(residential=True, number="987654321")
    emma = MembershipFactory(customer=home, mobile=None)  # with or without a mobile phone
    db.commit()
    assert promote(app, emma, "987-654-321")
    assert outbox(app) == [("promotion.confirmation", emma.person.email,
                            "You are now an administrator of customer 987654321")]


def test_wrong_numbers_are_limited_and_then_even_the_right_one_waits(app, smith):
    _, _, _, mary = smith
    for i in range(PERSON_LIMIT):
        assert promote(app, mary, f"99999999{i}").code is Refusal.WRONG_NUMBER
    before = directory_state(app)
    blocked = promote(app, mary, "123456789")
    assert blocked.code is Refusal.THROTTLED and "Too many wrong customer numbers" in \
        blocked.message and "minute" in blocked.message
    assert directory_state(app) == before
    assert role_of(app, mary) is Role.USER


def test_wrong_numbers_are_limited_per_address_too(app, db, smith):
    mary = smith[3]
    others = [MembershipFactory(customer=CustomerFactory()) for _ in range(4)]
    db.commit()
    for member in others:  # different people, different customers, one address
        for i in range(5):
            promote(app, member, f"88888888{i}", address="198.51.100.7")
    assert promote(app, mary, address="198.51.100.7").code is Refusal.THROTTLED
    assert promote(app, mary, address="198.51.100.8")  # another address is not blocked


def test_the_number_is_compared_as_a_string(app, db):
    # 012345678 and 12345678 are different customer numbers; int() would merge them.
    leading = CustomerFactory(number="012345678")
    member = MembershipFactory(customer=leading)
    db.commit()
    assert promote(app, member, "12345678").code is Refusal.WRONG_NUMBER
    assert promote(app, member, "012 345 678")
    with database.new_session(app) as session:
        assert session.scalar(select(Membership.role).where(Membership.id == member.id)) \
            is Role.ADMINISTRATOR
