"""Invitations (admin_console/invitations.py, invitation_acceptance.py): an
administrator of a business customer invites an address; the link works
once, for 7 days; a new person chooses a name and a password, an existing
person accepts after signing in. Each refusal says why and changes nothing.
On SQLite and PostgreSQL."""

import hashlib
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from admin_console import invitation_acceptance as acceptance
from admin_console import invitations
from admin_console.eligibility import Refusal
from claims.vocabulary import Role
from idp.account.models import AccountLink
from idp.directory.models import Membership, Person, utcnow
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from tests.admin_console.helpers import audit, bodies, invitation_link, outbox
from tests.factories import CustomerFactory, MembershipFactory
from tests.snapshots import snapshot

NEW_PASSWORD = "a kettle of seven blue herons"


@pytest.fixture
def smith(db):
    """Smith ltd: Philip and Anna administrators, Mary a user; Emma, of a
    household, has a login but is no member of Smith ltd."""
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
                             person__email="emma@taylor.example", person__email_verified=False)
    db.commit()
    return customer, philip, anna, mary, home, thomas, emma


def invite(app, admin, customer, email="jane@example.com", mobile="+32 470 12 34 56"):
    result = invitations.invite(app, admin.person_id, customer.id, email, mobile)
    assert result, result
    return invitation_link(app, result.email)[1]


def member_of(app, email, customer_id) -> Membership | None:
    with database.new_session(app) as session:
        member = session.scalar(select(Membership).join(Person).where(
            Person.email == email, Membership.customer_id == customer_id))
        if member is not None:
            session.expunge(member)
        return member


def test_an_invitation_is_a_hashed_single_use_link_audited_and_told(app, smith):
    customer, philip, _, _, _, _, _ = smith
    result = invitations.invite(app, philip.person_id, customer.id, "  Jane@Example.COM ",
                                "+32 470 12 34 56")
    assert result.email == "jane@example.com"
    assert result.message.startswith("We sent an invitation to jane@example.com. It can be "
                                      "used once, until ")
    assert sorted(outbox(app)) == [
        ("membership.invitation", "jane@example.com",
         "Philip invites you to customer 123456789"),
        ("membership.invited", "anna@smith.example",
         "Philip invited jane@example.com to customer 123456789")]
    link, secret = invitation_link(app, "jane@example.com")
    assert link.startswith("http://") and "/console/invitation?token=" in link
    [text] = bodies(app, "jane@example.com")
    assert "Philip invites you to customer number 123456789 (Smith ltd) as a user, with your " \
           "own mobile 0470 12 34 56." in text  # written for people
    assert "You will choose your name and a password." in text
    assert audit(app)[-1] == ("membership.invited", f"person:{philip.person_id}",
                              {"email": "jane@example.com", "mobile": True})
    # Only the secret's SHA-256 is stored: the database opens nothing.
    with database.new_session(app) as session:
        [row] = session.scalars(select(AccountLink)).all()
        assert row.token_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert (row.email, row.role, row.mobile, row.person_id) == (
            "jane@example.com", "user", "+32470123456", None)
        assert row.expires_at - row.created_at == timedelta(days=7)
    assert secret not in repr(snapshot(app)["account_link"])


def test_a_new_person_chooses_a_name_and_a_password_and_is_a_member(app, smith):
    customer, philip, _, _, _, _, _ = smith
    secret = invite(app, philip, customer)
    joined = acceptance.accept_as_new_person(app, secret, " Jane  Doe ", NEW_PASSWORD)
    assert joined.new_person and (joined.name, joined.customer_number) == ("Jane Doe",
                                                                          "123456789")
    with database.new_session(app) as session:
        jane = session.scalar(select(Person).where(Person.email == "jane@example.com"))
        assert jane.email_verified is True and jane.name == "Jane Doe"
        assert app.extensions[PASSWORDS].verify(jane.password_hash, NEW_PASSWORD).ok
        assert session.scalar(select(AccountLink.used_at)) is not None
    member = member_of(app, "jane@example.com", customer.id)
    assert (member.role, member.mobile) == (Role.USER, "+32470123456")
    assert [a for a, _, _ in audit(app)[-3:]] == [
        "person.added", "membership.added", "membership.invitation_accepted"]
    assert audit(app)[-1][2] == {"how": "invitation", "invited_by": f"person:{philip.person_id}"}
    joined_mails = [(k, to) for k, to, _ in outbox(app) if k == "membership.invitation_accepted"]
    assert sorted(joined_mails) == [("membership.invitation_accepted", "anna@smith.example"),
                                    ("membership.invitation_accepted", "philip@smith.example")]


def test_an_existing_person_accepts_signed_in_and_the_link_verifies_the_address(app, smith):
    customer, philip, _, _, _, _, emma = smith
    secret = invite(app, philip, customer, "EMMA@taylor.example", "")
    [text] = bodies(app, "emma@taylor.example")
    assert text.startswith("Dear Emma,")
    assert "You already have a login with emma@taylor.example: sign in with it to accept." \
        in text
    assert audit(app)[-1][2] == {"email": "emma@taylor.example", "mobile": False}
    joined = acceptance.accept_as_member(app, secret, emma.person_id)
    assert joined and not joined.new_person
    member = member_of(app, "emma@taylor.example", customer.id)
    assert (member.role, member.mobile) == (Role.USER, None)
    with database.new_session(app) as session:
        assert session.get(Person, emma.person_id).email_verified is True
    # Her household membership is untouched.
    assert member_of(app, "emma@taylor.example", emma.customer_id).role is Role.USER


def expire(app) -> None:
    with database.write_session(app) as session:
        session.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))


@pytest.mark.parametrize(("how", "code", "words"), [
    ("expired", "expired", "This link has expired."),
    ("used", "used", "This link has been used already."),
    ("unknown", "unknown", "This link is not valid."),
    ("invited again", "expired", "This link has expired."),
    ("withdrawn", "expired", "This link has expired."),
    ("NUL", "unknown", "This link is not valid."),
    ("too long", "unknown", "This link is not valid."),
])
def test_a_link_that_cannot_be_used_changes_nothing(app, smith, how, code, words):
    customer, philip, anna, _, _, _, emma = smith
    secret = invite(app, philip, customer)
    if how == "expired":
        expire(app)
    elif how == "used":
        assert acceptance.accept_as_new_person(app, secret, "Jane", NEW_PASSWORD)
    elif how == "unknown":
        secret = secret[:-4] + "AAAA"
    elif how == "invited again":
        invite(app, anna, customer)  # only the newest invitation works
    elif how == "withdrawn":
        with database.new_session(app) as session:
            link_id = session.scalar(select(AccountLink.id))
        assert invitations.withdraw(app, anna.person_id, customer.id, link_id)
    elif how == "NUL":
        secret = secret[:10] + "\x00" + secret[10:]
    elif how == "too long":
        secret = secret * 10
    before = snapshot(app)
    for refused in (acceptance.accept_as_new_person(app, secret, "Jane", NEW_PASSWORD),
                    acceptance.accept_as_member(app, secret, emma.person_id)):
        assert not refused and refused.code == code and refused.message.startswith(words)
    with database.new_session(app) as session:
        assert isinstance(acceptance.look(session, secret), type(refused))
    assert snapshot(app) == before


def test_an_address_that_is_a_member_already(app, db, smith):
    customer, philip, _, _, _, _, _ = smith
    before = snapshot(app)
    refused = invitations.invite(app, philip.person_id, customer.id, "Mary@smith.example", "")
    assert refused.code is Refusal.ALREADY_MEMBER
    assert refused.message == "mary@smith.example is already a member of customer number " \
                              "123456789."
    assert snapshot(app) == before
    # Invited, then made a member another way before accepting: the link stays unused.
    secret = invite(app, philip, customer, "jane@example.com", "")
    jane = MembershipFactory(customer=customer, person__email="jane@example.com",
                             person__name="Jane")
    db.commit()
    before = snapshot(app)
    refused = acceptance.accept_as_member(app, secret, jane.person_id)
    assert refused.code is Refusal.ALREADY_MEMBER
    refused = acceptance.accept_as_new_person(app, secret, "Jane", NEW_PASSWORD)
    assert refused.code is Refusal.HAS_ACCOUNT
    assert "Please sign in with it to accept the invitation." in refused.message
    assert snapshot(app) == before


def test_only_the_invited_person_can_accept(app, smith):
    customer, philip, _, mary, _, _, _ = smith
    secret = invite(app, philip, customer, "emma@taylor.example", "")
    before = snapshot(app)
    refused = acceptance.accept_as_member(app, secret, mary.person_id)
    assert refused.code is Refusal.WRONG_PERSON
    assert refused.message == ("This invitation is for emma@taylor.example. Please sign in "
                               "as emma@taylor.example to accept it.")
    assert snapshot(app) == before


@pytest.mark.parametrize(("name", "password", "words"), [
    ("Jane", "short", "A password has at least 8 characters."),
    ("Jane", "password123", "one of the most common ones"),
    ("Jane", "a long pass\x00phrase", "cannot contain a NUL character"),
    ("Jane\x00Doe", NEW_PASSWORD, "printable characters"),
    ("   ", NEW_PASSWORD, "Please give a name."),
    ("J" * 201, NEW_PASSWORD, "at most 200"),
])
def test_a_new_persons_bad_name_or_password_changes_nothing(app, smith, name, password,
                                                           words):
    customer, philip, _, _, _, _, _ = smith
    secret = invite(app, philip, customer)
    before = snapshot(app)
    refused = acceptance.accept_as_new_person(app, secret, name, password)
    assert refused.code is Refusal.INVALID and words in refused.message
    assert snapshot(app) == before
    assert acceptance.accept_as_new_person(app, secret, "Jane", NEW_PASSWORD)  # still valid


@pytest.mark.parametrize(("email", "mobile", "words"), [
    ("not-an-address", "", "not an e-mail address"),
    ("jane@example.com\x00", "", "not an e-mail address"),
    ("jane@localhost", "", "not a domain name"),
    ("", "", "Please give an e-mail address."),
    ("jane@example.com", "0470 12 34 56", "with + and the country code"),
    ("jane@example.com", "+32 470\x0012", "with + and the country code"),
])
def test_bad_addresses_and_mobiles_are_refused(app, smith, email, mobile, words):
    customer, philip, _, _, _, _, _ = smith
    before = snapshot(app)
    refused = invitations.invite(app, philip.person_id, customer.id, email, mobile)
    assert refused.code is Refusal.INVALID and words in refused.message
    assert snapshot(app) == before


def test_users_and_households_cannot_invite(app, smith):
    customer, _, _, mary, home, thomas, _ = smith
    before = snapshot(app)
    refused = invitations.invite(app, mary.person_id, customer.id, "jane@example.com", "")
    assert refused.code is Refusal.NOT_ADMINISTRATOR
    refused = invitations.invite(app, thomas.person_id, home.id, "jane@example.com", "")
    assert refused.code is Refusal.NOT_BUSINESS
    assert refused.message.startswith("Invitations are for business customers.")
    # An administrator of another customer (Thomas, of the household) for Smith ltd.
    refused = invitations.invite(app, thomas.person_id, customer.id, "jane@example.com", "")
    assert refused.code is Refusal.NOT_ADMINISTRATOR
    assert snapshot(app) == before


def test_withdrawing_is_for_this_customers_administrators_only(app, smith, db):
    customer, philip, anna, mary, _, _, _ = smith
    invite(app, philip, customer)
    other = CustomerFactory(number="555555555")
    boss = MembershipFactory(customer=other, administrator=True)
    db.commit()
    invitations.invite(app, boss.person_id, other.id, "someone@example.com", "")
    with database.new_session(app) as session:
        mine, foreign = session.scalars(select(AccountLink.id).order_by(AccountLink.id)).all()
        assert [p.email for p in invitations.pending(session, customer.id)] == [
            "jane@example.com"]
    before = snapshot(app)
    assert invitations.withdraw(app, philip.person_id, customer.id,
                                foreign).code is Refusal.NO_SUCH_INVITATION
    assert invitations.withdraw(app, mary.person_id, customer.id,
                                mine).code is Refusal.NOT_ADMINISTRATOR
    assert snapshot(app) == before
    done = invitations.withdraw(app, anna.person_id, customer.id, mine)
    assert done.message == "The invitation of jane@example.com is withdrawn: its link no " \
                           "longer works."
    assert audit(app)[-1][:2] == ("membership.invitation_withdrawn", f"person:{anna.person_id}")
    assert outbox(app)[-1] == ("membership.invitation_withdrawn", "philip@smith.example",
                               "Anna withdrew the invitation of jane@example.com")
    again = invitations.withdraw(app, anna.person_id, customer.id, mine)
    assert again.code is Refusal.NO_SUCH_INVITATION


def test_two_clicks_at_once_make_one_person(app, smith):
    """The customer's lock, then the link's: of two acceptances one wins, the
    other is told the link was used."""
    customer, philip, _, _, _, _, _ = smith
    secret = invite(app, philip, customer)
    results, start = [], threading.Barrier(4)

    def accept():
        with app.app_context():  # as a request's thread has
            start.wait(timeout=30)
            results.append(acceptance.accept_as_new_person(app, secret, "Jane",
                                                            NEW_PASSWORD))

    threads = [threading.Thread(target=accept) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sum(1 for r in results if r) == 1
    assert sorted(r.code for r in results if not r) == ["used"] * 3
    with database.new_session(app) as session:
        assert session.scalar(select(Person.id).where(Person.email == "jane@example.com"))
    assert member_of(app, "jane@example.com", customer.id).role is Role.USER
