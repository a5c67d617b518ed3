"""Refresh-token rotation in two statements, for the fast lane on PostgreSQL.

The full path (:mod:`idp.protocol.grants.refresh_token`) reads the token,
its family, person and membership through the ORM, consumes the token with a
conditional UPDATE and adds the next one, in one transaction. Here the same
happens in two round trips: :data:`REFRESH_STATE` reads everything at once
(the family's live state is :mod:`live_state`'s own columns), and
:data:`ROTATE` consumes the token and adds the next one in one statement (a
data-modifying ``WITH``), which inserts nothing unless this request consumed
the token: of parallel uses, one wins (RFC 9700 §4.14.2). Anything but a
clean rotation is left to the full path, which detects reuse and revokes
the family."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Insert, Select, bindparam, false, insert, select, update

from idp.protocol.tokens import live_state
from idp.protocol.tokens.models import RefreshToken, TokenGrant

_token, _grant = RefreshToken.__table__, TokenGrant.__table__

REFRESH_STATE: Select = (
    select(_token.c.id, _token.c.used_at.is_not(None), _token.c.scope, _grant.c.id,
           _grant.c.client_id, _grant.c.expires_at, _grant.c.auth_time, _grant.c.amr,
           _grant.c.sid, _grant.c.resources, *live_state.STATE_COLUMNS, false())
    .select_from(_token.join(live_state.FAMILY_JOIN, _grant.c.id == _token.c.grant_id))
    .where(_token.c.token_hash == bindparam("token_hash")))

_spent = (update(_token).where(_token.c.id == bindparam("token_id"), _token.c.used_at.is_(None))
          .values(used_at=bindparam("now")).returning(_token.c.grant_id).cte("spent"))
ROTATE: Insert = (
    insert(_token).from_select(
        ["token_hash", "grant_id", "scope", "created_at"],
        select(bindparam("new_hash"), _spent.c.grant_id, bindparam("scope"), bindparam("now")))
    .returning(_token.c.id))


@dataclass(frozen=True)
class Family:
    """What minting and the ID token read of a family (as of ``TokenGrant``)."""

    id: str
    client_id: str
    customer_id: int | None
    expires_at: datetime
    auth_time: datetime | None
    amr: list[str]
    sid: str | None
    resources: list[str]


@dataclass(frozen=True)
class Presented:
    token_id: int
    spent: bool
    scope: str
    family: Family
    state: live_state.LiveState

    def usable_by(self, client_id: str, now: datetime) -> bool:
        """A clean rotation: this client's, unspent, the family alive and
        unexpired, the person active, the membership still there."""
        state = self.state
        return (self.family.client_id == client_id and not self.spent
                and not state.family_revoked and self.family.expires_at > now
                and state.person is not None and state.person_active
                and not state.membership_removed)


def find(reader: live_state.Reader, token_hash: str) -> Presented | None:
    row = reader(REFRESH_STATE, {"token_hash": token_hash})
    if row is None or row[10] is None:  # a family without a person: not for the lane
        return None
    (token_id, spent, scope, family_id, client_id, expires_at, auth_time, amr, sid,
     resources) = row[:10]
    state = live_state.from_row(row[10], row[10:])
    if state is None:
        return None
    return Presented(token_id, bool(spent), scope,
                     Family(family_id, client_id, row[11], expires_at, auth_time,
                            list(amr or []), sid, list(resources or [])), state)


def rotate(reader: live_state.Reader, token_id: int, new_hash: str, scope: str,
           now: datetime) -> bool:
    """Consume the token and add the next one; False if another use was first."""
    values: dict[str, Any] = {"token_id": token_id, "new_hash": new_hash, "scope": scope,
                              "now": now}
    return reader(ROTATE, values) is not None
