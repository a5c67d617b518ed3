"""Minting tokens: JWT access tokens (RFC 9068), refresh tokens and families.

Every JWT is signed with the one active key of its algorithm and names it
with ``kid`` (joserfc would pick a random key from a key set otherwise)."""

from __future__ import annotations

import hashlib
import secrets
import time
from datetime import timedelta
from typing import Any

from flask import Flask
from joserfc import jwt

from idp.clients.models import Client
from idp.directory.models import Person, utcnow
from idp.infrastructure.timestamps import epoch
from idp.keys import key_store
from idp.protocol.tokens.models import RefreshToken, TokenGrant

ACCESS_TOKEN_TYP = "at+jwt"  # RFC 9068 §2.1
ACCESS_TOKEN_ALG = "ES256"  # fast to sign and to verify
CLIENT_CREDENTIALS_FAMILY = "cc"   # jti prefix of tokens without a family


def new_secret() -> str:
    """256 random bits, URL-safe (codes, refresh tokens, session secrets)."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def userinfo_audience(app: Flask) -> str:
    """The audience of an access token that names no resource: the
    provider's own UserInfo endpoint (RFC 9068 §3 asks for a default)."""
    return app.config["KEYHOLDER"].ISSUER + "/userinfo"


def audience(app: Flask, resources: list[str]) -> list[str] | str:
    """RFC 9068 §3: the resources the token is for, or the UserInfo endpoint."""
    return resources or userinfo_audience(app)


def sign(app: Flask, alg: str, claims: dict[str, Any], typ: str = "JWT") -> str:
    key = key_store(app).signing_key(alg)
    header = {"alg": alg, "kid": key.kid, "typ": typ}
    return jwt.encode(header, claims, key, algorithms=[alg])


def family_of(jti: str) -> str | None:
    """The token family named in an access token's ``jti``, if it has one."""
    family, _, _ = jti.partition(".")
    return None if family == CLIENT_CREDENTIALS_FAMILY else family


def access_token(app: Flask, *, client: Client, subject: str, scope: str,
                 family: TokenGrant | None, audience: list[str] | str,
                 extra: dict[str, Any]) -> tuple[str, int]:
    """A signed RFC 9068 access token and its lifetime in seconds."""
    settings = app.config["KEYHOLDER"]
    now = int(time.time())
    lifetime = settings.ACCESS_TOKEN_LIFETIME
    if family is not None:  # never outlive the family (its absolute limit)
        lifetime = max(1, min(lifetime, epoch(family.expires_at) - now))
    claims: dict[str, Any] = {
        "iss": settings.ISSUER, "sub": subject, "aud": audience, "client_id": client.id,
        "iat": now, "exp": now + lifetime,
        "jti": f"{family.id if family else CLIENT_CREDENTIALS_FAMILY}.{secrets.token_urlsafe(12)}",
    }
    if scope:
        claims["scope"] = scope
    if family is not None and family.auth_time is not None:
        claims["auth_time"] = epoch(family.auth_time)
    claims.update(extra)
    return sign(app, ACCESS_TOKEN_ALG, claims, ACCESS_TOKEN_TYP), lifetime


def new_family(app: Flask, *, client: Client, person: Person, scope: str, session_id: int | None,
               code_id: int | None, auth_time, amr: list[str], sid: str | None,
               customer_id: int | None, resources: list[str] = ()) -> TokenGrant:
    lifetime = app.config["KEYHOLDER"].REFRESH_TOKEN_LIFETIME
    return TokenGrant(id=secrets.token_urlsafe(16), client_id=client.id, person_id=person.id,
                      session_id=session_id, code_id=code_id, scope=scope, auth_time=auth_time,
                      amr=list(amr), sid=sid, customer_id=customer_id,
                      resources=list(resources), created_at=utcnow(),
                      expires_at=utcnow() + timedelta(seconds=lifetime))


def new_refresh_token(family: TokenGrant, scope: str) -> tuple[RefreshToken, str]:
    secret = new_secret()
    return RefreshToken(token_hash=digest(secret), grant_id=family.id, scope=scope), secret
