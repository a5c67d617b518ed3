"""Who a verified token speaks for, and what it allows (the claims contract,
docs/design.md).

An :class:`Identity` is built only from claims that were verified (a JWT's
signature) or answered by the provider (introspection). Claims of the
``customer`` scope that are absent map to ``None`` or an empty set: a token
of a client that did not ask for the scope is still a valid token, it just
grants no entitlement. A value that is present but not in the contract (an
unknown role, a customer number that is not nine digits) is refused as
:class:`MalformedToken`: guessing would grant or deny the wrong things.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from claims import policy
from claims.errors import MalformedToken, MissingEntitlement, MissingRole
from claims.vocabulary import (
    CUSTOMER_NUMBER,
    CUSTOMER_SCOPE,
    CUSTOMER_TYPE,
    ENTITLEMENTS,
    PHONE_NUMBER,
    ROLE,
    Channel,
    CustomerType,
    Entitlement,
    Role,
)

_CUSTOMER_NUMBER = re.compile(r"[0-9]{9}", re.ASCII)


class ReadOnlyClaims(Mapping):
    """Decoded JSON claims, read-only all the way down: nested objects come out
    as ReadOnlyClaims, arrays as tuples. Wrapping is O(1) and values are frozen
    as they are read, so verifying a token does not pay for claims nobody reads;
    an Identity cached across requests (see Introspector) cannot be changed
    by one of them."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def __getitem__(self, name: str) -> Any:
        return _freeze(self._data[name])

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"ReadOnlyClaims({sorted(self._data)})"  # names only: values are personal


_EMPTY = ReadOnlyClaims({})


@dataclass(frozen=True)
class Identity:
    """Who a token speaks for: ``subject`` (a person's opaque id, or the client
    itself for a service token), through ``client_id``, for one customer
    number with one ``role``; ``entitlements`` as the policy granted them when
    the token was issued (introspection: now)."""

    subject: str
    client_id: str
    issuer: str
    audience: tuple[str, ...]
    scopes: frozenset[str]
    expires_at: int
    customer_number: str | None = None
    role: Role | None = None
    customer_type: CustomerType | None = None
    entitlements: frozenset[str] = frozenset()
    phone_number: str | None = None
    # Every claim as received, read-only; not part of equality or the repr
    # (the repr lands in logs, and the claims hold personal data).
    claims: Mapping[str, Any] = field(default_factory=lambda: _EMPTY, compare=False,
                                      repr=False)

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], *, client_id: str | None = None) -> Identity:
        """The identity a verified claim set describes (``claims`` is kept, not
        copied: hand over a dict nobody else changes). ``client_id`` is given
        for ID tokens, which name the client by ``aud`` rather than ``client_id``."""
        scope = _optional(claims, "scope")
        return cls(  # positional, in field order: this runs for every token
            _required(claims, "sub"),
            client_id or _required(claims, "client_id"),
            _required(claims, "iss"),
            audience_of(claims),
            frozenset(scope.split()) if scope else frozenset(),
            _numeric_date(claims, "exp"),
            _customer_number(claims),
            _member(claims, ROLE, _ROLES),
            _member(claims, CUSTOMER_TYPE, _CUSTOMER_TYPES),
            _entitlements(claims),
            _optional(claims, PHONE_NUMBER),
            claims if type(claims) is ReadOnlyClaims else ReadOnlyClaims(claims),
        )

    @property
    def has_customer_claims(self) -> bool:
        return not (self.customer_number is None and self.role is None
                    and self.customer_type is None and not self.entitlements)

    def has(self, entitlement: Entitlement | str) -> bool:
        return str(entitlement) in self.entitlements

    def require(self, entitlement: Entitlement | str) -> None:
        """Raise :class:`MissingEntitlement`, with the policy's reason, unless
        the token grants ``entitlement``."""
        if not self.has(entitlement):
            raise MissingEntitlement(str(entitlement), self._why_not(str(entitlement)))

    def require_role(self, role: Role | str) -> None:
        wanted = Role(role)  # a role the contract does not know is a programming error
        if self.role is wanted:
            return
        if self.role is None:
            raise MissingRole(wanted.value, self._no_customer_claims() if not
                              self.has_customer_claims else "This token does not say your role.")
        raise MissingRole(wanted.value, f"This is for {wanted.value}s of the customer number; "
                                        f"you are a {self.role.value}.")

    # -- reasons -----------------------------------------------------------------

    @staticmethod
    def _no_customer_claims() -> str:
        return (f"This token carries no customer claims (the application must ask for "
                f"the scope '{CUSTOMER_SCOPE}').")

    def _why_not(self, entitlement: str) -> str:
        """Why the token lacks ``entitlement``, in the policy's words. The token
        does not say on which channel it was issued, nor (without the phone
        scope) whether the person has an own mobile, so both are tried."""
        if not self.has_customer_claims:
            return self._no_customer_claims()
        try:
            rule = policy.RULES[Entitlement(entitlement)]
        except ValueError:
            return f"This token does not grant '{entitlement}'."
        if self.role is None or self.customer_type is None:
            return f"This token does not say the role and customer type {rule.label} depends on."
        on_web, on_app = (policy.decide(rule.entitlement, self.role, self.customer_type, channel,
                                        has_own_mobile=True) for channel in Channel)
        if not on_web:
            return on_web.reason  # role or customer type: the same on both channels
        if not on_app:
            return on_app.reason  # allowed on the web only
        without_mobile = policy.decide(rule.entitlement, self.role, self.customer_type,
                                       Channel.WEB, has_own_mobile=False)
        if not without_mobile:
            return without_mobile.reason
        # The policy allows it now, so the token predates a change (a promotion).
        return f"{rule.label} was not granted to this token; signing in again may help."


def audience_of(claims: Mapping[str, Any]) -> tuple[str, ...]:
    """``aud`` as a tuple (RFC 7519 §4.1.3: one string or an array of strings)."""
    aud = claims.get("aud")
    if aud is None:
        return ()
    if type(aud) is str:
        return (aud,)
    if not _all_strings(aud):
        raise MalformedToken("The token's audience is not a string or a list of strings.")
    return tuple(aud)


# The helpers below run for every verified token: exact type tests and no
# keyword arguments keep an Identity at a few microseconds (bench/verifier.py).

def _all_strings(value: Any) -> bool:
    return type(value) in _ARRAYS and set(map(type, value)) <= _STR


def _required(claims: Mapping[str, Any], name: str) -> str:
    value = claims.get(name)
    if type(value) is not str or not value:
        raise MalformedToken(f"The token's '{name}' claim is missing or not a string.")
    return value


def _optional(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and type(value) is not str:
        raise MalformedToken(f"The token's '{name}' claim is not a string.")
    return value


def _numeric_date(claims: Mapping[str, Any], name: str) -> int:
    value = claims.get(name)
    if type(value) not in _NUMBERS:  # also refuses True, which is an int to isinstance
        raise MalformedToken(f"The token's '{name}' claim is missing or not a NumericDate.")
    return int(value)


def _customer_number(claims: Mapping[str, Any]) -> str | None:
    value = _optional(claims, CUSTOMER_NUMBER)
    if value is not None and not _CUSTOMER_NUMBER.fullmatch(value):
        raise MalformedToken("The token's customer number is not nine digits.")
    return value


def _member(claims: Mapping[str, Any], name: str, members: Mapping[str, Any]):
    value = claims.get(name)
    if value is None:
        return None
    found = members.get(value) if type(value) is str else None
    if found is None:
        raise MalformedToken(f"The token's '{name}' claim is not one the contract knows.")
    return found


# Lookups rather than Role(value): an enum call costs more than the rest of a claim.
_ROLES: Mapping[str, Role] = MappingProxyType({role.value: role for role in Role})
_CUSTOMER_TYPES: Mapping[str, CustomerType] = MappingProxyType(
    {kind.value: kind for kind in CustomerType})


def _entitlements(claims: Mapping[str, Any]) -> frozenset[str]:
    value = claims.get(ENTITLEMENTS)
    if value is None:
        return frozenset()
    # Entitlements this version does not know are kept: the policy may grow.
    if not _all_strings(value):
        raise MalformedToken("The token's entitlements are not a list of strings.")
    return frozenset(value)


def _freeze(value: Any) -> Any:
    """A read-only view of a decoded JSON value: objects become ReadOnlyClaims,
    arrays tuples (exact type tests: JSON gives only dict and list)."""
    if type(value) is dict:
        return ReadOnlyClaims(value)
    if type(value) is list:
        return tuple(_freeze(v) if type(v) in _CONTAINERS else v for v in value)
    return value


_CONTAINERS = (dict, list)
_ARRAYS = (list, tuple)
_NUMBERS = (int, float)
_STR = frozenset({str})


__all__ = ["Identity", "ReadOnlyClaims", "audience_of"]
