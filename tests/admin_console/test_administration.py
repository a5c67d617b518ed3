"""What administrators do (exclude, close self-promotion, step down, hand
over) and the operator's correction: each with its e-mails and audit
entries, each refused for whoever may not. On SQLite and PostgreSQL."""

import pytest

from admin_console import administration
from admin_console.eligibility import Refusal
from admin_console.promotion import become_administrator
from claims.vocabulary import Role
from idp.directory.models import Customer, Membership
from idp.infrastructure import database
from tests.admin_console.helpers import audit, bodies, directory_state, outbox
from tests.factories import CustomerFactory, MembershipFactory


@pytest.fixture
def business(db):
    customer = CustomerFactory(number="123456789", name="Smith ltd")
    philip = MembershipFactory(customer=customer, administrator=True, person__name="Philip",
                               person__email="philip@smith.example")
    anna = MembershipFactory(customer=customer, administrator=True, person__name="Anna",
                             person__email="anna@smith.example")
    mary = MembershipFactory(customer=customer, person__name="Mary",
                             person__email="mary@smith.example")
    db.commit()
    return customer, philip, anna, mary


@pytest.fixture
def household(db):
    home = CustomerFactory(residential=True, number="987654321", name="Taylor household")
    thomas = MembershipFactory(customer=home, administrator=True, person__name="Thomas",
                               person__email="thomas@taylor.example", mobile=None)
    emma = MembershipFactory(customer=home, person__name="Emma",
                             person__email="emma@taylor.example")
    db.commit()
    return home, thomas, emma


def state(app, membership_id: int) -> Membership:
    with database.new_session(app) as session:
        member = session.get(Membership, membership_id)
        session.expunge(member)
        return member


def test_exclude_and_include_again(app, business):
    customer, philip, _, mary = business
    done = administration.set_exclusion(app, philip.person_id, customer.id, mary.id, True)
    assert done and "can no longer become administrator" in done.message
    assert state(app, mary.id).excluded_from_administration
    assert outbox(app) == [("membership.exclusion", "mary@smith.example",
                            "Administration of customer 123456789")]
    assert "Philip excluded you from administration" in bodies(app, "mary@smith.example")[0]
    assert audit(app)[-1][:2] == ("membership.excluded", f"person:{philip.person_id}")
    refused = become_administrator(app, mary.person_id, "123456789", address="192.0.2.1",
                                   channel="web")
    assert refused.code is Refusal.EXCLUDED
    assert administration.set_exclusion(app, philip.person_id, customer.id, mary.id, False)
    assert not state(app, mary.id).excluded_from_administration
    assert audit(app)[-1][0] == "membership.included"
    assert become_administrator(app, mary.person_id, "123456789", address="192.0.2.1",
                                channel="web")


def test_close_and_open_self_promotion(app, business):
    customer, philip, anna, mary = business
    done = administration.set_self_promotion(app, philip.person_id, customer.id, False)
    assert done.message == "Self-promotion is now closed."
    with database.new_session(app) as session:
        assert session.get(Customer, customer.id).self_promotion_open is False
    assert outbox(app) == [("customer.self_promotion_closed", "anna@smith.example",
                            "Self-promotion closed for customer 123456789")]
    assert audit(app)[-1][0] == "customer.self_promotion_closed"
    assert become_administrator(app, mary.person_id, "123456789", address="192.0.2.1",
                                channel="web").code is Refusal.CLOSED
    assert administration.set_self_promotion(app, anna.person_id, customer.id, True)
    assert audit(app)[-1][0] == "customer.self_promotion_opened"


def test_step_down(app, business):
    customer, philip, anna, _ = business
    done = administration.step_down(app, philip.person_id, customer.id)
    assert done and "It has no administrator" not in done.message
    assert state(app, philip.id).role is Role.USER
    assert sorted(outbox(app)) == [
        ("membership.stepped_down", "anna@smith.example",
         "Philip is no longer an administrator of customer 123456789"),
        ("membership.stepped_down", "philip@smith.example",
         "You are now a user of customer 123456789")]
    assert audit(app)[-1][0] == "membership.demoted" and audit(app)[-1][2] == {
        "how": "stepped down"}
    last = administration.step_down(app, anna.person_id, customer.id)
    assert "It has no administrator any more." in last.message


def test_hand_over_in_a_household(app, household):
    home, thomas, emma = household
    done = administration.hand_over(app, thomas.person_id, home.id, emma.id)
    assert done and "Emma is now the administrator" in done.message
    assert state(app, thomas.id).role is Role.USER
    assert state(app, emma.id).role is Role.ADMINISTRATOR
    assert sorted(outbox(app)) == [
        ("membership.handed_over", "emma@taylor.example",
         "You are now the administrator of customer 987654321"),
        ("membership.handed_over", "thomas@taylor.example",
         "Administration of customer 987654321")]
    actions = [(a, d.get("how")) for a, _, d in audit(app)[-2:]]
    assert actions == [("membership.demoted", "handed over"),
                       ("membership.promoted", "handed over")]


def test_hand_over_is_for_households(app, business):
    customer, philip, _, mary = business
    before = directory_state(app)
    refused = administration.hand_over(app, philip.person_id, customer.id, mary.id)
    assert refused.code is Refusal.NOT_RESIDENTIAL
    assert directory_state(app) == before


def test_a_user_can_do_none_of_it(app, business):
    customer, philip, _, mary = business
    before = directory_state(app)
    for result in (
        administration.set_exclusion(app, mary.person_id, customer.id, philip.id, True),
        administration.set_self_promotion(app, mary.person_id, customer.id, False),
        administration.step_down(app, mary.person_id, customer.id),
        administration.hand_over(app, mary.person_id, customer.id, philip.id),
    ):
        assert result.code is Refusal.NOT_ADMINISTRATOR
        assert result.message == "Only an administrator of this customer number can do this."
    assert directory_state(app) == before


def test_foreign_membership_ids_are_refused(app, business, household):
    # Philip administers Smith ltd; Emma's membership belongs to another customer.
    customer, philip, _, _ = business
    _, _, emma = household
    before = directory_state(app)
    assert administration.set_exclusion(app, philip.person_id, customer.id, emma.id,
                                        True).code is Refusal.NO_SUCH_MEMBER
    assert directory_state(app) == before


def test_operator_sets_roles_with_the_same_rules_audit_and_mail(app, runner, household):
    _, _, emma = household
    before = directory_state(app)
    refused = runner.invoke(args=["member", "set-role", "emma@taylor.example", "--customer",
                                  "987654321", "--role", "administrator"])
    assert refused.exit_code == 1
    assert "is residential and has an administrator (Thomas)" in refused.output
    assert directory_state(app) == before
    down = runner.invoke(args=["member", "set-role", "thomas@taylor.example", "--customer",
                               "987 654 321", "--role", "user"])
    assert down.exit_code == 0, down.output
    up = runner.invoke(args=["member", "set-role", "EMMA@taylor.example", "--customer",
                             "987654321", "--role", "administrator"])
    assert up.exit_code == 0, up.output
    assert "now administrator of 987654321" in up.output
    assert state(app, emma.id).role is Role.ADMINISTRATOR
    assert [a[:2] for a in audit(app)[-2:]] == [("membership.demoted", "operator"),
                                                ("membership.promoted", "operator")]
    kinds = [(kind, to) for kind, to, _ in outbox(app)]
    assert ("membership.demoted", "thomas@taylor.example") in kinds
    assert ("promotion.confirmation", "emma@taylor.example") in kinds


@pytest.mark.parametrize(("args", "words"), [
    (["nobody@example.com", "--customer", "987654321", "--role", "user"],
     "There is no person with this e-mail address."),
    (["emma@taylor.example", "--customer", "98765432", "--role", "user"],
     "exactly 9 digits"),
    (["emma@taylor.example", "--customer", "111111111", "--role", "user"],
     "There is no customer with number 111111111."),
    (["emma@taylor.example", "--customer", "987654321", "--role", "owner"],
     "Invalid value for '--role'"),
])
def test_operator_bad_input(app, runner, household, args, words):
    before = directory_state(app)
    result = runner.invoke(args=["member", "set-role", *args])
    assert result.exit_code != 0 and words in result.output
    assert directory_state(app) == before
