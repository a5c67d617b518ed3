"""What a presented token is worth now: for UserInfo, introspection and revocation.

An access token is checked as a JWT first (our key, ``typ: at+jwt``, issuer,
expiry), memoised by its exact string (:mod:`verification_memo`), and then
against the directory and the revocations (:mod:`live_state`, read at every
request), so that a revoked family, a revoked ``jti``, a removed membership
or a suspended person makes it inactive at once ("Role changes count at
once", docs/security.md). A refresh token is looked up by its hash.

The fast lane (:mod:`idp.protocol.lane`) uses the same functions: only the
connection that reads the live state differs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from joserfc import jwt
from joserfc.errors import ExpiredTokenError, InvalidClaimError, InvalidKeyIdError, JoseError
from joserfc.jwt import JWTClaimsRegistry
from sqlalchemy import select
from sqlalchemy.orm import Session

from claims.plugins import MembershipView, PersonView
from idp.clients.models import Client
from idp.clients.registry import query_client
from idp.infrastructure.timestamps import epoch
from idp.keys import key_store
from idp.protocol.claims_release import membership_for, membership_view, person_view
from idp.protocol.tokens import live_state, minting
from idp.protocol.tokens.models import RefreshToken
from idp.protocol.tokens.verification_memo import VerificationMemo

MAX_TOKEN_LENGTH = 8192
ACCESS_TOKEN_ALGORITHMS = [minting.ACCESS_TOKEN_ALG]
ACCESS_TOKEN_TYPES = frozenset({"at+jwt", "application/at+jwt"})
EXTENSION = "keyholder.access_token_checks"


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
    person: PersonView | None = None
    membership: MembershipView | None = None
    family_id: str | None = None
    jti: str | None = None
    revoked: bool = False  # the token itself or its family (a refresh token: or spent)
    person_active: bool = True
    membership_removed: bool = False
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
        return self.revoked or self.membership_removed or not self.person_active

    def get_user(self) -> PersonView | None:
        return self.person

    def get_client(self) -> Client | None:
        return query_client(self.client_id)

    def is_for(self, client: Client) -> bool:
        """RFC 7662 §4: only the client it was issued to or its audience (a
        service, by its resource URI, RFC 8707) may see it."""
        return (client.id == self.client_id or client.id in self.audience
                or (client.resource_uri is not None and client.resource_uri in self.audience))


class SkewTolerantClaims(JWTClaimsRegistry):
    """Our nodes' clocks may differ a little: ``iat`` and ``nbf`` up to the
    leeway in the future are accepted (``KEYHOLDER_CLOCK_LEEWAY``), while
    ``exp`` stays strict, so a token never lives longer than it says."""

    def validate_exp(self, value: object) -> None:
        # joserfc's own rule with no leeway (the registry is shared by threads:
        # its leeway is not ours to change for a moment).
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidClaimError("exp", "Claim 'exp' must be a NumericDate value")
        if value <= self.now:
            raise ExpiredTokenError("exp")


class AccessTokenChecks:
    """The JWT checks of our access tokens for one app, with its memo."""

    def __init__(self, app: Flask, memo_size: int) -> None:
        self._app = app  # the key store is looked up at each use: tests may replace it
        self.registry = SkewTolerantClaims(
            leeway=app.config["KEYHOLDER"].CLOCK_LEEWAY,
            iss={"essential": True, "value": app.config["KEYHOLDER"].ISSUER},
            exp={"essential": True}, jti={"essential": True}, client_id={"essential": True},
            sub={"essential": True})
        self.memo = VerificationMemo(memo_size)

    def claims(self, token: str) -> dict[str, Any] | None:
        """The claims of ``token`` if it is a valid access token of ours now
        (signature, ``typ``, issuer, expiry), else None."""
        if token.count(".") != 2 or len(token) > MAX_TOKEN_LENGTH:
            return None
        store = key_store(self._app)
        revision = store.revision()
        hit = self.memo.get(token, revision, self._still_valid)
        if hit is not None:
            return hit
        try:
            decoded = jwt.decode(token, published_key(store),
                                 algorithms=ACCESS_TOKEN_ALGORITHMS)
            typ = decoded.header.get("typ")
            if not isinstance(typ, str) or typ.lower() not in ACCESS_TOKEN_TYPES:
                return None  # an ID token is never an access token (RFC 9068 §4)
            self.registry.validate(decoded.claims)
        except (JoseError, ValueError, TypeError):
            return None
        self.memo.put(token, revision, decoded.header["kid"], decoded.claims)
        return decoded.claims

    def _still_valid(self, kid: str, claims: dict[str, Any]) -> bool:
        # Of the registry's rules only expiry turns a valid token invalid with
        # time (no leeway: ``exp <= now`` is expired, as joserfc decides).
        if claims["exp"] <= time.time():
            return False
        return key_store(self._app).public_key(kid) is not None


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = AccessTokenChecks(
        app, app.config["KEYHOLDER"].VERIFICATION_MEMO_SIZE)


def checks(app: Flask) -> AccessTokenChecks:
    return app.extensions[EXTENSION]


def published_key(store):
    """joserfc key resolver: the published key the header names, or refuse
    (no kid, an unknown or revoked kid: never a guess, never a key from the
    token). One resolver for every JWT we are shown: access tokens, hints."""

    def resolve(token):
        kid = token.headers().get("kid")
        key = store.public_key(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidKeyIdError()
        return key

    return resolve


def presented(claims: dict[str, Any], state: live_state.LiveState) -> PresentedToken:
    """An access token's claims and its live state, as one token object."""
    audience = claims.get("aud", [])
    return PresentedToken(
        kind="access_token", client_id=claims["client_id"], scope=claims.get("scope", ""),
        expires_at=claims["exp"], issued_at=claims.get("iat", 0), subject=claims["sub"],
        audience=[audience] if isinstance(audience, str) else list(audience),
        jti=claims["jti"], family_id=minting.family_of(claims["jti"]), claims=claims,
        person=state.person, membership=state.membership,
        revoked=state.jti_revoked or state.family_revoked, person_active=state.person_active,
        membership_removed=state.membership_removed)


def access_token(app: Flask, db: Session, token: str) -> PresentedToken | None:
    """The access token's state, or None if it is not a valid token of ours."""
    claims = checks(app).claims(token)
    if claims is None:
        return None
    state = live_state.read(lambda statement, values: db.execute(statement, values).first(),
                            claims["sub"], claims["jti"], minting.family_of(claims["jti"]))
    return None if state is None else presented(claims, state)


def refresh_token(db: Session, token: str) -> PresentedToken | None:
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    row = db.scalar(select(RefreshToken).where(RefreshToken.token_hash == minting.digest(token)))
    if row is None:
        return None
    family = row.grant
    person = family.person
    membership = membership_for(db, person, family.customer_id)
    return PresentedToken(
        kind="refresh_token", client_id=family.client_id, scope=row.scope,
        expires_at=epoch(family.expires_at), issued_at=epoch(row.created_at),
        subject=family.person_id or family.client_id, audience=[family.client_id],
        person=person_view(person) if person is not None else None,
        membership=membership_view(membership), family_id=family.id,
        revoked=row.used_at is not None or family.revoked_at is not None,
        person_active=person is None or person.is_active,
        membership_removed=family.customer_id is not None and membership is None)


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


__all__ = ["AccessTokenChecks", "PresentedToken", "access_token", "checks", "find",
           "init_app", "presented", "published_key", "refresh_token"]
