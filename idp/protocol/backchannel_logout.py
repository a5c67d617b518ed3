"""OpenID Connect Back-Channel Logout 1.0: when a provider session ends, each
client that received tokens in it and registered a ``backchannel_logout_uri``
gets a signed logout token, so it can end its own session too.

Tokens are collected while the session ends (inside the request's
transaction) and sent once the request has finished without error, from a
thread, each POST bounded by a short timeout: a slow or absent relying party
never delays the person's logout. A failed delivery is logged (the client and
the status, never the token)."""

from __future__ import annotations

import logging
import secrets
import threading
import time
from dataclasses import dataclass

import requests
from flask import Flask, current_app, g
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.clients.models import Client
from idp.login.models import SsoSession
from idp.protocol.tokens.minting import sign
from idp.protocol.tokens.models import TokenGrant

EVENT = "http://schemas.openid.net/event/backchannel-logout"
TYP = "logout+jwt"
TIMEOUT = 3.0       # seconds per relying party
LIFETIME = 120      # seconds a logout token is valid

log = logging.getLogger("keyholder.backchannel")


@dataclass(frozen=True)
class Delivery:
    client_id: str
    uri: str
    logout_token: str


def logout_token(app: Flask, client: Client, sid: str, subject: str) -> str:
    now = int(time.time())
    claims = {"iss": app.config["KEYHOLDER"].ISSUER, "aud": client.id, "iat": now,
              "exp": now + LIFETIME, "jti": secrets.token_urlsafe(16), "sid": sid,
              "sub": subject, "events": {EVENT: {}}}
    return sign(app, client.id_token_signed_response_alg or "RS256", claims, TYP)


def schedule(db: Session, sso: SsoSession) -> None:
    """Collect the logout tokens for the clients of ``sso`` (sent after the request)."""
    clients = db.scalars(select(Client).where(
        Client.backchannel_logout_uri.is_not(None),
        Client.id.in_(select(TokenGrant.client_id).where(TokenGrant.session_id == sso.id))))
    pending = g.setdefault("backchannel_logouts", [])
    for client in clients:
        pending.append(Delivery(client.id, client.backchannel_logout_uri,
                                logout_token(current_app, client, sso.sid, sso.person_id)))


def _post(delivery: Delivery) -> None:
    try:
        answer = requests.post(delivery.uri, data={"logout_token": delivery.logout_token},
                               timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as error:
        log.warning("back-channel logout to client %s failed: %s", delivery.client_id,
                    type(error).__name__)
        return
    if answer.status_code != 200:
        log.warning("back-channel logout to client %s answered %s", delivery.client_id,
                    answer.status_code)


def send_pending(error: BaseException | None = None) -> None:
    """``teardown_request``: send what :func:`schedule` collected, unless the
    request failed (then the session did not end)."""
    pending = g.pop("backchannel_logouts", None)
    if not pending or error is not None:
        return
    for delivery in pending:
        threading.Thread(target=_post, args=(delivery,), daemon=True,
                         name="backchannel-logout").start()


def init_app(app: Flask) -> None:
    app.teardown_request(send_pending)
