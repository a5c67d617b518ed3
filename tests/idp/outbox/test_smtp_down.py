"""SMTP down during a promotion ("Duplicate, never lose", docs/security.md): the
promotion succeeds; the e-mails wait in the outbox; once SMTP is back the
worker delivers every one of them exactly once."""

from datetime import timedelta

from admin_console.promotion import become_administrator
from claims.vocabulary import Role
from idp.directory.models import Membership, utcnow
from idp.infrastructure import database
from idp.outbox.delivery import deliver_due
from tests.factories import CustomerFactory, MembershipFactory


def test_the_promotion_does_not_wait_for_smtp(app, db, mailbox):
    customer = CustomerFactory(number="123456789")
    MembershipFactory(customer=customer, administrator=True, person__email="philip@x.example")
    MembershipFactory(customer=customer, administrator=True, person__email="anna@x.example")
    mary = MembershipFactory(customer=customer, person__email="mary@x.example")
    db.commit()

    mailbox.stop()  # SMTP down
    assert become_administrator(app, mary.person_id, "123456789", address="192.0.2.1",
                                channel="web")
    with database.new_session(app) as session:
        assert session.get(Membership, mary.id).role is Role.ADMINISTRATOR
    down = deliver_due(app)
    assert down.sent == 0 and down.failed == 3

    mailbox.start()  # back; the retry is due after its back-off
    later = utcnow() + timedelta(hours=2)
    assert deliver_due(app, now=later).sent == 3
    assert deliver_due(app, now=later + timedelta(hours=2)).sent == 0
    received = mailbox.wait_for(3)
    assert sorted(m["To"].addresses[0].addr_spec for m in received) == [
        "anna@x.example", "mary@x.example", "philip@x.example"]
    assert len(set(mailbox.message_ids())) == len(mailbox.message_ids()) == 3
