"""``keyholder worker`` and the demo's background worker: passes, a clean stop
on SIGTERM after the message in hand, several processes at once."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from idp.outbox.delivery import DeliveryReport, deliver_due
from idp.outbox.worker import start_background_worker
from idp.settings import SettingsError
from tests.support.mailbox import Mailbox
from tests.support.outbox import message_id, outbox, queue
from tests.support.settings import TEST_SETTINGS

KEYHOLDER = Path(sys.executable).with_name("keyholder")


def test_worker_once_sends_what_is_due_and_exits(app, mailbox):
    ids = queue(app, 3)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output == "sent=3 failed=0 gave_up=0\n"
    assert sorted(mailbox.message_ids()) == sorted(message_id(i) for i in ids)

    again = runner.invoke(args=["worker", "--once"])
    assert again.output == "sent=0 failed=0 gave_up=0\n"
    assert len(mailbox.messages) == 3


def test_worker_once_with_smtp_down_exits_cleanly_and_keeps_the_mail(make_app, database_url):
    app = make_app(database_url, SMTP_URL=Mailbox().url)  # never started
    queue(app, 2)
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output == "sent=0 failed=2 gave_up=0\n"
    assert all(row.attempts == 1 and row.sent_at is None for row in outbox(app).values())


def test_worker_refuses_settings_that_cannot_work(make_app, database_url):
    app = make_app(database_url, MAIL_FROM="Keyholder")
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 1
    assert "KEYHOLDER_MAIL_FROM is not an e-mail address" in result.output


@pytest.mark.parametrize(("value", "message"), [
    ("smtp://user:hunter22@mail.example", "use smtps:// or smtp+starttls://"),
    ("https://mail.example", "must start with smtp://"),
])
def test_a_wrong_smtp_url_stops_every_start_not_only_the_workers(make_app, database_url,
                                                                 value, message):
    with pytest.raises(SettingsError) as refused:
        make_app(database_url, SMTP_URL=value)
    assert message in str(refused.value) and "hunter22" not in str(refused.value)


def test_background_worker_sends_and_stops(app, mailbox):
    worker = start_background_worker(app, interval=0.1)
    try:
        ids = queue(app, 2)
        mailbox.wait_for(2)
    finally:
        worker.stop(timeout=10)
    assert not worker.is_alive()
    assert sorted(mailbox.message_ids()) == sorted(message_id(i) for i in ids)
    assert all(row.sent_at is not None for row in outbox(app).values())


def test_background_worker_outlives_a_broken_database(make_app, tmp_path, caplog):
    app = make_app(f"sqlite:///{tmp_path / 'no-tables.db'}")  # never migrated
    caplog.set_level(logging.ERROR, logger="keyholder.outbox")
    worker = start_background_worker(app, interval=0.1)
    try:
        deadline = time.monotonic() + 10
        while "outbox pass failed: OperationalError" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.05)
        assert worker.is_alive()
    finally:
        worker.stop(timeout=10)
    assert not worker.is_alive()


def worker_environment(tmp_path: Path, database_url: str, smtp_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update({f"KEYHOLDER_{k}": str(v) for k, v in TEST_SETTINGS.items()})
    env.update(KEYHOLDER_DATABASE_URL=database_url, KEYHOLDER_SMTP_URL=smtp_url,
               KEYHOLDER_INSTANCE_PATH=str(tmp_path / "instance"),
               KEYHOLDER_KEYS_DIR=str(tmp_path / "keys"))
    return env


def test_sigterm_lets_the_message_in_hand_finish(app, mailbox, database_url, tmp_path):
    queue(app, 3)
    mailbox.delay = 1.0  # each hand-over takes a second
    worker = subprocess.Popen(
        [str(KEYHOLDER), "worker", "--interval", "0.2"],
        env=worker_environment(tmp_path, database_url, mailbox.url),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        mailbox.wait_for_data(2, timeout=60)  # the second message is being handed over
        worker.send_signal(signal.SIGTERM)
        _, log = worker.communicate(timeout=30)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.communicate()
    assert worker.returncode == 0, log
    assert "SIGTERM received" in log and "outbox worker stopped" in log
    sent = sorted(message_id(i) for i, row in outbox(app).items() if row.sent_at)
    # What the server accepted is exactly what is marked sent: nothing cut off half-way...
    assert sorted(mailbox.message_ids()) == sent
    # ...the message in hand was finished, and the worker did not go on to the third.
    assert len(sent) == 2


def test_a_crash_between_send_and_mark_duplicates_but_never_loses(app, mailbox, database_url,
                                                                 tmp_path):
    [first, second] = queue(app, 2)
    mailbox.ack_delay = 5.0  # the server has the message; its "250" is late
    worker = subprocess.Popen([str(KEYHOLDER), "worker", "--interval", "0.2"],
                              env=worker_environment(tmp_path, database_url, mailbox.url),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        mailbox.wait_for(1, timeout=60)
    finally:
        worker.kill()  # SIGKILL: no clean-up, the transaction dies with the process
        worker.communicate(timeout=30)
    assert outbox(app)[first].sent_at is None  # the mark was never committed
    mailbox.ack_delay = 0

    deadline = time.monotonic() + 10  # PostgreSQL notices the dead client promptly
    while any(row.sent_at is None for row in outbox(app).values()):
        assert time.monotonic() < deadline
        if deliver_due(app) == DeliveryReport():
            time.sleep(0.1)
    ids = mailbox.message_ids()
    assert sorted(ids) == sorted([message_id(first), message_id(first), message_id(second)])


def test_several_worker_processes_send_each_message_once(app, mailbox, database_url, tmp_path):
    ids = queue(app, 40)
    mailbox.delay = 0.02
    env = worker_environment(tmp_path, database_url, mailbox.url)
    workers = [subprocess.Popen([str(KEYHOLDER), "worker", "--once"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for _ in range(4)]
    outputs = [worker.communicate(timeout=120) for worker in workers]
    assert [w.returncode for w in workers] == [0] * 4, outputs
    sent = [int(out.split()[0].removeprefix("sent=")) for out, _ in outputs]
    assert sum(sent) == 40
    assert sorted(mailbox.message_ids()) == sorted(message_id(i) for i in ids)
    assert all(row.sent_at is not None and row.attempts == 1 for row in outbox(app).values())
