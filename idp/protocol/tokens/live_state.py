"""What the directory says of an access token *now*: one statement, read at
request time by the full path (the ORM session's connection) and by the
fast lane (an autocommit connection, prepared), so that both apply the same
rule ("Role changes count at once", "Fail closed", docs/security.md).

A token of a family: the family (revoked or not, whose person), the person
(active or suspended, the claims' sources), the membership the family speaks
for (gone when removed) and whether this very ``jti`` was revoked, in one
round trip. A client-credentials token has no family: only its ``jti``.

The rows may come from SQLAlchemy (enums and booleans converted) or straight
from the driver (strings, and 0/1 on SQLite): :func:`from_row` takes both."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, exists, select

from claims.plugins import MembershipView, PersonView
from claims.vocabulary import CustomerType, Role
from idp.directory.models import Customer, Membership, Person, PersonStatus
from idp.protocol.tokens.models import RevokedAccessToken, TokenGrant

_grant, _person = TokenGrant.__table__, Person.__table__
_member, _customer = Membership.__table__, Customer.__table__
_revoked = RevokedAccessToken.__table__

_JTI_REVOKED = exists().where(_revoked.c.jti == bindparam("jti")).label("jti_revoked")

# What a family's token is worth now: the family, its person, the membership
# it speaks for (a join, so that a removed one shows), in this order.
STATE_COLUMNS = (
    _grant.c.person_id, _grant.c.customer_id, _grant.c.revoked_at.is_not(None),
    _person.c.name, _person.c.email, _person.c.email_verified, _person.c.locale,
    _person.c.status, _member.c.role, _member.c.mobile, _customer.c.number,
    _customer.c.name, _customer.c.type)
FAMILY_JOIN = (
    _grant.outerjoin(_person, _person.c.id == _grant.c.person_id)
    .outerjoin(_member, and_(_member.c.person_id == _grant.c.person_id,
                             _member.c.customer_id == _grant.c.customer_id))
    .outerjoin(_customer, _customer.c.id == _member.c.customer_id))
FAMILY_STATE: Select = (select(*STATE_COLUMNS, _JTI_REVOKED).select_from(FAMILY_JOIN)
                        .where(_grant.c.id == bindparam("family")))
JTI_STATE: Select = select(_JTI_REVOKED)

# statement, parameters -> the first row, or None
Reader = Callable[[Select, dict[str, Any]], Sequence[Any] | None]


@dataclass(frozen=True)
class LiveState:
    """An access token's standing now."""

    jti_revoked: bool
    family_revoked: bool = False
    person: PersonView | None = None
    person_active: bool = True
    membership: MembershipView | None = None
    membership_removed: bool = False  # the family speaks for a customer the person left


def read(reader: Reader, subject: str, jti: str, family: str | None) -> LiveState | None:
    """The state of the token ``jti`` of ``family`` about ``subject``; None when
    the family is not ours or belongs to someone else (a forged pairing)."""
    if family is None:
        row = reader(JTI_STATE, {"jti": jti})
        return LiveState(jti_revoked=bool(row[0]))
    return from_row(subject, reader(FAMILY_STATE, {"family": family, "jti": jti}))


def from_row(subject: str, row: Sequence[Any] | None) -> LiveState | None:
    if row is None or row[0] != subject:
        return None
    (_, customer_id, family_revoked, name, email, email_verified, locale, status, role,
     mobile, number, customer_name, customer_type, jti_revoked) = row
    membership = None
    if role is not None:
        membership = MembershipView(number, customer_name, CustomerType(customer_type),
                                    Role(role), mobile)
    return LiveState(
        jti_revoked=bool(jti_revoked), family_revoked=bool(family_revoked),
        person=PersonView(subject, name, email, bool(email_verified), locale),
        person_active=PersonStatus(status) is PersonStatus.ACTIVE, membership=membership,
        membership_removed=customer_id is not None and membership is None)


__all__ = ["FAMILY_JOIN", "FAMILY_STATE", "JTI_STATE", "STATE_COLUMNS", "LiveState", "Reader",
           "from_row", "read"]
