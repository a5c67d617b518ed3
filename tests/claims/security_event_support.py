"""Security Event Tokens for the toolkit's tests, as the provider makes them
(signed by joserfc), and the fixtures test_security_events.py,
test_set_push.py and test_set_poll.py share: the provider double served once
per module, a SET verifier and a receiver, a recording handler."""

from __future__ import annotations

import pytest
from joserfc import jwt

from claims import Receiver, SecurityEvent, SecurityEventVerifier
from claims.security_event_types import TOKEN_CLAIMS_CHANGE
from tests.claims.provider_double import CLIENT_ID, SUBJECT, Minter, ProviderDouble, alg_of

CUSTOMER = "123456789"
SID = "provider-session-1"
STREAM = "f67e39a0a4d34d56b3aa1bc4cff0069f"
CHANGE = {"event_timestamp": 1_700_000_000, "initiating_entity": "admin",
          "claims": {"role": "administrator", "entitlements": ["usage:all_mobiles"]}}


# -- helpers -------------------------------------------------------------------------------

def person(issuer: str, *, tenant: str | None = CUSTOMER, session: str | None = None) -> dict:
    """The complex subject the provider sends about a person."""
    subject = {"format": "complex", "user": {"format": "iss_sub", "iss": issuer, "sub": SUBJECT}}
    if tenant is not None:
        subject["tenant"] = {"format": "opaque", "id": tenant}
    if session is not None:
        subject["session"] = {"format": "opaque", "id": session}
    return subject


def set_claims(minter: Minter, **overrides) -> dict:
    """A token-claims-change SET's claims for the client; an override of None
    removes the claim."""
    now = int(minter.clock())
    claims = {"iss": minter.issuer, "jti": "set-1", "iat": now, "aud": CLIENT_ID,
              "txn": "txn-1", "sub_id": person(minter.issuer),
              "events": {TOKEN_CLAIMS_CHANGE: CHANGE}}
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def security_event(minter: Minter, key, *, typ: str | None = "secevent+jwt",
                   **overrides) -> str:
    """A SET signed by joserfc, as the provider signs them."""
    header = {"alg": alg_of(key), "kid": key.kid}
    if typ is not None:
        header["typ"] = typ
    return jwt.encode(header, set_claims(minter, **overrides), key, algorithms=[alg_of(key)],
                      default_type=None)  # else joserfc writes typ: JWT


def set_header(key, **members) -> dict:
    return {"alg": alg_of(key), "kid": key.kid, "typ": "secevent+jwt", **members}


# -- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served_double(keys):
    double = ProviderDouble()
    yield double
    double.stop()


@pytest.fixture(name="provider_double")
def reset_provider_double(served_double, keys) -> ProviderDouble:
    """conftest's ``provider_double``, served once per module (stopping a
    server costs 50 ms, and these modules have many short tests) and reset
    for each test. The test modules import it."""
    served_double.publish(keys.rsa, keys.ec)
    served_double.jwks_status, served_double.discovery = 200, None
    served_double.hits.clear()
    served_double.recorded.clear()
    return served_double


@pytest.fixture(name="set_verifier")
def set_verifier_fixture(provider_double, clock) -> SecurityEventVerifier:
    return SecurityEventVerifier(provider_double.url, audience=CLIENT_ID, clock=clock,
                                 timeout=5)


@pytest.fixture(name="receiver")
def receiver_fixture(set_verifier, clock) -> Receiver:
    return Receiver(set_verifier, clock=clock)


class Calls(list):
    """A handler that records the events it gets."""

    def __call__(self, event: SecurityEvent) -> None:
        self.append(event)




@pytest.fixture(name="handled")
def handled_fixture(receiver) -> Calls:
    """The token-claims-change events the receiver handled."""
    calls = Calls()
    receiver.on(TOKEN_CLAIMS_CHANGE, calls)
    return calls
