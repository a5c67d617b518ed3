"""Sending the outbox ("Duplicate, never lose", docs/security.md): each message
exactly once, nothing lost while SMTP is down, retries that back off, and a
rule for giving up."""

from __future__ import annotations

import threading
from datetime import timedelta
from urllib.parse import quote

from idp.directory.models import utcnow
from idp.outbox.delivery import (
    GAVE_UP_AT,
    GIVE_UP_AFTER,
    DeliveryReport,
    backoff,
    deliver_due,
    gave_up,
)
from tests.support.mailbox import Mailbox
from tests.support.outbox import message_id, outbox, queue, update


def test_due_messages_are_sent_once_with_their_headers(app, mailbox):
    [first, second] = queue(app, 2)
    update(app, second, recipient_name="Zoë Müller", subject="Vous êtes administrateur")
    now = utcnow()

    assert deliver_due(app, now=now) == DeliveryReport(sent=2)

    mails = {mail["Message-ID"]: mail for mail in mailbox.wait_for(2)}
    assert set(mails) == {message_id(first), message_id(second)}
    mail = mails[message_id(first)]
    assert mail["From"] == "Keyholder tests <no-reply@keyholder.localhost>"
    assert mail["To"] == "Person 0 <person0@example.com>"
    assert mail["Subject"] == "Notice 0"
    assert mail["Date"].datetime == now.replace(microsecond=0)
    assert mail.get_content_type() == "multipart/alternative"
    assert mail.get_body(("plain",)).get_content() == "Hello Person 0,\n\nsomething happened.\n"
    assert mail.get_body(("html",)).get_content() == \
        "<p>Hello Person 0,</p><p>something happened.</p>\n"
    other = mails[message_id(second)]
    assert other["To"] == "Zoë Müller <person1@example.com>"
    assert other["Subject"] == "Vous êtes administrateur"
    envelopes = mailbox.received
    assert {r.mail_from for r in envelopes} == {"no-reply@keyholder.localhost"}
    assert sorted(r.rcpt_tos for r in envelopes) == [("person0@example.com",),
                                                      ("person1@example.com",)]
    assert len({r.peer for r in envelopes}) == 1  # one SMTP session for the batch
    rows = outbox(app)
    assert all(row.sent_at == now and row.attempts == 1 and row.last_error is None
               for row in rows.values())

    assert deliver_due(app, now=now + timedelta(hours=1)) == DeliveryReport()
    assert len(mailbox.messages) == 2


def test_messages_wait_until_they_are_due(app, mailbox):
    now = utcnow()
    [later] = queue(app, next_attempt_at=now + timedelta(minutes=5))
    assert deliver_due(app, now=now) == DeliveryReport()
    assert deliver_due(app, now=now + timedelta(minutes=5)) == DeliveryReport(sent=1)
    assert mailbox.message_ids() == [message_id(later)]


def test_a_batch_stops_at_its_limit(app, mailbox):
    queue(app, 5)
    assert deliver_due(app, limit=3) == DeliveryReport(sent=3)
    assert deliver_due(app, limit=3) == DeliveryReport(sent=2)
    assert len(set(mailbox.message_ids())) == 5


PASSWORD = "s3cret/p@ss:wörd"


def test_smtp_down_then_up_loses_nothing_and_sends_once(make_app, database_url):
    box = Mailbox(credentials=("keyholder", PASSWORD))  # not started: SMTP is down
    app = make_app(database_url, SMTP_URL=f"smtp://keyholder:{quote(PASSWORD, safe='')}"
                                          f"@{box.host}:{box.port}")
    ids = queue(app, 3)
    now = utcnow()

    assert deliver_due(app, now=now) == DeliveryReport(failed=3)
    for row in outbox(app).values():
        assert row.sent_at is None and row.attempts == 1
        assert timedelta(seconds=27) <= row.next_attempt_at - now <= timedelta(seconds=33)
        assert row.last_error.startswith(f"cannot connect (127.0.0.1:{box.port}): "
                                         "ConnectionRefusedError")
        assert "s3cret" not in row.last_error and "p%40ss" not in row.last_error

    assert deliver_due(app, now=now + timedelta(seconds=20)) == DeliveryReport()  # not yet due
    now = max(row.next_attempt_at for row in outbox(app).values())
    assert deliver_due(app, now=now) == DeliveryReport(failed=3)
    for row in outbox(app).values():
        assert row.attempts == 2
        assert timedelta(seconds=54) <= row.next_attempt_at - now <= timedelta(seconds=66)

    with box:
        now = max(row.next_attempt_at for row in outbox(app).values())
        assert deliver_due(app, now=now) == DeliveryReport(sent=3)
        assert deliver_due(app, now=now + timedelta(days=1)) == DeliveryReport()
        assert sorted(box.message_ids()) == sorted(message_id(i) for i in ids)
        assert {r.authenticated_as for r in box.received} == {"keyholder"}
    rows = outbox(app).values()
    assert all(row.sent_at == now and row.attempts == 3 for row in rows)


def test_a_session_that_breaks_is_reopened_for_the_next_message(app, mailbox):
    [first, second, third] = queue(app, 3)
    mailbox.reject("person1@example.com", "421 4.3.2 Closing, try later")

    assert deliver_due(app) == DeliveryReport(sent=2, failed=1)
    assert sorted(mailbox.message_ids()) == [message_id(first), message_id(third)]
    assert len({r.peer for r in mailbox.received}) == 2
    assert outbox(app)[second].last_error == "421 4.3.2 Closing, try later"


def test_a_server_that_goes_away_mid_message_loses_nothing(app, mailbox):
    ids = queue(app, 3)
    mailbox.delay = 1.0
    reports: list[DeliveryReport] = []
    sending = threading.Thread(target=lambda: reports.append(deliver_due(app)))
    sending.start()
    mailbox.wait_for_data(1)
    mailbox.stop()
    sending.join(10)

    assert reports == [DeliveryReport(failed=3)]
    assert mailbox.messages == []
    rows = outbox(app)
    assert all(row.sent_at is None and row.attempts == 1 for row in rows.values())
    assert rows[ids[0]].last_error.startswith("connection lost")
    assert rows[ids[1]].last_error.startswith("cannot connect")

    mailbox.delay = 0
    mailbox.start()
    assert deliver_due(app, now=utcnow() + timedelta(minutes=1)) == DeliveryReport(sent=3)
    assert sorted(mailbox.message_ids()) == sorted(message_id(i) for i in ids)


def test_temporary_rejections_are_retried_for_ever(app, mailbox):
    [fresh, old] = queue(app, 2)
    update(app, old, attempts=GIVE_UP_AFTER + 5)
    mailbox.reject("person0@example.com", "450 4.2.1 Mailbox busy")
    mailbox.reject("person1@example.com", "450 4.2.1 Mailbox busy")

    assert deliver_due(app) == DeliveryReport(failed=2)
    rows = outbox(app)
    assert rows[fresh].last_error == "450 4.2.1 Mailbox busy"
    assert not gave_up(rows[old]) and rows[old].attempts == GIVE_UP_AFTER + 6


def test_a_permanent_rejection_is_retried_then_given_up(app, mailbox):
    [fresh, last_chance, fine] = queue(app, 3)
    update(app, last_chance, attempts=GIVE_UP_AFTER - 1)
    mailbox.reject("person0@example.com", "550 5.1.1 No such mailbox")
    mailbox.reject("person1@example.com", "550 5.1.1 No such mailbox")
    now = utcnow()

    assert deliver_due(app, now=now) == DeliveryReport(sent=1, failed=1, gave_up=1)
    rows = outbox(app)
    assert rows[fresh].last_error == "550 5.1.1 No such mailbox"
    assert not gave_up(rows[fresh]) and rows[fresh].next_attempt_at < now + timedelta(minutes=1)
    assert gave_up(rows[last_chance]) and rows[last_chance].next_attempt_at == GAVE_UP_AT
    assert rows[last_chance].last_error == "gave up: 550 5.1.1 No such mailbox"
    assert rows[last_chance].attempts == GIVE_UP_AFTER
    assert mailbox.message_ids() == [message_id(fine)]

    mailbox.rejections.clear()  # fixing the address does not resurrect a given-up message
    assert deliver_due(app, now=now + timedelta(days=365)) == DeliveryReport(sent=1)
    assert mailbox.message_ids() == [message_id(fine), message_id(fresh)]


def test_an_outage_never_gives_up(make_app, database_url):
    down = Mailbox()
    app = make_app(database_url, SMTP_URL=down.url)
    [row_id] = queue(app, attempts=10 * GIVE_UP_AFTER)
    assert deliver_due(app) == DeliveryReport(failed=1)
    assert not gave_up(outbox(app)[row_id])


def test_a_row_that_cannot_be_a_message_does_not_block_the_others(app, mailbox):
    [broken, fine] = queue(app, 2)
    update(app, broken, recipient_name="Eve\r\nBcc: everyone@example.com")
    assert deliver_due(app) == DeliveryReport(sent=1, failed=1)
    assert mailbox.message_ids() == [message_id(fine)]
    assert outbox(app)[broken].last_error.startswith("cannot compose: ")


def test_several_workers_at_once_send_each_message_once(app, mailbox, database_url):
    workers = 4
    ids = queue(app, 30)
    mailbox.delay = 0.01  # long enough for the workers to overlap
    start = threading.Barrier(workers)
    reports: list[DeliveryReport] = []

    def work() -> None:
        start.wait()
        reports.append(deliver_due(app))

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sum(r.sent for r in reports) == 30 and not any(r.failed for r in reports)
    assert sorted(mailbox.message_ids()) == sorted(message_id(i) for i in ids)  # no twins
    assert all(row.sent_at is not None and row.attempts == 1 for row in outbox(app).values())
    if database_url.startswith("postgresql"):  # SKIP LOCKED: they really worked side by side
        assert sum(1 for r in reports if r.sent) >= 2


def test_backoff_doubles_from_30_seconds_up_to_an_hour():
    for attempts, seconds in [(1, 30), (2, 60), (3, 120), (4, 240), (7, 1920), (8, 3600),
                              (50, 3600), (10_000, 3600)]:
        waits = {backoff(attempts).total_seconds() for _ in range(50)}
        assert all(0.9 * seconds <= wait <= 1.1 * seconds for wait in waits)
        assert len(waits) > 1  # jittered

