"""The claims-plugin interface: how anyone adds claims to Keyholder's tokens.

A plugin is found through the entry-point group ``keyholder.claims`` (a class
or an instance)::

    [project.entry-points."keyholder.claims"]
    loyalty = "acme_loyalty:LoyaltyClaims"

It declares the scopes it serves and the claims each scope releases, and
computes them for one :class:`ClaimsRequest` (person, membership, client,
granted scopes, purpose). The provider calls it for ID tokens, UserInfo, JWT
access tokens and introspection, and keeps only the claims the plugin
declared for the scopes actually granted. A plugin never sees the provider's
database; it gets plain views, so it can live in another package.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from claims.vocabulary import Channel, CustomerType, Role

ENTRY_POINT_GROUP = "keyholder.claims"


class Purpose(StrEnum):
    """What the claims are for."""

    ID_TOKEN = "id_token"
    USERINFO = "userinfo"
    ACCESS_TOKEN = "access_token"
    INTROSPECTION = "introspection"


@dataclass(frozen=True)
class PersonView:
    subject: str
    name: str
    email: str
    email_verified: bool
    locale: str


@dataclass(frozen=True)
class MembershipView:
    """The customer this authorization speaks for, and the person's place in it."""

    customer_number: str
    customer_name: str
    customer_type: CustomerType
    role: Role
    mobile: str | None  # the member's own mobile under this customer (E.164)


@dataclass(frozen=True)
class ClientView:
    client_id: str
    client_type: str
    channel: Channel | None  # None for clients acting for themselves (services)


@dataclass(frozen=True)
class ClaimsRequest:
    purpose: Purpose
    person: PersonView
    membership: MembershipView | None  # None: the person belongs to no customer
    client: ClientView
    scopes: frozenset[str]


@runtime_checkable
class ClaimsPlugin(Protocol):
    name: str
    # scope -> the claims it releases; a plugin may serve a standard scope too.
    scopes: Mapping[str, tuple[str, ...]]

    def claims(self, request: ClaimsRequest) -> Mapping[str, Any]:
        """The claims for ``request``; the provider drops any not declared
        for the granted scopes."""
        ...
