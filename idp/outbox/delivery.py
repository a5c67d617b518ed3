"""Sending the outbox: :func:`deliver_due` hands every due message to the SMTP
server and marks it sent ("Duplicate, never lose", docs/security.md).

A message is *due* when ``sent_at IS NULL AND next_attempt_at <= now``.

Claiming, one message at a time. PostgreSQL: ``SELECT ... FOR UPDATE SKIP
LOCKED``, so several workers run side by side, each skipping the rows the
others hold; a row is locked from claim until its "sent" mark commits, and a
worker that looks at it after that commit sees ``sent_at`` set (PostgreSQL
re-checks the WHERE clause on the newest row version before locking it), so
two workers never send the same message in normal operation. SQLite:
``BEGIN IMMEDIATE`` (:func:`idp.infrastructure.database.begin_write`) takes the database's
write lock for the same window, so workers take turns. The SMTP session is
opened *before* the lock is taken, so an unreachable server never holds the
lock; only the hand-over of one message on an open session does, bounded by
``idp.outbox.smtp.SMTP_TIMEOUT`` per exchange.

Order: claim -> send -> mark sent -> commit, in one transaction. A crash after
the server accepted the message and before the commit rolls the mark back:
the message is still due and is sent again (a duplicate, recognisable by its
``Message-ID``, which comes from the outbox id). The other order (mark, then
send) could lose a message, which the rule forbids: duplicate, never lose.

Retries. Every attempt adds one to ``attempts``. After a failure
``next_attempt_at`` moves by :func:`backoff` (30 s, 1 min, 2 min, 4 min ...
capped at 1 h, each +-10 % so that a crowd of messages spreads out) and
``last_error`` says why, without secrets.

Giving up. A *permanent* failure (a 5xx reply to this message, or a row that
cannot be composed) that happens at attempt :data:`GIVE_UP_AFTER` (10, about
4.5 hours after the first: time to fix a misconfigured relay) or later ends the
retries: ``next_attempt_at`` becomes :data:`GAVE_UP_AT` (9999-12-31, never due)
and ``last_error`` starts with ``"gave up: "``; ``sent_at`` stays NULL. Failures
that heal by themselves (server down, timeout, 4xx, failed login) are retried
for ever: an outage must not lose mail. To retry a given-up message, set its
``next_attempt_at`` back to now.
"""

from __future__ import annotations

import logging
import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.outbox.compose import Sender, compose
from idp.outbox.mail import SECRET_LINK_KINDS
from idp.outbox.models import OutboxMessage
from idp.outbox.smtp import BrokenMessage, Courier, DeliveryFailure, SmtpEndpoint

log = logging.getLogger("keyholder.outbox")

FIRST_RETRY = timedelta(seconds=30)
LAST_RETRY = timedelta(hours=1)
JITTER_PER_MILLE = 100  # +-10 %
GIVE_UP_AFTER = 10
GAVE_UP_AT = datetime(9999, 12, 31, tzinfo=UTC)
GAVE_UP = "gave up: "


class Outcome(StrEnum):
    SENT = "sent"
    FAILED = "failed"  # will be retried
    GAVE_UP = "gave_up"


@dataclass
class DeliveryReport:
    """What one call of :func:`deliver_due` did: messages ``sent``, ``failed``
    (retried later) and given up on (``gave_up``, not counted in ``failed``)."""

    sent: int = 0
    failed: int = 0
    gave_up: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.failed + self.gave_up

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: 30 s doubling per
    attempt up to 1 h, then +-10 % jitter."""
    nominal = min(FIRST_RETRY * 2 ** min(max(attempts - 1, 0), 16), LAST_RETRY)
    jitter = (secrets.randbelow(2 * JITTER_PER_MILLE + 1) - JITTER_PER_MILLE) / 1000
    return nominal * (1 + jitter)


def gave_up(row: OutboxMessage) -> bool:
    """Whether delivery of ``row`` was abandoned (see the module's docstring)."""
    return row.sent_at is None and row.next_attempt_at >= GAVE_UP_AT


def deliver_due(app: Flask, *, limit: int = 50, now: datetime | None = None,
                stop: threading.Event | None = None) -> DeliveryReport:
    """Send up to ``limit`` due messages over one SMTP session (reopened when
    it breaks). ``now`` is the clock for due times, ``sent_at``, ``Date`` and
    back-off (tests move it). A set ``stop`` ends the pass after the message
    in hand. Raises :class:`idp.outbox.smtp.InvalidSmtpUrl` or
    :class:`idp.outbox.compose.InvalidMailFrom` on bad settings."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    now = utcnow() if now is None else now
    if now.tzinfo is None:
        raise ValueError("naive datetime: the outbox works in UTC moments")
    settings = app.config["KEYHOLDER"]
    endpoint = SmtpEndpoint.parse(settings.SMTP_URL)
    sender = Sender.parse(settings.MAIL_FROM)
    report = DeliveryReport()
    with database.new_session(app) as session, Courier(endpoint, sender.domain) as courier:
        while report.handled < limit and not (stop is not None and stop.is_set()):
            if not courier.connected:
                if not _anything_due(session, now):
                    break
                try:
                    courier.connect()  # outside any transaction: see "Claiming" above
                except DeliveryFailure as failure:
                    _fail_due(session, now, limit - report.handled, failure, report)
                    break
            outcome = _deliver_next(session, courier, sender, now)
            if outcome is None:
                break
            report.add(outcome)
    return report


def _due(now: datetime):
    return (select(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id))


def _anything_due(session: Session, now: datetime) -> bool:
    try:
        return session.scalar(_due(now).with_only_columns(OutboxMessage.id).limit(1)) is not None
    finally:
        session.rollback()  # begin_write() must start the next transaction


def _deliver_next(session: Session, courier: Courier, sender: Sender,
                  now: datetime) -> Outcome | None:
    """Claim, send and mark one message in one transaction; None when none is due."""
    database.begin_write(session)
    row = session.scalars(_due(now).limit(1).with_for_update(skip_locked=True)).first()
    if row is None:
        session.rollback()
        return None
    row.attempts += 1
    failure: DeliveryFailure | None = None
    try:
        email = compose(row, sender, now)
    except Exception as error:  # a stored field that cannot be a header
        failure = BrokenMessage(f"cannot compose: {type(error).__name__}: {error}"[:200])
    else:
        try:
            courier.send(email, sender.address, row.recipient)
        except DeliveryFailure as error:
            failure = error
        except Exception as error:
            # A bug must not block the queue behind this message: retry it
            # later like any failure, and go on with a new SMTP session.
            log.exception("outbox message %s: unexpected error while sending", row.id)
            courier.close()
            failure = BrokenMessage(f"unexpected {type(error).__name__}")
    if failure is None:
        row.sent_at = now
        outcome = Outcome.SENT
    else:
        outcome = _record_failure(row, failure, now)
    if outcome is not Outcome.FAILED and row.kind in SECRET_LINK_KINDS:
        row.text_body = row.html_body = ""  # the link's secret leaves the database
        if outcome is Outcome.FAILED:
            log.warning("outbox message %s: attempt %s failed: %s",
                        row.id, row.attempts, failure.reason)
    # Between the server's "250 OK" and this commit a crash means a duplicate,
    # never a loss (module docstring).
    session.commit()
    return outcome


def _fail_due(session: Session, now: datetime, limit: int, failure: DeliveryFailure,
              report: DeliveryReport) -> None:
    """The server cannot be reached: that is a failed attempt for each due
    message (up to ``limit``), not only the first."""
    database.begin_write(session)
    rows = session.scalars(_due(now).limit(limit).with_for_update(skip_locked=True)).all()
    for row in rows:
        row.attempts += 1
        report.add(_record_failure(row, failure, now))
    session.commit()
    log.warning("outbox: %s; %s due messages rescheduled", failure.reason, len(rows))


def _record_failure(row: OutboxMessage, failure: DeliveryFailure, now: datetime) -> Outcome:
    if failure.permanent and row.attempts >= GIVE_UP_AFTER:
        row.next_attempt_at = GAVE_UP_AT
        row.last_error = (GAVE_UP + failure.reason)[:300]
        log.error("outbox message %s: gave up after %s attempts: %s",
                  row.id, row.attempts, failure.reason)
        return Outcome.GAVE_UP
    row.next_attempt_at = now + backoff(row.attempts)
    row.last_error = failure.reason[:300]
    return Outcome.FAILED
