"""Queueing security events, in the transaction of the change they report.

Which streams hear of a person (SSF §8.1.3, "default_subjects": ALL): those
of the clients the person has used (a token family with that client, from a
sign-in, a device or a refresh), unless the receiver removed the person from
its stream; a subject the receiver added counts only for a person who has
used it, so a receiver never learns of anyone who never signed in to it.
A disabled stream hears nothing; a paused one holds what it hears.

Each event is one row of :class:`PushDelivery` per stream; the SET itself is
signed when it is delivered (:mod:`idp.security_events.sets`)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from flask import current_app
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from claims.plugins import MembershipView, Purpose
from claims.security_event_types import (
    SESSION_REVOKED,
    STREAM_EVENTS,
    SUBSCRIBABLE,
    TOKEN_CLAIMS_CHANGE,
)
from claims.vocabulary import Role
from idp.clients.models import Client
from idp.directory.models import Customer, Person
from idp.protocol.claims_release import client_view, person_view, release_views
from idp.protocol.tokens.models import TokenGrant
from idp.security_events import wakeup
from idp.security_events.models import (
    DeliveryKind,
    EventStream,
    PushDelivery,
    StreamStatus,
    StreamSubject,
)

# The claims a token-claims-change reports: those of the customer scope.
CLAIMS_SCOPE = "customer"


def new_jti() -> str:
    return secrets.token_urlsafe(24)


def events_delivered(stream: EventStream) -> list[str]:
    """SSF §8.1.1: what the stream gets, of what it asked (all when it asked nothing)."""
    asked = stream.events_requested or list(SUBSCRIBABLE)
    return [event for event in SUBSCRIBABLE if event in asked]


def streams_hearing_of(db: Session, person_id: str, clients: list[str] | None = None
                       ) -> list[EventStream]:
    """The streams (not disabled) that hear of ``person_id``; only those of
    ``clients`` when given."""
    used = exists().where(TokenGrant.person_id == person_id,
                          TokenGrant.client_id == EventStream.client_id)
    removed = exists().where(StreamSubject.stream_id == EventStream.id,
                             StreamSubject.person_id == person_id,
                             StreamSubject.added.is_(False))
    query = (select(EventStream)
             .where(EventStream.status != StreamStatus.DISABLED.value, used, ~removed)
             .order_by(EventStream.id))
    if clients is not None:
        query = query.where(EventStream.client_id.in_(clients))
    return list(db.scalars(query))


def subject(issuer: str, person_id: str, customer_number: str | None = None,
            sid: str | None = None) -> dict[str, Any]:
    """The SET's ``sub_id``: a complex subject (SSF §3.2) of the person, the
    customer number (the tenant) and the provider session, where known."""
    sub: dict[str, Any] = {"format": "complex",
                           "user": {"format": "iss_sub", "iss": issuer, "sub": person_id}}
    if customer_number is not None:
        sub["tenant"] = {"format": "opaque", "id": customer_number}
    if sid is not None:
        sub["session"] = {"format": "opaque", "id": sid}
    return sub


def stream_subject(stream: EventStream) -> dict[str, Any]:
    """The subject of the stream's own events (SSF §8.1.4, §8.1.5)."""
    return {"format": "opaque", "id": stream.id}


def queue_event(db: Session, stream: EventStream, event_type: str, body: dict[str, Any],
                sub_id: dict[str, Any], txn: str | None) -> PushDelivery | None:
    """One SET for ``stream``, unless it does not get ``event_type``."""
    if event_type not in STREAM_EVENTS and event_type not in events_delivered(stream):
        return None
    claims: dict[str, Any] = {"aud": stream.client_id, "sub_id": sub_id,
                              "events": {event_type: body}}
    if txn is not None:
        claims["txn"] = txn
    row = PushDelivery(kind=DeliveryKind.SET.value, stream_id=stream.id,
                       client_id=stream.client_id, jti=new_jti(), claims=claims)
    db.add(row)
    wakeup.after_commit(db)
    return row


def initiating_entity(actor: str, person_id: str) -> str:
    """CAEP §2: who caused it: the person ("user"), an administrator or the
    operator ("admin"), or the provider itself ("system")."""
    if actor == f"person:{person_id}":
        return "user"
    return "admin" if actor.startswith("person:") or actor == "operator" else "system"


def _customer_claims(person: Person, client: Client, membership: MembershipView | None
                     ) -> dict[str, Any]:
    if membership is None:
        return {}
    return release_views(Purpose.ACCESS_TOKEN, person_view(person), client_view(client),
                         CLAIMS_SCOPE, membership)


def claims_changed(db: Session, person: Person, customer: Customer,
                   before: MembershipView | None, after: MembershipView | None, *,
                   actor: str, txn: str) -> int:
    """A token-claims-change (CAEP §3.2) to each stream hearing of ``person``
    whose client's view of the customer claims changed: the claims with their
    new values, ``null`` for a claim that no longer applies (a membership
    removed). Returns how many SETs were queued."""
    queued = 0
    issuer = current_app.config["KEYHOLDER"].ISSUER
    now = int(time.time())
    for stream in streams_hearing_of(db, person.id):
        old = _customer_claims(person, stream.client, before)
        new = _customer_claims(person, stream.client, after)
        changed = {name: new.get(name) for name in sorted({*old, *new})
                   if old.get(name) != new.get(name)}
        if not changed:
            continue
        body = {"event_timestamp": now, "initiating_entity": initiating_entity(actor, person.id),
                "claims": changed}
        if queue_event(db, stream, TOKEN_CLAIMS_CHANGE, body,
                       subject(issuer, person.id, customer.number), txn) is not None:
            queued += 1
    return queued


def with_role(view: MembershipView, role: Role) -> MembershipView:
    return MembershipView(view.customer_number, view.customer_name, view.customer_type, role,
                          view.mobile)


def session_revoked(db: Session, person_id: str, *, initiating: str, reason: str,
                    sid: str | None = None, clients: list[str] | None = None,
                    txn: str | None = None) -> int:
    """A session-revoked (CAEP §3.1) to each stream hearing of the person
    (only those of ``clients`` when given: the clients of one ended session)."""
    issuer = current_app.config["KEYHOLDER"].ISSUER
    body = {"event_timestamp": int(time.time()), "initiating_entity": initiating,
            "reason_admin": {"en": reason}}
    txn = txn or new_jti()  # one cause, one txn across its SETs (SSF §4.1.8)
    queued = 0
    for stream in streams_hearing_of(db, person_id, clients):
        if queue_event(db, stream, SESSION_REVOKED, body, subject(issuer, person_id, sid=sid),
                       txn) is not None:
            queued += 1
    return queued

