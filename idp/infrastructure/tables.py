"""Every table of the provider, imported in one place for Alembic and create_all."""

from idp.account.models import AccountLink, RecoveryCode
from idp.clients.models import Client
from idp.directory.models import AuditEvent, Customer, Membership, Person
from idp.keys.backends import SIGNING_KEY
from idp.login.models import SsoSession, ThrottleCounter
from idp.outbox.models import OutboxMessage
from idp.protocol.tokens.models import (
    AuthorizationCode,
    Consent,
    DeviceAuthorization,
    RefreshToken,
    RevokedAccessToken,
    TokenGrant,
)
from idp.security_events.models import EventStream, PushDelivery, StreamSubject

__all__ = [
    "SIGNING_KEY",
    "AccountLink",
    "AuditEvent",
    "AuthorizationCode",
    "Client",
    "Consent",
    "Customer",
    "DeviceAuthorization",
    "EventStream",
    "Membership",
    "OutboxMessage",
    "Person",
    "PushDelivery",
    "RecoveryCode",
    "RefreshToken",
    "RevokedAccessToken",
    "SsoSession",
    "StreamSubject",
    "ThrottleCounter",
    "TokenGrant",
]
