"""Pushing the push outbox: Security Event Tokens to the streams' receivers
(RFC 8935) and logout tokens to the clients' back-channel logout URIs.

Claiming with a lease. A pass takes due rows in a short transaction (``FOR
UPDATE SKIP LOCKED`` on PostgreSQL, the write lock on SQLite) and moves their
``next_attempt_at`` a lease ahead, commits, sends over HTTP with no
transaction open, then records each outcome in another short transaction. A
worker that dies mid-way leaves rows whose lease runs out: they are sent
again (at least once; receivers drop repeats by ``jti``). Several workers on
several nodes share the work.

Order. A stream's events go out in the order they were queued: only the
oldest undelivered event of each stream (its head) can be claimed, so an
event waits while an earlier one is being retried (SSF §8.1.2: events about a
subject are transmitted in the order they happened).

Outcomes.
- 202 for a SET (RFC 8935 §2.2), 200 for a logout token (OIDC Back-Channel
  Logout §2.8; any 2xx is taken): delivered.
- 400 (RFC 8935 §2.3: the receiver refuses this SET, with ``err``): refused
  for good, logged with the receiver's ``err``; the next event goes out.
- Anything else (no connection, a timeout, 5xx, 401...): tried again after
  ``KEYHOLDER_PUSH_RETRY_FIRST`` seconds, doubling up to
  ``KEYHOLDER_PUSH_RETRY_MAX``. Past ``KEYHOLDER_PUSH_RETRY_HORIZON`` after
  the event was queued, its stream is paused with the reason (the events are
  held; `keyholder ssf enable` resumes) and a logout token is given up.

Never logged: a token, a stream's authorization header."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from flask import Flask
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from claims.security_event_types import PUSH, SET_MEDIA_TYPE, STREAM_UPDATED
from idp.clients.models import Client
from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.security_events import queue, sets
from idp.security_events.models import DeliveryKind, EventStream, PushDelivery, StreamStatus

log = logging.getLogger("keyholder.push")

TIMEOUT = 5.0  # seconds per push
LEASE = timedelta(seconds=30)  # longer than a push can take
BATCH = 50


@dataclass
class PushReport:
    delivered: int = 0
    refused: int = 0
    failed: int = 0
    gave_up: int = 0
    paused: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.delivered + self.refused + self.failed + self.gave_up


@dataclass(frozen=True)
class Claimed:
    id: int
    kind: str
    url: str
    authorization: str | None
    token: str
    stream_id: str | None
    created_at: datetime


def backoff(app: Flask, attempts: int) -> timedelta:
    settings = app.config["KEYHOLDER"]
    seconds = min(settings.PUSH_RETRY_FIRST * 2 ** min(max(attempts - 1, 0), 20),
                  settings.PUSH_RETRY_MAX)
    return timedelta(seconds=seconds * (0.9 + secrets.randbelow(201) / 1000))


def _pushable():
    """Undelivered rows that a push may send: logout tokens, and the oldest
    undelivered event of each enabled push stream."""
    earlier = aliased(PushDelivery)
    older_waits = exists().where(earlier.stream_id == PushDelivery.stream_id,
                                 earlier.delivered_at.is_(None), earlier.id < PushDelivery.id)
    pushing = select(EventStream.id).where(EventStream.method == PUSH,
                                           EventStream.status == StreamStatus.ENABLED.value)
    return and_(PushDelivery.delivered_at.is_(None),
                or_(PushDelivery.kind == DeliveryKind.LOGOUT.value,
                    and_(PushDelivery.stream_id.in_(pushing), ~older_waits)))


def _heads(now: datetime):
    return (select(PushDelivery)
            .where(_pushable(), PushDelivery.next_attempt_at <= now)
            .order_by(PushDelivery.id))


def _claim(app: Flask, db: Session, now: datetime, limit: int) -> list[Claimed]:
    database.begin_write(db)
    rows = db.scalars(_heads(now).limit(limit).with_for_update(skip_locked=True,
                                                               of=PushDelivery)).all()
    claimed = []
    for row in rows:
        row.next_attempt_at = now + LEASE
        row.attempts += 1
        if row.kind == DeliveryKind.LOGOUT.value:
            client = db.get(Client, row.client_id)
            if client is None or not client.backchannel_logout_uri:
                row.delivered_at, row.outcome = now, "gave_up"
                row.last_error = "the client has no back-channel logout URI any more"
                continue
            url, authorization = client.backchannel_logout_uri, None
            token = sets.signed(app, row, client.id_token_signed_response_alg or "RS256")
        else:
            stream = db.get(EventStream, row.stream_id)
            url, authorization = stream.endpoint_url, stream.authorization_header
            token = sets.signed(app, row)
        claimed.append(Claimed(row.id, row.kind, url, authorization, token, row.stream_id,
                               row.created_at))
    db.commit()
    return claimed


def _post(http: requests.Session, item: Claimed) -> tuple[str, str | None]:
    """("delivered" | "refused" | "failed", the reason)."""
    try:
        if item.kind == DeliveryKind.LOGOUT.value:
            answer = http.post(item.url, data={"logout_token": item.token}, timeout=TIMEOUT,
                               allow_redirects=False)
            ok = 200 <= answer.status_code < 300
        else:
            headers = {"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"}
            if item.authorization:
                headers["Authorization"] = item.authorization
            answer = http.post(item.url, data=item.token.encode(), headers=headers,
                               timeout=TIMEOUT, allow_redirects=False)
            ok = answer.status_code == 202
    except requests.RequestException as error:
        return "failed", f"no answer: {type(error).__name__}"
    if ok:
        return "delivered", None
    if answer.status_code == 400:
        return "refused", f"refused: {_receiver_error(answer)}"
    return "failed", f"HTTP {answer.status_code}"


def _receiver_error(answer: requests.Response) -> str:
    """RFC 8935 §2.3's ``err`` (and description), short, printable."""
    try:
        body = answer.json()
        text = f"{body.get('err')}: {body.get('description', '')}"
    except (ValueError, AttributeError, json.JSONDecodeError):
        text = "400 without an RFC 8935 error"
    return "".join(c for c in text if c.isprintable())[:200]


def _record(app: Flask, db: Session, item: Claimed, outcome: str, reason: str | None,
            report: PushReport) -> None:
    database.begin_write(db)
    row = db.get(PushDelivery, item.id, with_for_update=True, populate_existing=True)
    now = utcnow()
    if row is None or row.delivered_at is not None:  # acknowledged by a poll meanwhile
        db.commit()
        return
    if outcome == "delivered":
        row.delivered_at, row.outcome, row.last_error = now, "delivered", None
        report.delivered += 1
    elif outcome == "refused":
        row.delivered_at, row.outcome, row.last_error = now, "refused", reason
        report.refused += 1
        log.warning("push %s to %s refused by the receiver: %s", row.id,
                    row.stream_id or row.client_id, reason)
    else:
        row.last_error = reason
        horizon = timedelta(seconds=app.config["KEYHOLDER"].PUSH_RETRY_HORIZON)
        if now - row.created_at < horizon:
            row.next_attempt_at = now + backoff(app, row.attempts)
            report.failed += 1
            log.info("push %s to %s failed (%s); attempt %s", row.id,
                     row.stream_id or row.client_id, reason, row.attempts)
        elif row.kind == DeliveryKind.LOGOUT.value:
            row.delivered_at, row.outcome = now, "gave_up"
            report.gave_up += 1
            log.error("logout token %s to client %s given up: %s", row.id, row.client_id,
                      reason)
        else:
            row.next_attempt_at = now
            _pause(db, row.stream_id, f"Delivery failing since {row.created_at:%Y-%m-%d %H:%M}"
                   f" UTC ({reason}); events are held.")
            report.paused.append(row.stream_id)
    db.commit()


def _pause(db: Session, stream_id: str, reason: str) -> None:
    """The transmitter pauses a stream (SSF §8.1.2): the receiver is told by
    a stream-updated event, queued behind what is held (it is delivered when
    the stream is enabled again, the receiver being unreachable now)."""
    stream = db.get(EventStream, stream_id, with_for_update=True, populate_existing=True)
    if stream is None or stream.status != StreamStatus.ENABLED.value:
        return
    stream.status, stream.reason, stream.updated_at = StreamStatus.PAUSED.value, reason, utcnow()
    queue.queue_event(db, stream, STREAM_UPDATED, {"status": stream.status, "reason": reason},
                      queue.stream_subject(stream), None)
    log.error("stream %s of client %s paused: %s", stream.id, stream.client_id, reason)


def deliver_due(app: Flask, *, limit: int = BATCH, stop: threading.Event | None = None,
                http: requests.Session | None = None) -> PushReport:
    """One pass: claim what is due (up to ``limit``), push it, record the outcomes."""
    report = PushReport()
    http = http or requests.Session()
    with database.new_session(app) as db:
        while report.handled < limit and not (stop is not None and stop.is_set()):
            claimed = _claim(app, db, utcnow(), limit - report.handled)
            if not claimed:
                break
            for item in claimed:
                outcome, reason = _post(http, item)
                _record(app, db, item, outcome, reason, report)
    return report


def seconds_until_due(app: Flask) -> float | None:
    """When the next push may go (0 if now), None if none waits: the worker
    sleeps no longer than that, so a retry after one second happens then."""
    with database.new_session(app) as db:
        moment = db.scalar(select(func.min(PushDelivery.next_attempt_at)).where(_pushable()))
    if moment is None:
        return None
    return max(0.0, (moment - utcnow()).total_seconds())
