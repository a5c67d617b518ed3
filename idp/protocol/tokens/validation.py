"""What a presented token is worth now: for UserInfo, introspection and revocation.

An access token is checked as a JWT first (our key, ``typ: at+jwt``, issuer,
expiry) and then against the directory and the revocations, so that a
revoked family, a revoked ``jti`` or a suspended person makes it inactive at
once ("Role changes count at once", docs/security.md). A refresh token is
looked up by its hash."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased, joinedload

from idp.clients.models import Client
from idp.clients.registry import query_client
from idp.directory.models import Membership, Person
from idp.infrastructure.timestamps import epoch
from idp.keys import key_store
from idp.protocol.claims_release import membership_for
from idp.protocol.tokens import minting
from idp.protocol.tokens.models import RefreshToken, RevokedAccessToken, TokenGrant

MAX_TOKEN_LENGTH = 8192
ACCESS_TOKEN_ALGORITHMS = [minting.ACCESS_TOKEN_ALG]


@dataclass
class PresentedToken:
    """A token we issued, with what is known of it now. Implements what
    Authlib's TokenMixin asks of the token objects of its endpoints."""

    kind: str  # "access_token" or "refresh_token"
    client_id: str
    scope: str
    expires_at: int
    issued_at: int
    subject: str
    audience: list[str]
    person: Person | None = None
    family: TokenGrant | None = None
    membership: Membership | None = None
    jti: str | None = None
    revoked: bool = False
    claims: dict[str, Any] = field(default_factory=dict)

    # -- Authlib TokenMixin ------------------------------------------------------

    def check_client(self, client: Client) -> bool:
        return self.client_id == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return max(0, self.expires_at - int(time.time()))

    def is_expired(self) -> bool:
        return self.expires_at <= int(time.time())

    def is_revoked(self) -> bool:
        if self.revoked:
            return True
        if self.family is not None and self.family.revoked_at is not None:
            return True
        if self.family is not None and self.family.customer_id is not None \
                and self.membership is None:
            return True  # the membership the token speaks for was removed
        return self.person is not None and not self.person.is_active

    def get_user(self) -> Person | None:
        return self.person

    def get_client(self) -> Client | None:
        return query_client(self.client_id)

    def is_for(self, client: Client) -> bool:
        """RFC 7662 §4: only the client it was issued to or its audience (a
        service, by its resource URI, RFC 8707) may see it."""
        return (client.id == self.client_id or client.id in self.audience
                or (client.resource_uri is not None and client.resource_uri in self.audience))


def _looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and len(token) <= MAX_TOKEN_LENGTH


def published_key(app: Flask):
    """joserfc key resolver: the published key the header names, or refuse
    (no kid, an unknown or revoked kid: never a guess, never a key from the
    token). One resolver for every JWT we are shown: access tokens, hints."""
    store = key_store(app)

    def resolve(token):
        kid = token.headers().get("kid")
        key = store.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidKeyIdError()
        return key

    return resolve


def access_token(app: Flask, db: Session, token: str) -> PresentedToken | None:
    """The access token's state, or None if it is not a valid token of ours."""
    if not _looks_like_jwt(token):
        return None
    try:
        decoded = jwt.decode(token, published_key(app), algorithms=ACCESS_TOKEN_ALGORITHMS)
        typ = decoded.header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in {"at+jwt", "application/at+jwt"}:
            return None  # an ID token is never an access token (RFC 9068 §4)
        JWTClaimsRegistry(iss={"essential": True, "value": app.config["KEYHOLDER"].ISSUER},
                          exp={"essential": True}, jti={"essential": True},
                          client_id={"essential": True}, sub={"essential": True}).validate(
            decoded.claims)
    except (JoseError, ValueError, TypeError):
        return None
    claims = decoded.claims
    audience = claims.get("aud", [])
    presented = PresentedToken(
        kind="access_token", client_id=claims["client_id"], scope=claims.get("scope", ""),
        expires_at=claims["exp"], issued_at=claims.get("iat", 0), subject=claims["sub"],
        audience=[audience] if isinstance(audience, str) else list(audience),
        jti=claims["jti"], claims=claims)
    # One round trip: the revocation of this token, its family and its person.
    revoked = exists().where(RevokedAccessToken.jti == claims["jti"]).label("revoked")
    family_id = minting.family_of(claims["jti"])
    if family_id is None:
        presented.revoked = db.scalar(select(revoked))
        return presented
    member = aliased(Membership)
    row = db.execute(
        select(TokenGrant, member, revoked).where(TokenGrant.id == family_id)
        .outerjoin(member, and_(member.person_id == TokenGrant.person_id,
                                member.customer_id == TokenGrant.customer_id))
        .options(joinedload(TokenGrant.person), joinedload(member.customer))).first()
    if row is None or row[0].person_id != claims["sub"]:
        return None
    presented.family, presented.membership, presented.revoked = row
    presented.person = presented.family.person
    return presented


def refresh_token(db: Session, token: str) -> PresentedToken | None:
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.scalar(select(RefreshToken).where(RefreshToken.token_hash == minting.digest(token)))
    if row is None:
        return None
    family = row.grant
    return PresentedToken(
        membership=membership_for(db, family.person, family.customer_id),
        kind="refresh_token", client_id=family.client_id, scope=row.scope,
        expires_at=epoch(family.expires_at), issued_at=epoch(row.created_at),
        subject=family.person_id or family.client_id, audience=[family.client_id],
        person=family.person, family=family, revoked=row.used_at is not None)


def find(app: Flask, db: Session, token: str, hint: str | None) -> PresentedToken | None:
    """Either kind, trying the hinted one first (RFC 7009 §2.1, RFC 7662 §2.1)."""
    if not isinstance(token, str) or not token:
        return None
    order = [refresh_token, None] if hint == "refresh_token" else [None, refresh_token]
    for lookup in order:
        found = access_token(app, db, token) if lookup is None else lookup(db, token)
        if found is not None:
            return found
    return None


__all__ = ["PresentedToken", "access_token", "find", "published_key", "refresh_token"]
