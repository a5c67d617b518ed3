"""The names of the Shared Signals contract, shared by the provider (the
transmitter) and the services (the receivers): event types, delivery methods,
the SET's media type and the subject formats.

Specs: OpenID Shared Signals Framework 1.0 (SSF), OpenID CAEP 1.0, RFC 8417
(Security Event Token), RFC 8935 (push), RFC 8936 (poll), RFC 9493 (subject
identifiers). What Keyholder sends is described in docs/security-events.md."""

from __future__ import annotations

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"

TOKEN_CLAIMS_CHANGE = CAEP + "token-claims-change"
SESSION_REVOKED = CAEP + "session-revoked"
CREDENTIAL_CHANGE = CAEP + "credential-change"
VERIFICATION = SSF + "verification"
STREAM_UPDATED = SSF + "stream-updated"

# The events a stream can ask for. Verification and stream-updated are sent
# on every stream whatever it asked (SSF §8.1.4, §8.1.5).
SUBSCRIBABLE = (TOKEN_CLAIMS_CHANGE, SESSION_REVOKED, CREDENTIAL_CHANGE)
STREAM_EVENTS = (VERIFICATION, STREAM_UPDATED)

PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"

SET_TYPE = "secevent+jwt"  # the JOSE typ (SSF §4.1.1; RFC 8417 §2.3)
SET_MEDIA_TYPE = "application/secevent+jwt"  # the body of a push (RFC 8935 §2)

# The scope of the access token (client_credentials) a receiver manages its
# own stream and polls with.
MANAGEMENT_SCOPE = "ssf"

# RFC 8935 §2.3 / RFC 8936 §2.4.4 error codes a receiver answers with.
INVALID_REQUEST = "invalid_request"
INVALID_KEY = "invalid_key"
INVALID_ISSUER = "invalid_issuer"
INVALID_AUDIENCE = "invalid_audience"
AUTHENTICATION_FAILED = "authentication_failed"
ACCESS_DENIED = "access_denied"
INVALID_STATE = "invalid_state"  # SSF §8.1.4.1: a verification with another state
