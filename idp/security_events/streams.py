"""The streams (SSF 1.0 §8.1): one per receiver, created, read, changed and
deleted by the receiver (the management API) or by the operator (the command
line), with the same checks. Each operation works inside the caller's
transaction and raises a :class:`StreamError` (an HTTP status and a sentence)
for a request it refuses, changing nothing."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from claims.security_event_types import POLL, PUSH, SUBSCRIBABLE, VERIFICATION
from idp.clients.models import Client
from idp.directory.models import Person, utcnow
from idp.security_events import queue
from idp.security_events.models import EventStream, PushDelivery, StreamStatus, StreamSubject
from idp.settings import is_loopback_host

RECEIVER_SUPPLIED = ("delivery", "events_requested", "description")
TRANSMITTER_SUPPLIED = ("stream_id", "iss", "aud", "events_supported", "events_delivered",
                        "min_verification_interval", "inactivity_timeout")
MIN_VERIFICATION_INTERVAL = 10  # seconds between two verification requests (SSF §8.1.1)
MAX_DESCRIPTION = 300
MAX_URL = 2000
MAX_AUTHORIZATION = 4096


class StreamError(Exception):
    """A refused request: ``status`` (400, 403, 404, 409, 429) and why."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class NoSuchStream(StreamError):
    def __init__(self) -> None:
        super().__init__(404, "There is no stream with this stream_id for this receiver.")


def _bad(description: str) -> StreamError:
    return StreamError(400, description)


# -- reading what a receiver sent ---------------------------------------------------------------

def _text(value: Any, name: str, limit: int) -> str:
    if not isinstance(value, str) or not value or len(value) > limit \
            or not value.isprintable():
        raise _bad(f"'{name}' must be a non-empty printable string of at most {limit} "
                   "characters.")
    return value


def endpoint_url(value: Any) -> str:
    """A push endpoint: an absolute https URL (http only on loopback), with no
    credentials in it and no fragment."""
    url = _text(value, "endpoint_url", MAX_URL)
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise _bad("'endpoint_url' must be an absolute http(s) URL.")
    if parts.username or parts.password or parts.fragment:
        raise _bad("'endpoint_url' may carry no credentials and no fragment; send them as "
                   "'authorization_header'.")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname):
        raise _bad("'endpoint_url' must use https (plain http only on loopback).")
    return url


def events_requested(value: Any) -> list[str]:
    """The events asked for. An event this provider does not send is refused,
    rather than ignored as SSF §8.1.1 allows: the receiver would otherwise
    wait for events that never come."""
    if not isinstance(value, list) or not value \
            or not all(isinstance(event, str) for event in value):
        raise _bad("'events_requested' must be a non-empty array of event type URIs.")
    unknown = [event for event in value if event not in SUBSCRIBABLE]
    if unknown:
        raise _bad(f"Unknown or unsupported event types: {', '.join(unknown)[:500]}. "
                   f"Supported: {', '.join(SUBSCRIBABLE)}.")
    return list(dict.fromkeys(value))


def _delivery(value: Any, *, poll_url: str | None = None,
              stored: EventStream | None = None) -> tuple[str, str | None, str | None]:
    """(method, endpoint_url, authorization_header) of a ``delivery`` object;
    poll when absent (SSF §8.1.1.1). A poll stream's endpoint_url is the
    transmitter's: it may be sent back only as it was read (``poll_url``).
    The authorization header is write-only (never read back): a push
    delivery sent without it keeps the stored one for the same URL, and
    ``null`` removes it."""
    if value is None:
        return POLL, None, None
    if not isinstance(value, dict):
        raise _bad("'delivery' must be an object.")
    method = value.get("method", POLL)
    if method == POLL:
        if "authorization_header" in value or (
                "endpoint_url" in value and (poll_url is None
                                             or value["endpoint_url"] != poll_url)):
            raise _bad("A poll stream's endpoint_url is the transmitter's; send none, or "
                       "the one it gave.")
        return POLL, None, None
    if method != PUSH:
        raise _bad(f"Unsupported delivery method; supported: {PUSH}, {POLL}.")
    url = endpoint_url(value.get("endpoint_url"))
    if "authorization_header" not in value:
        kept = stored is not None and stored.method == PUSH and stored.endpoint_url == url
        return PUSH, url, stored.authorization_header if kept else None
    authorization = value["authorization_header"]
    if authorization is not None:
        authorization = _text(authorization, "authorization_header", MAX_AUTHORIZATION)
    return PUSH, url, authorization


def _description(value: Any) -> str | None:
    return None if value is None else _text(value, "description", MAX_DESCRIPTION)


def _body(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad("The request body must be a JSON object.")
    return value


# -- the configuration (SSF §8.1.1) -------------------------------------------------------------

def configuration(stream: EventStream, issuer: str, poll_url: str) -> dict[str, Any]:
    """What a receiver reads of its stream; never its authorization header
    (write-only: see :func:`_delivery`)."""
    delivery: dict[str, Any] = {"method": stream.method}
    delivery["endpoint_url"] = stream.endpoint_url if stream.method == PUSH else poll_url
    config = {"stream_id": stream.id, "iss": issuer, "aud": stream.client_id,
              "delivery": delivery, "events_supported": list(SUBSCRIBABLE),
              "events_delivered": queue.events_delivered(stream),
              "min_verification_interval": MIN_VERIFICATION_INTERVAL}
    if stream.events_requested:
        config["events_requested"] = list(stream.events_requested)
    if stream.description is not None:
        config["description"] = stream.description
    return config


def of_client(db: Session, client: Client) -> list[EventStream]:
    return list(db.scalars(select(EventStream).where(EventStream.client_id == client.id)
                           .order_by(EventStream.created_at)))


def find(db: Session, client: Client, stream_id: Any, *, lock: bool = False) -> EventStream:
    """The receiver's stream ``stream_id``; another client's is "not found"
    too, so that stream ids cannot be probed."""
    if not isinstance(stream_id, str) or not stream_id or len(stream_id) > 64 \
            or not stream_id.isprintable():
        raise _bad("'stream_id' is required.")
    query = select(EventStream).where(EventStream.id == stream_id,
                                      EventStream.client_id == client.id)
    stream = db.scalar(query.with_for_update() if lock else query)
    if stream is None:
        raise NoSuchStream()
    return stream


def create(db: Session, client: Client, body: Any) -> EventStream:
    """SSF §8.1.1.1. One stream per receiver (409 for a second)."""
    body = _body(body)
    _no_transmitter_values(body, allow_stream_id=False)
    if client.type.value not in {"web", "service", "device"}:
        raise StreamError(403, "This kind of client cannot receive security events.")
    # Two creations at once: the client's row lock makes one wait for the
    # other's commit (and a unique index on ssf_stream.client_id backs it).
    db.execute(select(Client.id).where(Client.id == client.id).with_for_update())
    if of_client(db, client):
        raise StreamError(409, "This receiver has a stream already; read it, then update "
                          "or replace it.")
    method, url, authorization = _delivery(body.get("delivery"))
    asked = events_requested(body["events_requested"]) if "events_requested" in body else []
    stream = EventStream(id=secrets.token_hex(16), client_id=client.id, method=method,
                         endpoint_url=url, authorization_header=authorization,
                         events_requested=asked, description=_description(body.get("description")))
    db.add(stream)
    db.flush()
    return stream


def _no_transmitter_values(body: dict, *, allow_stream_id: bool,
                           stream: EventStream | None = None, issuer: str | None = None,
                           ) -> None:
    """Transmitter-supplied members may be sent back only unchanged (SSF §8.1.1.3)."""
    for name in TRANSMITTER_SUPPLIED:
        if name not in body or (name == "stream_id" and allow_stream_id):
            continue
        if stream is None:
            raise _bad(f"'{name}' is the transmitter's to set.")
        if not _matches(name, body[name], stream, issuer):
            raise _bad(f"'{name}' is the transmitter's and does not match.")


def _matches(name: str, sent: Any, stream: EventStream, issuer: str | None) -> bool:
    """A transmitter-supplied member as the receiver sent it back: ``aud``
    as a string or a one-string array, the event lists in any order."""
    if name == "aud":
        return sent == stream.client_id or sent == [stream.client_id]
    if name in {"events_supported", "events_delivered"}:
        expected = SUBSCRIBABLE if name == "events_supported" else queue.events_delivered(stream)
        return isinstance(sent, list) and all(isinstance(e, str) for e in sent) \
            and sorted(sent) == sorted(expected)
    return sent == {"iss": issuer,
                    "min_verification_interval": MIN_VERIFICATION_INTERVAL}.get(name)


def update(db: Session, client: Client, body: Any, issuer: str, *, replace: bool,
           poll_url: str | None = None) -> EventStream:
    """PATCH (only what is sent changes) or PUT (what is not sent is removed),
    SSF §8.1.1.3 and §8.1.1.4."""
    body = _body(body)
    stream = find(db, client, body.get("stream_id"), lock=True)
    _no_transmitter_values(body, allow_stream_id=True, stream=stream, issuer=issuer)
    if replace or "delivery" in body:
        method, url, authorization = _delivery(body.get("delivery"), poll_url=poll_url,
                                               stored=stream)
        stream.method, stream.endpoint_url, stream.authorization_header = \
            method, url, authorization
    if replace or "events_requested" in body:
        stream.events_requested = (events_requested(body["events_requested"])
                                   if "events_requested" in body else [])
    if replace or "description" in body:
        stream.description = _description(body.get("description"))
    stream.updated_at = utcnow()
    return stream


def remove(db: Session, stream: EventStream) -> None:
    db.delete(stream)  # its subjects and undelivered events go with it (ON DELETE CASCADE)
    db.flush()


def set_status(db: Session, stream: EventStream, status: Any, reason: Any = None) -> None:
    """SSF §8.1.2.2. Disabled drops what was held; enabled resumes what was."""
    if not isinstance(status, str) or status not in {s.value for s in StreamStatus}:
        raise _bad("'status' must be enabled, paused or disabled.")
    reason = None if reason is None else _text(reason, "reason", 300)
    if status == StreamStatus.DISABLED.value:
        db.execute(delete(PushDelivery).where(PushDelivery.stream_id == stream.id,
                                              PushDelivery.delivered_at.is_(None)))
    if status == StreamStatus.ENABLED.value and stream.status != status:
        now = utcnow()  # what was held goes out now, not after its old back-off
        for row in db.scalars(select(PushDelivery).where(PushDelivery.stream_id == stream.id,
                                                         PushDelivery.delivered_at.is_(None))):
            row.next_attempt_at = now
        queue.wakeup.after_commit(db)
    stream.status, stream.reason, stream.updated_at = status, reason, utcnow()


def status_of(stream: EventStream) -> dict[str, Any]:
    answer = {"stream_id": stream.id, "status": stream.status}
    if stream.reason:
        answer["reason"] = stream.reason
    return answer


# -- subjects (SSF §8.1.3) ----------------------------------------------------------------------

def person_named(db: Session, subject: Any, issuer: str) -> Person | None:
    """The person a subject identifier names: ``iss_sub`` (our issuer),
    ``email``, or a ``complex`` subject whose ``user`` is one of those; None
    when it names nobody we know."""
    if not isinstance(subject, dict) or not isinstance(subject.get("format"), str):
        raise _bad("'subject' must be a subject identifier (RFC 9493) object.")
    if subject["format"] == "complex":  # its members are simple subjects (SSF §3.2)
        user = subject.get("user")
        if not isinstance(user, dict) or user.get("format") == "complex":
            return None
        return person_named(db, user, issuer)
    if subject["format"] == "iss_sub":
        sub = subject.get("sub")
        if subject.get("iss") != issuer or not _searchable(sub, 64):
            return None
        return db.get(Person, sub)
    email = subject.get("email")
    if subject["format"] == "email" and _searchable(email, 254):
        return db.scalar(select(Person).where(Person.email == email.strip().lower()))
    return None


def _searchable(value: Any, limit: int) -> bool:
    # No NUL or other control character reaches a query (PostgreSQL refuses NUL).
    return isinstance(value, str) and 0 < len(value) <= limit and value.isprintable()


def set_subject(db: Session, stream: EventStream, body: Any, issuer: str, *, added: bool
                ) -> None:
    """Add or remove the subject. A subject we do not know, or a person who
    never used this receiver, is accepted silently and changes nothing
    (SSF §9.1, subject probing)."""
    body = _body(body)
    if "subject" not in body:
        raise _bad("'subject' is required.")
    if "verified" in body and not isinstance(body["verified"], bool):
        raise _bad("'verified' must be a boolean.")
    person = person_named(db, body["subject"], issuer)
    if person is None or (added and not _has_used(db, person, stream)):
        return
    row = db.scalar(select(StreamSubject).where(StreamSubject.stream_id == stream.id,
                                                StreamSubject.person_id == person.id))
    if row is None:
        db.add(StreamSubject(stream_id=stream.id, person_id=person.id, added=added))
    else:
        row.added = added


def _has_used(db: Session, person: Person, stream: EventStream) -> bool:
    return queue.hears_of(stream, *queue.used_by(db, person.id))


# -- verification (SSF §8.1.4) ------------------------------------------------------------------

def verify(db: Session, stream: EventStream, body: Any) -> None:
    body = _body(body)
    state = body.get("state")
    if state is not None:
        state = _text(state, "state", 1000)
    now = utcnow()
    if stream.verified_at is not None \
            and now - stream.verified_at < timedelta(seconds=MIN_VERIFICATION_INTERVAL):
        raise StreamError(429, f"At most one verification every {MIN_VERIFICATION_INTERVAL} s.")
    stream.verified_at = now
    queue.queue_event(db, stream, VERIFICATION, {} if state is None else {"state": state},
                      queue.stream_subject(stream), None)
