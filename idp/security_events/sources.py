"""Where security events come from: the audit trail. Every change of what a
token says and every suspension is audited (:meth:`Directory.record`); this
listener turns the audit event into security events in the same transaction,
with the audit event's id as their ``txn`` (SSF §4.1.8). Logout, which is
not audited, queues its own (:mod:`idp.login.sessions`)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from claims.plugins import MembershipView
from claims.vocabulary import CustomerType, Role
from idp.directory import services
from idp.directory.models import AuditEvent, Customer, Membership, Person
from idp.directory.services import AuditAction
from idp.protocol.claims_release import membership_view
from idp.security_events import queue
from idp.security_events.models import EventStream

ROLE_CHANGES = {AuditAction.PROMOTED.value: Role.USER,        # the role it had before
                AuditAction.DEMOTED.value: Role.ADMINISTRATOR}
# The credential changes, as CAEP §3.3 types them (the second factor's audit
# actions are idp.account.totp's).
CREDENTIALS = {AuditAction.PASSWORD_CHANGED.value: ("password", "update"),
               "person.second_factor_enabled": ("app", "create"),
               "person.second_factor_disabled": ("app", "delete")}
REPORTED = {*ROLE_CHANGES, *CREDENTIALS, AuditAction.MEMBERSHIP_REMOVED.value,
            AuditAction.PERSON_SUSPENDED.value}


def on_audit(db: Session, event: AuditEvent) -> None:
    if event.action not in REPORTED or event.person_id is None:
        return
    if not db.scalar(select(exists().where(EventStream.id.is_not(None)))):
        return  # no receiver at all: nothing to tell anyone
    db.flush()  # the audit event's id is the txn
    txn = str(event.id)
    person = db.get(Person, event.person_id)
    if event.action in CREDENTIALS:
        credential_type, change_type = CREDENTIALS[event.action]
        queue.credential_changed(db, person.id, txn=txn, credential_type=credential_type,
                                 change_type=change_type,
                                 initiating=queue.initiating_entity(event.actor, person.id))
        return
    if event.action == AuditAction.PERSON_SUSPENDED.value:
        queue.session_revoked(db, person.id, txn=txn, reason="The account was suspended.",
                              initiating=queue.initiating_entity(event.actor, person.id))
        return
    customer = db.get(Customer, event.customer_id)
    if event.action == AuditAction.MEMBERSHIP_REMOVED.value:
        before = MembershipView(customer.number, customer.name, CustomerType(customer.type),
                                Role(event.details.get("role", Role.USER.value)), None)
        after = None
    else:
        after = membership_view(db.scalar(select(Membership).where(
            Membership.person_id == person.id, Membership.customer_id == customer.id)))
        if after is None:
            return
        before = queue.with_role(after, ROLE_CHANGES[event.action])
    queue.claims_changed(db, person, customer, before, after, actor=event.actor, txn=txn)


def install() -> None:
    if on_audit not in services.audit_listeners:
        services.audit_listeners.append(on_audit)
