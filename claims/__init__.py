"""The contract between Keyholder and the services that trust its tokens.

Claim names, the roles and customer types, the customer-number format and
(later) the entitlement policy and the relying-party toolkit. This package
never imports the provider, Flask or a database, so a partner service can
depend on it alone.
"""

from claims.customer_numbers import InvalidCustomerNumber, normalise_customer_number
from claims.vocabulary import CustomerType, Role

__all__ = ["CustomerType", "InvalidCustomerNumber", "Role", "normalise_customer_number"]

# The relying-party toolkit (the Flask decorators are in claims.guards, and the
# push endpoint for security events in claims.set_push: both import Flask, and
# importing them from here would make every user import it).
from claims.errors import (
    BadSignature,
    ClaimsError,
    DisallowedAlgorithm,
    ExpiredToken,
    Forbidden,
    InactiveToken,
    InvalidToken,
    MalformedToken,
    MissingEntitlement,
    MissingRole,
    NotYetValid,
    ProviderUnavailable,
    UnknownKey,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    WrongTokenType,
)
from claims.identity import Identity
from claims.introspector import Introspector
from claims.logout_tokens import LogoutToken, LogoutTokenVerifier
from claims.security_events import Receiver, SecurityEvent, SecurityEventVerifier, SetRejected
from claims.set_poll import ClientCredentials, Poller
from claims.verifier import TokenVerifier

__all__ += [
    "BadSignature", "ClaimsError", "ClientCredentials", "DisallowedAlgorithm", "ExpiredToken",
    "Forbidden", "Identity", "InactiveToken", "Introspector", "InvalidToken", "LogoutToken",
    "LogoutTokenVerifier", "MalformedToken", "MissingEntitlement", "MissingRole", "NotYetValid",
    "Poller", "ProviderUnavailable", "Receiver", "SecurityEvent", "SecurityEventVerifier",
    "SetRejected", "TokenVerifier", "UnknownKey", "WrongAudience", "WrongIssuer", "WrongNonce",
    "WrongTokenType",
]
