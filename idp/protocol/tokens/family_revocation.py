"""Ending token families and single access tokens (RFC 7009, RFC 9700 §4.14)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.directory.models import utcnow
from idp.infrastructure import logs
from idp.protocol.tokens.models import RevokedAccessToken, TokenGrant


def revoke_grant(db: Session, grant_id: str, reason: str) -> int:
    """Revoke one family: its refresh tokens and the access tokens it issued."""
    revoked = _revoke(db, TokenGrant.id == grant_id, reason)
    if reason.endswith("_reuse"):
        logs.event("token.reuse_detected", "a spent token was used again: its family is "
                   "revoked", family=grant_id, reason=reason)
    return revoked


def revoke_session_grants(db: Session, session_id: int, reason: str) -> int:
    """Revoke every family issued under one SSO session (logout)."""
    return _revoke(db, TokenGrant.session_id == session_id, reason)


def revoke_code_grants(db: Session, code_id: int, reason: str) -> int:
    """Revoke what an authorization code produced (its second use: RFC 6749 §4.1.2)."""
    logs.event("token.reuse_detected", "an authorization code was used again: what it gave "
               "is revoked", reason=reason)
    return _revoke(db, TokenGrant.code_id == code_id, reason)


def revoke_person_grants(db: Session, person_id: str, reason: str) -> int:
    """Revoke every family of a person (suspension, password change)."""
    return _revoke(db, TokenGrant.person_id == person_id, reason)


def revoke_person_grants_but(db: Session, person_id: str, session_id: int | None,
                             reason: str) -> int:
    """Revoke every family of a person but those of one SSO session (a new password)."""
    others = (TokenGrant.person_id == person_id) & (
        TokenGrant.session_id.is_(None) | (TokenGrant.session_id != session_id))
    return _revoke(db, others if session_id is not None else TokenGrant.person_id == person_id,
                   reason)


def revoke_customer_grants(db: Session, person_id: str, customer_id: int, reason: str) -> int:
    """Revoke the families of a person that speak for one customer (removal)."""
    mine = (TokenGrant.person_id == person_id) & (TokenGrant.customer_id == customer_id)
    return _revoke(db, mine, reason)


def _revoke(db: Session, condition, reason: str) -> int:
    result = db.execute(update(TokenGrant).where(condition, TokenGrant.revoked_at.is_(None))
                        .values(revoked_at=utcnow(), revoked_reason=reason))
    return result.rowcount


def revoke_access_token(db: Session, jti: str, expires_at: datetime) -> None:
    """Remember one revoked access token until it expires anyway."""
    values = {"jti": jti, "expires_at": expires_at}
    dialect = db.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(RevokedAccessToken)
    db.execute(insert.values(**values).on_conflict_do_nothing(index_elements=["jti"]))
