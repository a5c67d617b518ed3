"""What administrators do to members (admin_console/administration.py):
remove a member (whose tokens for the customer stop at once), make a user
administrator (business customers), require a second factor of the
administrators. Each told and audited, each refused for whoever may not,
changing nothing. On SQLite and PostgreSQL."""

import pytest

from admin_console import administration
from admin_console.eligibility import Refusal
from claims.vocabulary import Role
from idp.directory.models import Customer, Membership
from idp.infrastructure import database
from tests.admin_console.helpers import audit, bodies, outbox
from tests.factories import CustomerFactory, MembershipFactory
from tests.snapshots import snapshot


@pytest.fixture
def smith(db):
    customer = CustomerFactory(number="123456789", name="Smith ltd")
    philip = MembershipFactory(customer=customer, administrator=True, person__name="Philip",
                               person__email="philip@smith.example")
    anna = MembershipFactory(customer=customer, administrator=True, person__name="Anna",
                             person__email="anna@smith.example")
    mary = MembershipFactory(customer=customer, person__name="Mary",
                             person__email="mary@smith.example")
    home = CustomerFactory(residential=True, number="987654321", name="Taylor household")
    thomas = MembershipFactory(customer=home, administrator=True, person__name="Thomas",
                               person__email="thomas@taylor.example")
    emma = MembershipFactory(customer=home, person__name="Emma",
                             person__email="emma@taylor.example")
    db.commit()
    return customer, philip, anna, mary, home, thomas, emma


def membership(app, membership_id) -> Membership | None:
    with database.new_session(app) as session:
        member = session.get(Membership, membership_id)
        if member is not None:
            session.expunge(member)
        return member


def test_removing_a_member_told_and_audited(app, db, smith):
    customer, philip, anna, mary, home, _, _ = smith
    # Mary belongs to the household too; that membership stays.
    at_home = MembershipFactory(customer=home, person=mary.person)
    db.commit()
    done = administration.remove_member(app, philip.person_id, customer.id, mary.id)
    assert done.message == ("Mary is no longer a member of customer number 123456789: the "
                            "sign-ins for it stopped at once.")
    assert membership(app, mary.id) is None
    assert membership(app, at_home.id) is not None
    assert audit(app)[-1] == ("membership.removed", f"person:{philip.person_id}",
                              {"role": "user"})
    assert sorted(outbox(app)) == [
        ("membership.removed", "anna@smith.example",
         "Mary is no longer a member of customer 123456789"),
        ("membership.removed", "mary@smith.example",
         "You are no longer a member of customer 123456789")]
    [to_mary] = bodies(app, "mary@smith.example")
    assert "Philip, an administrator of customer number 123456789 (Smith ltd), removed you" \
        in to_mary
    assert anna.person.email in {to for _, to, _ in outbox(app)}


def test_an_administrator_removing_himself_is_told_to_step_down(app, smith):
    customer, philip, _, _, _, _, _ = smith
    before = snapshot(app)
    refused = administration.remove_member(app, philip.person_id, customer.id, philip.id)
    assert refused.code is Refusal.SELF_REMOVAL
    assert refused.message == ("You cannot remove yourself from this customer number. If you "
                               "no longer want to administer it, step down to user instead.")
    assert snapshot(app) == before


def test_an_administrator_may_remove_another_administrator(app, smith):
    customer, philip, anna, _, _, _, _ = smith
    assert administration.remove_member(app, anna.person_id, customer.id, philip.id)
    assert membership(app, philip.id) is None
    assert audit(app)[-1][2] == {"role": "administrator"}


def test_make_a_user_administrator_told_like_a_self_promotion(app, smith):
    customer, philip, _, mary, _, _, _ = smith
    result = administration.make_member_administrator(app, philip.person_id, customer.id,
                                                      mary.id)
    assert result.message == ("Mary is now an administrator of customer number 123456789. "
                              "We told Mary and the other administrators (Philip and Anna) by "
                              "e-mail.")
    assert membership(app, mary.id).role is Role.ADMINISTRATOR
    assert audit(app)[-1] == ("membership.promoted", f"person:{philip.person_id}",
                              {"how": "by an administrator"})
    assert sorted(outbox(app)) == [
        ("promotion.confirmation", "mary@smith.example",
         "You are now an administrator of customer 123456789"),
        ("promotion.notice", "anna@smith.example",
         "Mary became an administrator of customer 123456789"),
        ("promotion.notice", "philip@smith.example",
         "Mary became an administrator of customer 123456789")]
    again = administration.make_member_administrator(app, philip.person_id, customer.id,
                                                     mary.id)
    assert again and again.message == "Mary is already an administrator."


def test_make_administrator_refusals_change_nothing(app, db, smith):
    customer, philip, _, mary, home, thomas, emma = smith
    unverified = MembershipFactory(customer=customer, person__name="Uma",
                                   person__unverified=True)
    suspended = MembershipFactory(customer=customer, person__name="Sam",
                                  person__suspended=True)
    db.commit()
    before = snapshot(app)
    for actor, customer_id, member_id, code in (
        (mary, customer.id, philip.id, Refusal.NOT_ADMINISTRATOR),     # a user
        (thomas, home.id, emma.id, Refusal.NOT_BUSINESS),             # a household
        (philip, customer.id, emma.id, Refusal.NO_SUCH_MEMBER),       # another customer's
        (philip, customer.id, unverified.id, Refusal.UNVERIFIED),
        (philip, customer.id, suspended.id, Refusal.SUSPENDED),
    ):
        result = administration.make_member_administrator(app, actor.person_id, customer_id,
                                                          member_id)
        assert not result and result.code is code, result
    assert snapshot(app) == before
    household = administration.make_member_administrator(app, thomas.person_id, home.id,
                                                         emma.id)
    assert household.message == ("A residential customer has one administrator: hand "
                                 "administration over instead.")


def test_removal_refusals_change_nothing(app, smith):
    customer, philip, _, mary, _, thomas, emma = smith
    before = snapshot(app)
    for actor, customer_id, member_id, code in (
        (mary, customer.id, philip.id, Refusal.NOT_ADMINISTRATOR),
        (thomas, customer.id, mary.id, Refusal.NOT_ADMINISTRATOR),    # not his customer
        (philip, customer.id, emma.id, Refusal.NO_SUCH_MEMBER),       # another customer's
        (philip, customer.id, 10**9, Refusal.NO_SUCH_MEMBER),
    ):
        result = administration.remove_member(app, actor.person_id, customer_id, member_id)
        assert not result and result.code is code, result
    assert snapshot(app) == before


def test_requiring_a_second_factor_of_the_administrators(app, smith):
    customer, philip, anna, mary, _, _, _ = smith
    done = administration.set_second_factor_required(app, philip.person_id, customer.id, True)
    assert done.message == ("A second factor is now required for the administrators of this "
                            "customer number.")
    with database.new_session(app) as session:
        assert session.get(Customer, customer.id).second_factor_required is True
    assert audit(app)[-1] == ("customer.second_factor_required", f"person:{philip.person_id}",
                              {})
    assert outbox(app) == [("customer.second_factor", "anna@smith.example",
                            "Second factor required for the administrators of customer "
                            "123456789")]
    [text] = bodies(app, "anna@smith.example")
    assert "/account/" in text
    same = administration.set_second_factor_required(app, anna.person_id, customer.id, True)
    assert same.message == "Nothing changed: a second factor was already required."
    before = snapshot(app)
    refused = administration.set_second_factor_required(app, mary.person_id, customer.id,
                                                        False)
    assert refused.code is Refusal.NOT_ADMINISTRATOR
    assert snapshot(app) == before
    assert administration.set_second_factor_required(app, anna.person_id, customer.id, False)
    assert audit(app)[-1][0] == "customer.second_factor_optional"
    with database.new_session(app) as session:
        assert session.get(Customer, customer.id).second_factor_required is False
