"""Why a relying party refuses a request: one ladder, caught broadly or precisely.

    ClaimsError
    ├── InvalidToken            401, RFC 6750 ``invalid_token``
    │   ├── MalformedToken, DisallowedAlgorithm, UnknownKey, BadSignature,
    │   ├── WrongTokenType, WrongIssuer, WrongAudience, WrongNonce,
    │   └── ExpiredToken, NotYetValid, InactiveToken
    ├── ProviderUnavailable     503: discovery, JWKS or introspection failed (fail closed)
    └── Forbidden               403
        ├── MissingEntitlement
        └── MissingRole

``code`` is what goes on the wire (the RFC 6750 error, or the ``error`` of a
403 body); the class says precisely what went wrong, for logs and tests.
``str(error)`` is a short sentence for people. Messages never quote the
token or anything taken from it: they end up in ``WWW-Authenticate`` headers
and logs, and a token's content is the attacker's to choose.
"""

from __future__ import annotations


class ClaimsError(Exception):
    """Anything the relying-party toolkit refuses."""

    code = "claims_error"
    message = "The request cannot be authorised."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or type(self).message
        super().__init__(self.message)


class InvalidToken(ClaimsError):
    """The token is not one this relying party accepts (RFC 6750 §3.1)."""

    code = "invalid_token"
    message = "The access token is not valid."


class MalformedToken(InvalidToken):
    message = "The token is not a well-formed JWT."


class DisallowedAlgorithm(InvalidToken):
    message = "The token's signature algorithm is not accepted."


class UnknownKey(InvalidToken):
    message = "The token is signed with a key the provider does not publish."


class BadSignature(InvalidToken):
    message = "The token's signature does not verify."


class WrongTokenType(InvalidToken):
    """A token of another kind than the one asked for (the rule "Explicit token
    types"): an ID token offered as an access token, an access token or an ID
    token offered as a logout token, told apart by ``typ`` and, for logout
    tokens, by their event and the absence of a nonce."""

    message = "This kind of token is not accepted here."


class WrongIssuer(InvalidToken):
    message = "The token was not issued by the expected provider."


class WrongAudience(InvalidToken):
    message = "The token is not meant for this service."


class WrongNonce(InvalidToken):
    message = "The ID token's nonce does not match the authentication request."


class ExpiredToken(InvalidToken):
    message = "The token has expired."


class NotYetValid(InvalidToken):
    message = "The token is not valid yet."


class InactiveToken(InvalidToken):
    """The provider's introspection endpoint answered ``active: false``."""

    message = "The token is not active."


class ProviderUnavailable(ClaimsError):
    """The provider could not be asked (down, or answering something else than
    it should): nothing is accepted until it answers properly again."""

    code = "temporarily_unavailable"
    message = "The identity provider cannot be reached; please try again later."


class Forbidden(ClaimsError):
    """A valid token that does not allow this request."""

    code = "forbidden"
    message = "You may not do this."


class MissingEntitlement(Forbidden):
    code = "insufficient_entitlement"

    def __init__(self, entitlement: str, reason: str) -> None:
        self.entitlement = entitlement
        self.reason = reason
        super().__init__(reason)


class MissingRole(Forbidden):
    def __init__(self, role: str, reason: str) -> None:
        self.role = role
        self.reason = reason
        super().__init__(reason)


__all__ = [
    "BadSignature", "ClaimsError", "DisallowedAlgorithm", "ExpiredToken", "Forbidden",
    "InactiveToken", "InvalidToken", "MalformedToken", "MissingEntitlement", "MissingRole",
    "NotYetValid", "ProviderUnavailable", "UnknownKey", "WrongAudience", "WrongIssuer",
    "WrongNonce", "WrongTokenType",
]
