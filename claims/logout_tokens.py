"""Verifying logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.6).

    verifier = LogoutTokenVerifier("https://id.example", client_id="cloud")
    logout = verifier.verify(token)   # a LogoutToken, or an InvalidToken subclass

The provider POSTs a ``logout_token`` to a client: a JWT it signed, about
one provider session (``sid``) and/or one person (``sub``). The header, the
signature, ``iss``, ``aud`` (this client), ``iat`` and ``exp`` are checked as
for every signed token (:class:`claims.signed_tokens.SignedTokenVerifier`),
with the explicit type ``logout+jwt`` required (§2.3; the rules "Explicit
token types" and "Logout tokens are checked like any token" of
docs/security.md: no other JWT of the provider, an ID token above all, is
taken for a logout token). What §2.4 adds:

- ``events`` an object with the back-channel logout event, itself an object,
  and no ``nonce`` (forbidden, so that an ID token, which may carry one, is
  never taken for a logout token) → WrongTokenType;
- a ``jti``, and a ``sid`` and/or a ``sub``, non-empty strings → MalformedToken.

Acting on a token once (§2.6 step 8: remembering the ``jti``) is the
receiver's, as is ending the sessions it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from claims.errors import MalformedToken, WrongTokenType
from claims.identity import audience_of
from claims.signed_tokens import SignedTokenVerifier, TokenType

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN = TokenType(frozenset({"logout+jwt", "application/logout+jwt"}), required=True,
                         refusal="Only a logout token (typ logout+jwt) is accepted here.")


@dataclass(frozen=True)
class LogoutToken:
    """What a verified logout token asks to end: the sessions of the provider
    session ``sid``, or of the person ``subject``, or those of both."""

    sid: str | None
    subject: str | None
    jti: str
    issued_at: float
    expires_at: float


class LogoutTokenVerifier(SignedTokenVerifier):
    """Logout tokens of ``issuer`` for the client ``client_id`` (their
    audience). ``options`` are those of :class:`SignedTokenVerifier`
    (``leeway``, ``http``, ``clock``...). Thread-safe; build one per process
    and keep it."""

    def __init__(self, issuer: str, *, client_id: str, **options: Any) -> None:
        super().__init__(issuer, audience=client_id, **options)

    def verify(self, token: Any) -> LogoutToken:
        """The logout a token asks for, or a claims.InvalidToken subclass."""
        if type(token) is not str or not token:
            raise MalformedToken("A logout token is needed.")
        claims = self._verified(token, LOGOUT_TOKEN)
        self._check(claims, self.audience, iat_required=True)
        audience_of(claims)  # a string or strings, as in every token
        jti, sid, subject = _text(claims, "jti"), _text(claims, "sid"), _text(claims, "sub")
        if jti is None:
            raise MalformedToken("The logout token has no 'jti'.")
        if sid is None and subject is None:
            raise MalformedToken("The logout token names neither a session nor a person.")
        events = claims.get("events")
        if type(events) is not dict or type(events.get(LOGOUT_EVENT)) is not dict:
            raise WrongTokenType("The token does not carry the back-channel logout event.")
        if "nonce" in claims:
            raise WrongTokenType("A logout token never carries a nonce.")
        return LogoutToken(sid, subject, jti, float(claims["iat"]), float(claims["exp"]))


def _text(claims: Mapping[str, Any], name: str) -> str | None:
    value = claims.get(name)
    if value is not None and (type(value) is not str or not value):
        raise MalformedToken(f"The logout token's '{name}' is not a string.")
    return value


__all__ = ["LOGOUT_EVENT", "LOGOUT_TOKEN", "LogoutToken", "LogoutTokenVerifier"]
