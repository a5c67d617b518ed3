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
from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.plugins import MembershipView, Purpose
from claims.security_event_types import (
    CREDENTIAL_CHANGE,
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


def _grants(db: Session, person_id: str, session_id: int | None = None):
    """(client_id, resources, scope, customer_id) of the person's token families."""
    query = select(TokenGrant.client_id, TokenGrant.resources, TokenGrant.scope,
                   TokenGrant.customer_id).where(TokenGrant.person_id == person_id)
    if session_id is not None:
        query = query.where(TokenGrant.session_id == session_id)
    return db.execute(query).all()


def used_by(db: Session, person_id: str, session_id: int | None = None
            ) -> tuple[set[str], set[str]]:
    """The clients ``person_id`` has used (a token family from them), and the
    resources (APIs, RFC 8707) their tokens were for; of one SSO session only
    when ``session_id`` is given."""
    clients: set[str] = set()
    resources: set[str] = set()
    for client_id, granted, _, _ in _grants(db, person_id, session_id):
        clients.add(client_id)
        resources.update(granted or ())
    return clients, resources


def hears_of(stream: EventStream, clients: set[str], resources: set[str]) -> bool:
    """Whether a stream's receiver has had to do with the person: the person
    used it, or held a token for it (an API)."""
    return stream.client_id in clients or (
        stream.client.resource_uri is not None and stream.client.resource_uri in resources)


def streams_hearing_of(db: Session, person_id: str, clients: list[str] | None = None, *,
                       session_id: int | None = None) -> list[EventStream]:
    """The streams (not disabled) that hear of ``person_id``: of the receivers
    the person used or held a token for (within one SSO session when
    ``session_id`` is given), not removed by the receiver; only those of
    ``clients`` when given."""
    used, resources = used_by(db, person_id, session_id)
    if not used:
        return []
    removed = set(db.scalars(select(StreamSubject.stream_id).where(
        StreamSubject.person_id == person_id, StreamSubject.added.is_(False))))
    query = (select(EventStream).where(EventStream.status != StreamStatus.DISABLED.value)
             .order_by(EventStream.id))
    if clients is not None:
        query = query.where(EventStream.client_id.in_(clients))
    return [stream for stream in db.scalars(query)
            if stream.id not in removed and hears_of(stream, used, resources)]


def granted_scope(db: Session, person_id: str, stream: EventStream, customer_id: int) -> str:
    """The scopes the person granted the stream's receiver (or the clients
    whose tokens it served) for one customer: what a token-claims-change may
    tell it (SSF §10.3.2: nothing the person did not consent to)."""
    scopes: set[str] = set()
    for client_id, resources, scope, chosen in _grants(db, person_id):
        if chosen == customer_id and hears_of(stream, {client_id}, set(resources or ())):
            scopes.update((scope or "").split())
    return " ".join(sorted(scopes))


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
    """One SET for ``stream``, unless it does not get ``event_type`` or is
    disabled (a disabled stream holds nothing, SSF §8.1.2)."""
    if stream.status == StreamStatus.DISABLED.value or (
            event_type not in STREAM_EVENTS and event_type not in events_delivered(stream)):
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


def _customer_claims(person: Person, client: Client, membership: MembershipView | None,
                     scope: str) -> dict[str, Any]:
    if membership is None:
        return {}
    return release_views(Purpose.ACCESS_TOKEN, person_view(person), client_view(client),
                         scope, membership)


def claims_changed(db: Session, person: Person, customer: Customer,
                   before: MembershipView | None, after: MembershipView | None, *,
                   actor: str, txn: str) -> int:
    """A token-claims-change (CAEP §3.2) to each stream hearing of ``person``
    for ``customer`` (a token of the receiver speaks for that customer) whose
    view of the claims the person granted it changed: those claims with
    their new values, ``null`` for one that no longer applies (a membership
    removed). Returns how many SETs were queued."""
    queued = 0
    issuer = current_app.config["KEYHOLDER"].ISSUER
    now = int(time.time())
    for stream in streams_hearing_of(db, person.id):
        scope = granted_scope(db, person.id, stream, customer.id)
        if CLAIMS_SCOPE not in scope.split():
            continue  # it was never told the customer claims, so it hears no change of them
        old = _customer_claims(person, stream.client, before, scope)
        new = _customer_claims(person, stream.client, after, scope)
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
                    session_id: int | None = None, txn: str | None = None) -> int:
    """A session-revoked (CAEP §3.1) to each stream hearing of the person:
    only those of ``clients`` when given, only those that had to do with the
    SSO session ``session_id`` when given (a logout)."""
    issuer = current_app.config["KEYHOLDER"].ISSUER
    body = {"event_timestamp": int(time.time()), "initiating_entity": initiating,
            "reason_admin": {"en": reason}}
    txn = txn or new_jti()  # one cause, one txn across its SETs (SSF §4.1.8)
    queued = 0
    for stream in streams_hearing_of(db, person_id, clients, session_id=session_id):
        if queue_event(db, stream, SESSION_REVOKED, body, subject(issuer, person_id, sid=sid),
                       txn) is not None:
            queued += 1
    return queued



def credential_changed(db: Session, person_id: str, *, initiating: str, txn: str,
                       credential_type: str = "password", change_type: str = "update") -> int:
    """A credential-change (CAEP §3.3): the person's password was changed or
    reset (``password``, ``update``), or an authenticator app was enrolled or
    removed (``app``, ``create`` or ``delete``)."""
    issuer = current_app.config["KEYHOLDER"].ISSUER
    body = {"event_timestamp": int(time.time()), "initiating_entity": initiating,
            "credential_type": credential_type, "change_type": change_type}
    queued = 0
    for stream in streams_hearing_of(db, person_id):
        if queue_event(db, stream, CREDENTIAL_CHANGE, body, subject(issuer, person_id),
                       txn) is not None:
            queued += 1
    return queued
