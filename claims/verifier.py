"""Verifying Keyholder's JWTs in a relying party: access tokens (RFC 9068) and
ID tokens (OIDC Core §3.1.3.7), with the provider's keys from its JWKS.

    verifier = TokenVerifier("https://id.example", audience="https://api.example")
    identity = verifier.verify_access_token(token)   # or an InvalidToken subclass

The header, the signature and the registered claims are checked as for every
signed token (:mod:`claims.signed_tokens` lists each refusal); here is only
what the two kinds add. An access token must say ``typ: at+jwt``; an ID token
says ``JWT`` or nothing (RFC 9068 §4: an ID token is never taken for an
access token, nor the reverse; the rule "Explicit token types" of
docs/security.md), and needs ``iat``, and ``azp`` and ``nonce`` to match when
present. The other claims are checked as the :class:`Identity` is built.
"""

from __future__ import annotations

import hmac

from claims.errors import WrongAudience, WrongNonce
from claims.identity import Identity
from claims.signed_tokens import SUPPORTED_ALGORITHMS, SignedTokenVerifier, TokenType

ACCESS_TOKEN = TokenType(frozenset({"at+jwt", "application/at+jwt"}),  # RFC 9068 §2.1, §4
                         required=True)
ID_TOKEN = TokenType(frozenset({"jwt", "application/jwt"}), required=False)


class TokenVerifier(SignedTokenVerifier):
    """Access tokens for ``audience`` (this service's identifier), and ID tokens
    for the client named at each call. The options are those of
    :class:`SignedTokenVerifier`: ``algorithms``, ``leeway``, ``jwks_uri``,
    ``http``, ``refetch_interval``, ``jwks_max_age``, ``clock`` and ``timeout``."""

    def verify_access_token(self, token: str) -> Identity:
        """The identity an RFC 9068 access token for our audience speaks for."""
        claims = self._verified(token, ACCESS_TOKEN)
        self._check(claims, self.audience)
        return Identity.from_claims(claims)

    def verify_id_token(self, token: str, *, client_id: str,
                        nonce: str | None = None) -> Identity:
        """An ID token received by the web client ``client_id`` (OIDC Core §3.1.3.7).
        Give the ``nonce`` of the authentication request to check it."""
        claims = self._verified(token, ID_TOKEN)
        self._check(claims, client_id, iat_required=True)
        azp = claims.get("azp")
        if azp is not None and azp != client_id:  # §3.1.3.7 (5)
            raise WrongAudience("The ID token was issued to another client.")
        if nonce is not None:
            presented = claims.get("nonce")
            if not isinstance(presented, str) or not hmac.compare_digest(
                    presented.encode("utf-8", "surrogatepass"), nonce.encode()):
                raise WrongNonce()
        return Identity.from_claims(claims, client_id=client_id)


__all__ = ["SUPPORTED_ALGORITHMS", "TokenVerifier"]
