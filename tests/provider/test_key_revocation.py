"""``keyholder keys revoke KID`` for a signing key that may have leaked, run
in another process against the running provider: within the store's reload
interval (1 s) the key is out of the JWKS, every token it signed (with any
claims: whoever has the key can mint them) is ``active: false`` at
introspection and 401 at UserInfo, the next key signs, and the event is in
the audit trail. A relying party using the ``claims`` toolkit drops the key
at its next JWKS refresh (``jwks_max_age``). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from pathlib import Path

import jwt as pyjwt
import pytest
import requests
from joserfc import jwt
from sqlalchemy import select

from claims import TokenVerifier, UnknownKey
from claims.jwks import DEFAULT_MAX_AGE
from idp.directory.models import AuditEvent
from idp.infrastructure import database
from idp.keys import key_store
from keyholder.demo.data import PEOPLE
from tests.claims.provider_double import FakeClock
from tests.provider.agents import issued_tokens

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
KEYHOLDER = Path(sys.executable).with_name("keyholder")
RELOAD = 1.0  # seconds: the key store's reload interval in a running provider


def keyholder(provider, *args: str) -> subprocess.CompletedProcess:
    return provider.command(*args)


def jwks(provider) -> dict[str, dict]:
    keys = requests.get(f"{provider.url}/jwks.json", timeout=10).json()["keys"]
    return {k["kid"]: k for k in keys}


def tokens(provider, rp) -> dict:
    return issued_tokens(rp, MARY.email, MARY.password)


def kid(token: str) -> str:
    return pyjwt.get_unverified_header(token)["kid"]


def userinfo(provider, token: str) -> requests.Response:
    return requests.get(f"{provider.url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


def minted_with_the_leaked_key(provider, rp) -> str:
    """What a thief of the active ES256 key can sign: any claims it likes."""
    with provider.app.app_context():
        key = key_store(provider.app).signing_key("ES256")
    now = int(time.time())
    claims = {"iss": provider.url, "sub": "anyone", "aud": [rp.client_id],
              "client_id": rp.client_id, "iat": now, "exp": now + 300,
              "jti": f"cc.{secrets.token_urlsafe(12)}", "role": "administrator"}
    return jwt.encode({"alg": "ES256", "kid": key.kid, "typ": "at+jwt"}, claims, key,
                      algorithms=["ES256"])


def test_a_revoked_key_is_trusted_nowhere_at_once(provider, web):
    before = tokens(provider, web)
    leaked = kid(before["access_token"])
    (waiting,) = [k for k, jwk in jwks(provider).items()
                  if jwk["alg"] == "ES256" and k != leaked]  # the next ES256 key
    forged = minted_with_the_leaked_key(provider, web)
    assert web.introspect(forged).json()["active"] is True  # what the issue is about
    assert web.introspect(before["access_token"]).json()["active"] is True
    assert userinfo(provider, before["access_token"]).status_code == 200
    clock = FakeClock()
    toolkit = TokenVerifier(provider.url, audience=f"{provider.url}/userinfo", clock=clock)
    assert toolkit.verify_access_token(before["access_token"]).subject

    result = keyholder(provider, "keys", "revoke", leaked)
    assert result.returncode == 0, result.stderr
    assert f"ES256 key {leaked} is now revoked" in result.stdout.splitlines()
    time.sleep(RELOAD + 0.2)  # the provider re-reads the store at most this late

    assert leaked not in jwks(provider)
    for token in (forged, before["access_token"]):
        assert web.introspect(token).json() == {"active": False}
    refused = userinfo(provider, before["access_token"])
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]

    # The next key signs now; it was published before, so relying parties have it.
    after = tokens(provider, web)
    assert kid(after["access_token"]) == waiting
    keys = jwks(provider)
    claims = pyjwt.decode(after["access_token"], pyjwt.PyJWK(keys[waiting]),
                          algorithms=["ES256"], audience=f"{provider.url}/userinfo")
    assert claims["sub"] == pyjwt.decode(before["id_token"],
                                         options={"verify_signature": False})["sub"]
    assert web.introspect(after["access_token"]).json()["active"] is True
    assert userinfo(provider, after["access_token"]).status_code == 200
    # ... and a new next key is published for the rotation after.
    assert len([k for k, jwk in keys.items() if jwk["alg"] == "ES256"]) == 2

    with provider.app.app_context():
        (event,) = database.session().scalars(
            select(AuditEvent).where(AuditEvent.action == "key.revoked")).all()
    assert event.actor == "operator"
    assert event.details == {"kid": leaked, "alg": "ES256", "replaced_by": waiting}

    # The toolkit trusts its key set until it is DEFAULT_MAX_AGE old, then refreshes it.
    assert toolkit.verify_access_token(before["access_token"]).subject
    clock.advance(DEFAULT_MAX_AGE)
    with pytest.raises(UnknownKey):
        toolkit.verify_access_token(before["access_token"])
    assert toolkit.verify_access_token(after["access_token"]).subject == claims["sub"]
