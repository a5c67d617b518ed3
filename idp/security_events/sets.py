"""Signing a queued delivery when it goes out: a Security Event Token (RFC
8417 with SSF §4.1's profile: ``typ`` ``secevent+jwt``, ``iss``, ``jti``,
``iat``, never ``exp`` nor ``sub``), or a back-channel logout token (OIDC
Back-Channel Logout 1.0 §2.4, ``typ`` ``logout+jwt``, valid two minutes from
its sending). Signed with the key active at that moment and its ``kid``."""

from __future__ import annotations

import time

from flask import Flask

from claims.security_event_types import SET_TYPE
from idp.infrastructure.timestamps import epoch
from idp.protocol.tokens.minting import ACCESS_TOKEN_ALG, sign
from idp.security_events.models import DeliveryKind, PushDelivery

LOGOUT_TOKEN_TYPE = "logout+jwt"
LOGOUT_TOKEN_LIFETIME = 120  # seconds


def signed(app: Flask, row: PushDelivery, logout_alg: str = "RS256") -> str:
    issuer = app.config["KEYHOLDER"].ISSUER
    if row.kind == DeliveryKind.LOGOUT.value:
        now = int(time.time())
        claims = {**row.claims, "iss": issuer, "jti": row.jti, "iat": now,
                  "exp": now + LOGOUT_TOKEN_LIFETIME}
        return sign(app, logout_alg, claims, LOGOUT_TOKEN_TYPE)
    # iat: when the event was queued, the moment the provider asserts it.
    claims = {**row.claims, "iss": issuer, "jti": row.jti, "iat": epoch(row.created_at)}
    return sign(app, ACCESS_TOKEN_ALG, claims, SET_TYPE)
