"""``keyholder worker``: sends the outbox (:mod:`idp.outbox.delivery`) in a
loop, and the same loop as a background thread for ``keyholder demo``.

Several workers may run at once (on PostgreSQL each message still goes out
once). SIGTERM or SIGINT lets the message in hand finish, then the worker
exits with status 0. One log line per batch that did something, counts only:
never addresses, subjects or bodies.
"""

from __future__ import annotations

import logging
import signal
import threading
import time

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from idp.infrastructure import database
from idp.infrastructure.housekeeping import purge
from idp.outbox.compose import InvalidMailFrom, Sender
from idp.outbox.delivery import DeliveryReport, deliver_due
from idp.outbox.smtp import InvalidSmtpUrl, SmtpEndpoint
from idp.security_events import delivery as push_delivery
from idp.security_events.wakeup import Waiter

log = logging.getLogger("keyholder.outbox")

BATCH = 50
# After a pass that failed as a whole (database down...), wait at least this
# long before the next, so a broken dependency does not become a busy loop.
ERROR_PAUSE = 5.0


PURGE_EVERY = 3600.0  # seconds


def run_pass(app: Flask, stop: threading.Event | None = None, *, mail: bool = True
             ) -> DeliveryReport:
    """Deliver everything due now, batch after batch (the pushes first: security
    events and logout tokens are the time-critical ones, then the e-mails
    unless ``mail`` is False); stops early when ``stop`` is set."""
    pushed = push_delivery.deliver_due(app, stop=stop)
    if pushed.handled or pushed.paused:
        log.info("push batch: delivered=%s refused=%s failed=%s gave_up=%s paused=%s",
                 pushed.delivered, pushed.refused, pushed.failed, pushed.gave_up,
                 len(pushed.paused))
    total = DeliveryReport()
    if not mail:
        return total
    while stop is None or not stop.is_set():
        report = deliver_due(app, limit=BATCH, stop=stop)
        if report.handled:
            log.info("outbox batch: sent=%s failed=%s gave_up=%s",
                     report.sent, report.failed, report.gave_up)
        total.sent += report.sent
        total.failed += report.failed
        total.gave_up += report.gave_up
        if report.handled < BATCH:
            break
    return total


def run_loop(app: Flask, stop: threading.Event, interval: float, *, mail: bool = True) -> None:
    """Pass after pass, ``interval`` seconds apart, until ``stop`` is set;
    every hour it also purges what has expired (:mod:`idp.infrastructure.housekeeping`).
    A failing pass is logged and retried: the worker outlives outages."""
    purged_at = 0.0
    waiter = Waiter(database.engine(app))
    try:
        _loop(app, stop, interval, waiter, purged_at, mail)
    finally:
        waiter.close()


def _loop(app: Flask, stop: threading.Event, interval: float, waiter: Waiter,
          purged_at: float, mail: bool) -> None:
    while not stop.is_set():
        pause = interval
        try:
            run_pass(app, stop, mail=mail)
            if mail and time.monotonic() - purged_at >= PURGE_EVERY:
                purge(app)
                purged_at = time.monotonic()
        except Exception as error:  # logged, and the loop goes on (see above)
            pause = max(interval, ERROR_PAUSE)
            # The class name only: a database error's text can quote SQL parameters.
            log.error("outbox pass failed: %s; next try in %ss", type(error).__name__, pause)
            stop.wait(pause)
            continue
        due = push_delivery.seconds_until_due(app)  # a push retried sooner than a pass
        waiter.wait(stop, pause if due is None else min(pause, max(due, 0.05)))


def check_settings(app: Flask) -> None:
    """Refuse to start on an SMTP URL or From address that can never work."""
    settings = app.config["KEYHOLDER"]
    SmtpEndpoint.parse(settings.SMTP_URL)
    Sender.parse(settings.MAIL_FROM)


@click.command("worker")
@click.option("--once", is_flag=True, help="Send what is due now, then exit (tests, cron).")
@click.option("--interval", type=click.FloatRange(0.1, 3600), default=5.0, show_default=True,
              help="Seconds between passes.")
@with_appcontext
def worker_command(once: bool, interval: float) -> None:
    """Send what waits in the outbox: security events, logout tokens, e-mails."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        check_settings(app)
    except (InvalidSmtpUrl, InvalidMailFrom) as error:
        raise click.ClickException(str(error)) from None
    stop = threading.Event()
    restore = _stop_on_signals(stop)
    try:
        if once:
            report = run_pass(app, stop)
            click.echo(f"sent={report.sent} failed={report.failed} gave_up={report.gave_up}")
        else:
            log.info("outbox worker started (every %ss)", interval)
            run_loop(app, stop, interval)
            log.info("outbox worker stopped")
    finally:
        restore()


def _stop_on_signals(stop: threading.Event):
    """SIGTERM and SIGINT set ``stop`` instead of interrupting a send half-way.
    Returns the function that puts the previous handlers back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only

    def on_signal(signum: int, _frame) -> None:
        log.info("outbox worker: %s received, stopping after the current message",
                 signal.Signals(signum).name)
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


class BackgroundWorker(threading.Thread):
    """The worker loop in a daemon thread of this process (``keyholder demo``)."""

    def __init__(self, app: Flask, interval: float, *, mail: bool = True) -> None:
        super().__init__(name="keyholder-outbox", daemon=True)
        self.app = app
        self.interval = interval
        self.mail = mail
        self.stop_event = threading.Event()

    def run(self) -> None:
        run_loop(self.app, self.stop_event, self.interval, mail=self.mail)

    def stop(self, timeout: float | None = None) -> None:
        """Finish the message in hand, then end the thread."""
        self.stop_event.set()
        self.join(timeout)


def start_background_worker(app: Flask, interval: float = 2.0) -> BackgroundWorker:
    """Start sending the outbox from a daemon thread; ``.stop()`` ends it."""
    check_settings(app)
    worker = BackgroundWorker(app, interval)
    worker.start()
    return worker
