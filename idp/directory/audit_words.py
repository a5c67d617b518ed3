"""The audit trail in plain sentences, in the language of the page:
"Mary Peeters became an administrator by self-promotion." Never an action's
code (``membership.promoted``): an action this module does not know gets a
neutral sentence.

People are named: the actor is ``person:<sub>`` (his name), ``operator``
("our helpdesk") or ``system``; the viewer is "you". :func:`sentences` names
a page of events with one query. The sentences themselves are
:mod:`idp.directory.audit_sentences`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from idp.directory import audit_sentences as say
from idp.directory.audit_sentences import Said
from idp.directory.models import AuditEvent, Person
from idp.directory.services import OPERATOR, AuditAction
from idp.i18n import LazyText as LazyString
from idp.i18n import words
from idp.infrastructure import database

PERSON = "person:"


@dataclass(frozen=True)
class _Event:
    event: AuditEvent
    names: Mapping[str, str]
    viewer_id: str | None

    @property
    def actor_id(self) -> str | None:
        actor = self.event.actor or ""
        return actor.removeprefix(PERSON) if actor.startswith(PERSON) else None

    @property
    def by_self(self) -> bool:
        return self.actor_id is not None and self.actor_id == self.event.person_id

    def detail(self, key: str) -> object:
        details = self.event.details
        return details.get(key) if isinstance(details, dict) else None

    def name(self, person_id: str | None) -> str:
        if person_id is not None and person_id in self.names:
            return self.names[person_id]
        return str(say.FORMER_MEMBER)

    def actor(self) -> str:
        if self.event.actor == OPERATOR:
            return str(say.HELPDESK)
        if self.actor_id is None:
            return str(say.SYSTEM)
        return self.name(self.actor_id)


def _promoted(e: _Event) -> Said:
    how = e.detail("how")
    if how == "self-promotion" or e.by_self:
        return say.SELF_PROMOTED
    return say.HANDED_OVER_TO if how == "handed over" else say.MADE_ADMINISTRATOR


def _demoted(e: _Event) -> Said:
    if not e.by_self:  # an undone self-promotion has its own event too
        return say.MADE_USER
    return say.HANDED_OVER if e.detail("how") == "handed over" else say.STEPPED_DOWN


def _password(e: _Event) -> Said:
    if not e.by_self:
        return say.PASSWORD_SET
    return say.PASSWORD_RESET if e.detail("how") == "reset" else say.PASSWORD_CHANGED


def _invitation_accepted(e: _Event) -> Said:
    inviter = e.detail("invited_by")
    if e.viewer_id is not None and inviter == PERSON + e.viewer_id:
        return say.YOUR_INVITATION_ACCEPTED
    return say.INVITATION_ACCEPTED


SENTENCES: dict[str, Said | Callable[[_Event], Said]] = {
    AuditAction.CUSTOMER_ADDED: say.CUSTOMER_ADDED,
    AuditAction.PERSON_ADDED: say.PERSON_ADDED,
    AuditAction.MEMBERSHIP_ADDED: lambda e: say.JOINED if e.by_self else say.MEMBER_ADDED,
    AuditAction.PROMOTED: _promoted,
    AuditAction.DEMOTED: _demoted,
    AuditAction.PROMOTION_REFUSED:
        lambda e: say.REFUSED if e.detail("refusal") in say.REASONS else say.REFUSED_PLAIN,
    AuditAction.INTENT_ANNOUNCED: say.INTENT_ANNOUNCED,
    AuditAction.MEMBER_EXCLUDED: say.EXCLUDED,
    AuditAction.MEMBER_INCLUDED: say.INCLUDED,
    AuditAction.SELF_PROMOTION_CLOSED: say.SELF_PROMOTION_CLOSED,
    AuditAction.SELF_PROMOTION_OPENED: say.SELF_PROMOTION_OPENED,
    AuditAction.KEY_REVOKED: say.KEY_REVOKED,
    AuditAction.MEMBERSHIP_REMOVED: say.REMOVED,
    AuditAction.PERSON_SUSPENDED: say.SUSPENDED,
    AuditAction.PERSON_UNSUSPENDED: say.UNSUSPENDED,
    AuditAction.PASSWORD_CHANGED: _password,
    "membership.promotion_undone": say.PROMOTION_UNDONE,
    "customer.second_factor_required": say.SECOND_FACTOR_REQUIRED,
    "customer.second_factor_optional": say.SECOND_FACTOR_OPTIONAL,
    "membership.invited": say.INVITED,
    "membership.invitation_accepted": _invitation_accepted,
    "membership.invitation_withdrawn": say.INVITATION_WITHDRAWN,
    "person.email_verified": say.EMAIL_VERIFIED,
    "person.verification_sent": say.VERIFICATION_SENT,
    "person.signed_in": say.SIGNED_IN,
    "person.session_ended": say.SESSION_ENDED,
    "person.client_disconnected": say.CLIENT_DISCONNECTED,
    "person.second_factor_enabled": say.SECOND_FACTOR_ENABLED,
    "person.second_factor_disabled":
        lambda e: say.SECOND_FACTOR_DISABLED if e.by_self else say.SECOND_FACTOR_REMOVED,
    "person.recovery_codes_renewed": say.RECOVERY_CODES_RENEWED,
    "person.recovery_code_used": say.RECOVERY_CODE_USED,
    "person.removed": say.PERSON_REMOVED,
    "client.removed": say.CLIENT_REMOVED,
}


def _said(e: _Event) -> Said:
    found = SENTENCES.get(e.event.action)
    if found is None:
        return say.CHANGE_FOR if e.event.person_id else say.CHANGE
    return found if isinstance(found, Said) else found(e)


def _form(said: Said, e: _Event) -> LazyString:
    if e.viewer_id is not None:
        if said.you_did is not None and e.actor_id == e.viewer_id:
            return said.you_did
        if said.to_you is not None and e.event.person_id == e.viewer_id:
            return said.to_you
    return said.they


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _words(e: _Event) -> dict[str, str]:
    inviter = _text(e.detail("invited_by"))
    refusal = e.detail("refusal")
    return {
        "actor": e.actor(),
        "person": e.name(e.event.person_id),
        "email": _text(e.detail("email")),
        "client": _text(e.detail("client_name")) or _text(e.detail("client_id")),
        "inviter": e.name(inviter.removeprefix(PERSON)) if inviter.startswith(PERSON)
        else str(say.HELPDESK),
        "role": words.role(e.detail("role")),
        "type": words.customer_type(e.detail("type")),
        "reason": str(say.REASONS[refusal]) if isinstance(refusal, str) and refusal in say.REASONS
        else "",
    }


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _word_for(e: _Event) -> str:
    return _capitalised(str(_form(_said(e), e)) % _words(e))


def people_in(events: Iterable[AuditEvent]) -> set[str]:
    """The ids of the people the events speak of (person, actor, inviter)."""
    ids: set[str] = set()
    for event in events:
        details = event.details if isinstance(event.details, dict) else {}
        if event.person_id:
            ids.add(event.person_id)
        for actor in (event.actor, details.get("invited_by")):
            if isinstance(actor, str) and actor.startswith(PERSON):
                ids.add(actor.removeprefix(PERSON))
    return ids


def names_of(db: Session, events: Iterable[AuditEvent]) -> dict[str, str]:
    """person id -> name, for every person ``events`` speak of: one query."""
    ids = sorted(people_in(events))
    if not ids:
        return {}
    return dict(db.execute(select(Person.id, Person.name).where(Person.id.in_(ids))).all())


def sentence(event: AuditEvent, *, viewer_id: str | None = None,
             names: Mapping[str, str] | None = None) -> str:
    """``event`` as a sentence in the current language; ``viewer_id``: the
    person reading it, who is "you". Without ``names``, they are read from
    the event's session (:func:`sentences` reads them once for many events)."""
    if names is None:
        names = names_of(object_session(event) or database.session(), [event])
    return _word_for(_Event(event, names, viewer_id))


def sentences(db: Session, events: Sequence[AuditEvent], *, viewer_id: str | None = None
              ) -> list[str]:
    """:func:`sentence` of each event, the names read in one query."""
    names = names_of(db, events)
    return [sentence(event, viewer_id=viewer_id, names=names) for event in events]
