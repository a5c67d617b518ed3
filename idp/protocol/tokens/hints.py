"""``id_token_hint``: is this an ID token this provider issued? One decision
for the authorization endpoint (OIDC Core 3.1.2.1) and for logout
(RP-Initiated Logout 1.0 §2: "the OP MUST validate that it was the issuer of
the ID Token").

Every JWT we sign carries our signature: access tokens (``typ: at+jwt``),
logout tokens (``typ: logout+jwt``) and ID tokens (``typ: JWT``). A valid
signature alone would let whoever holds a person's access token sign that
person out everywhere, so an ID token is told apart twice: by its JOSE
``typ`` and by the claims only an ID token has (its audience is one
registered client, no ``events`` or ``client_id``). Expired ID tokens are
accepted: a hint names a person, it grants nothing (RP-Initiated Logout §2
asks for this at logout)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwt import JWTClaimsRegistry

from idp.clients.models import ID_TOKEN_ALGORITHMS, Client
from idp.clients.registry import query_client
from idp.keys import key_store
from idp.protocol.tokens.validation import MAX_TOKEN_LENGTH, published_key

ID_TOKEN_TYPES = frozenset({"jwt", "application/jwt"})  # RFC 7515 §4.1.9: case-insensitive
# Claims of the other JWTs we sign, never of an ID token: a logout token's or
# a security event token's ``events`` (RFC 8417 §2.2), an access token's
# ``client_id`` (RFC 9068 §2.2).
FOREIGN_CLAIMS = frozenset({"events", "client_id"})


@dataclass(frozen=True)
class IssuedIdToken:
    claims: dict[str, Any]
    client: Client  # its audience

    @property
    def subject(self) -> str:
        return self.claims["sub"]


@dataclass(frozen=True)
class NotAnIdToken:
    reason: str  # for error_description: says why, never echoes the token


class _AnyExpiry(JWTClaimsRegistry):
    def validate_exp(self, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError("exp is not a NumericDate")


def issued_id_token(hint: object) -> IssuedIdToken | NotAnIdToken:
    """Whether ``hint`` is an ID token this provider issued, expired or not."""
    if not isinstance(hint, str) or not hint:
        return NotAnIdToken("The 'id_token_hint' is empty.")
    if len(hint) > MAX_TOKEN_LENGTH or hint.count(".") != 2:
        return NotAnIdToken("The 'id_token_hint' is not a signed JWT.")
    try:
        # Only a published, unrevoked key of ours, named by the header's kid.
        token = jwt.decode(hint, published_key(key_store(current_app)),
                           algorithms=list(ID_TOKEN_ALGORITHMS))
    except (JoseError, ValueError, TypeError):
        return NotAnIdToken("The 'id_token_hint' is not signed by this provider.")
    typ = token.header.get("typ")
    claims = token.claims
    if not isinstance(typ, str) or typ.lower() not in ID_TOKEN_TYPES \
            or not FOREIGN_CLAIMS.isdisjoint(claims):
        return NotAnIdToken("The 'id_token_hint' is not an ID token.")
    try:
        _AnyExpiry(leeway=60, iss={"essential": True,
                                   "value": current_app.config["KEYHOLDER"].ISSUER},
                   sub={"essential": True}, aud={"essential": True}, iat={"essential": True},
                   exp={"essential": True}).validate(claims)
    except (JoseError, ValueError, TypeError):
        return NotAnIdToken("The 'id_token_hint' is not an ID token issued here.")
    aud = claims["aud"]
    audiences = [aud] if isinstance(aud, str) else aud
    client = query_client(audiences[0]) if len(audiences) == 1 else None
    if client is None or claims.get("azp", client.id) != client.id:
        return NotAnIdToken("The 'id_token_hint' is not an ID token of a client of ours.")
    return IssuedIdToken(dict(claims), client)


def id_token_hint_subject(hint: str | None) -> str | None:
    """At /authorize: the person an ID token hint names, or None (a hint that
    is not one of our ID tokens is ignored, as is no hint)."""
    verdict = issued_id_token(hint) if hint else None
    return verdict.subject if isinstance(verdict, IssuedIdToken) else None
