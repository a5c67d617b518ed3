"""Consent (OIDC Core §3.1.2.4): asked once per person and client for what a
client that is not first-party wants, remembered, asked again only for more.
What the page says of each scope is in :mod:`idp.pages.scope_words`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.clients.models import Client
from idp.directory.models import Person, utcnow
from idp.protocol.tokens.models import Consent


def _granted(db: Session, person: Person, client: Client) -> Consent | None:
    return db.scalar(select(Consent).where(Consent.person_id == person.id,
                                           Consent.client_id == client.id))


def consent_covers(db: Session, person: Person, client: Client, scope: str) -> bool:
    consent = _granted(db, person, client)
    return consent is not None and set(scope.split()) <= set(consent.scope.split())


def record_consent(db: Session, person: Person, client: Client, scope: str) -> None:
    consent = _granted(db, person, client)
    if consent is None:
        db.add(Consent(person_id=person.id, client_id=client.id, scope=scope))
    else:
        consent.scope = " ".join(sorted(set(consent.scope.split()) | set(scope.split())))
        consent.granted_at = utcnow()
    db.flush()
