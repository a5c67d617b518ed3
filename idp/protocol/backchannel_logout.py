"""OpenID Connect Back-Channel Logout 1.0: when a provider session ends, each
client that received tokens in it and registered a ``backchannel_logout_uri``
gets a signed logout token, so it can end its own session too.

The logout tokens are queued in the push outbox inside the transaction that
ends the session (:mod:`idp.security_events.delivery` sends them, retrying a
client that does not answer), so a crash or a slow relying party never loses
one nor delays the person's logout. Each token is signed when it is sent,
valid two minutes from then."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.clients.models import Client
from idp.login.models import SsoSession
from idp.protocol.tokens.models import TokenGrant
from idp.security_events import wakeup
from idp.security_events.models import DeliveryKind, PushDelivery
from idp.security_events.queue import new_jti

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def schedule(db: Session, sso: SsoSession) -> None:
    """Queue a logout token for each client of ``sso`` that asked for one."""
    clients = db.scalars(select(Client).where(
        Client.backchannel_logout_uri.is_not(None),
        Client.id.in_(select(TokenGrant.client_id).where(TokenGrant.session_id == sso.id))))
    for client in clients:
        queue_logout_token(db, client, sso.sid, sso.person_id)


def queue_logout_token(db: Session, client: Client, sid: str, subject: str) -> None:
    """One logout token for ``client`` about the provider session ``sid``
    (nothing when the client asked for none)."""
    if client.backchannel_logout_uri is None:
        return
    db.add(PushDelivery(kind=DeliveryKind.LOGOUT.value, client_id=client.id, jti=new_jti(),
                        claims={"aud": client.id, "sid": sid, "sub": subject,
                                "events": {EVENT: {}}}))
    wakeup.after_commit(db)
