"""The one place every token and endpoint draws its claims from.

ID tokens, UserInfo, JWT access tokens and introspection all ask
:func:`release` for the claims of (person, membership, client, scopes); scopes
decide what is released (OIDC Core §5.4). The standard claims are ours; all
others come from the claims plugins of the ``keyholder.claims`` entry-point
group (:mod:`claims.plugins`), our customer claims among them. A plugin can
only release the claims it declared for the scopes granted, and never a
registered JWT claim (``sub``, ``iss``, ``aud``...): a client cannot make a
plugin set ``role`` or ``customer_number``, and neither can a plugin forge
who the token is about.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from claims.plugins import (
    ENTRY_POINT_GROUP,
    ClaimsPlugin,
    ClaimsRequest,
    ClientView,
    MembershipView,
    PersonView,
    Purpose,
)
from idp.clients.models import CHANNELS, Client
from idp.directory.models import Membership, Person
from idp.protocol.scopes import STANDARD_SCOPES, set_supported_scopes

EXTENSION = "keyholder.claims_plugins"
RESERVED = frozenset({"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "auth_time", "nonce",
                      "acr", "amr", "azp", "sid", "at_hash", "c_hash", "client_id", "scope",
                      "cnf", "act", "may_act", "token_type", "active"})

__all__ = ["Purpose", "client_view", "load_plugins", "membership_for", "membership_view",
           "person_view", "plugins", "release", "release_views", "supported_claims"]


class PluginError(RuntimeError):
    """A claims plugin cannot be used; the provider does not start without it."""


def _check(plugin: Any, name: str) -> ClaimsPlugin:
    if not isinstance(plugin, ClaimsPlugin):
        raise PluginError(f"claims plugin {name!r} lacks name, scopes or claims()")
    standard = {c for claims in STANDARD_SCOPES.values() for c in claims}
    for scope, names in plugin.scopes.items():
        clash = (set(names) & (RESERVED | standard))
        if clash:
            raise PluginError(f"claims plugin {name!r} may not release {sorted(clash)} "
                              f"(scope {scope!r})")
    return plugin


def load_plugins(app: Flask) -> list[ClaimsPlugin]:
    """Load every plugin of the entry-point group; two plugins may not
    release the same claim."""
    plugins: list[ClaimsPlugin] = []
    owners: dict[str, str] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        try:
            loaded = entry.load()
        except Exception as error:  # a broken plugin stops the start, loudly
            raise PluginError(f"claims plugin {entry.name!r} cannot be loaded: {error}") from error
        plugin = _check(loaded() if isinstance(loaded, type) else loaded, entry.name)
        for names in plugin.scopes.values():
            for claim in names:
                if owners.setdefault(claim, entry.name) != entry.name:
                    raise PluginError(f"claims plugins {owners[claim]!r} and {entry.name!r} "
                                      f"both release {claim!r}")
        plugins.append(plugin)
    app.extensions[EXTENSION] = plugins
    set_supported_scopes(app, (scope for plugin in plugins for scope in plugin.scopes))
    return plugins


def membership_for(db: Session, person: Person | None, customer_id: int | None
                   ) -> Membership | None:
    """The person's membership of the customer a token family speaks for, now."""
    if person is None or customer_id is None:
        return None
    return db.scalar(select(Membership).where(Membership.person_id == person.id,
                                              Membership.customer_id == customer_id)
                     .options(joinedload(Membership.customer)))


def plugins(app: Flask) -> list[ClaimsPlugin]:
    return app.extensions[EXTENSION]


def _plugins() -> list[ClaimsPlugin]:
    return plugins(current_app)


def supported_claims() -> list[str]:
    """Every claim this provider can release (discovery's ``claims_supported``)."""
    standard = {c for claims in STANDARD_SCOPES.values() for c in claims}
    plugin = {c for p in _plugins() for names in p.scopes.values() for c in names}
    return sorted(standard | plugin | {"iss", "aud", "exp", "iat", "auth_time", "nonce", "amr",
                                       "sid", "azp", "at_hash"})


def person_view(person: Person) -> PersonView:
    return PersonView(person.id, person.name, person.email, person.email_verified, person.locale)


def membership_view(membership: Membership | None) -> MembershipView | None:
    if membership is None:
        return None
    customer = membership.customer
    return MembershipView(customer.number, customer.name, customer.type, membership.role,
                          membership.mobile)


def client_view(client: Client) -> ClientView:
    return ClientView(client.id, client.type.value, CHANNELS.get(client.type))


def _standard(person: PersonView, scopes: set[str]) -> dict[str, Any]:
    claims: dict[str, Any] = {"sub": person.subject}
    if "profile" in scopes:
        claims["name"] = person.name
        claims["locale"] = person.locale
    if "email" in scopes:
        claims["email"] = person.email
        claims["email_verified"] = person.email_verified
    return claims


def release(purpose: Purpose, person: Person, client: Client, scope: str,
            membership: Membership | None = None) -> dict[str, Any]:
    """The claims of ``person`` (under ``membership``'s customer) that
    ``client`` may see with ``scope``, for ``purpose``."""
    return release_views(purpose, person_view(person), client_view(client), scope,
                         membership_view(membership))


def release_views(purpose: Purpose, person: PersonView, client: ClientView, scope: str,
                  membership: MembershipView | None, plugins: list[ClaimsPlugin] | None = None
                  ) -> dict[str, Any]:
    """:func:`release` over plain views: the one implementation, also used by
    the fast lane (which has rows, not ORM objects) with the app's ``plugins``."""
    scopes = set(scope.split())
    # An access token carries authorization data, not a profile: `sub`,
    # `scope` and `client_id` are set by the issuer.
    claims = {} if purpose is Purpose.ACCESS_TOKEN else _standard(person, scopes)
    if purpose is Purpose.INTROSPECTION:
        claims.pop("locale", None)
    request = None
    for plugin in _plugins() if plugins is None else plugins:
        declared = {c for s in scopes & set(plugin.scopes) for c in plugin.scopes[s]}
        if not declared:
            continue
        request = request or ClaimsRequest(purpose, person, membership, client,
                                           frozenset(scopes))
        claims.update({k: v for k, v in plugin.claims(request).items() if k in declared})
    return claims
