"""Key rotation without downtime ("Publish before signing, keep until expiry",
docs/security.md): ``keyholder keys rotate`` in another process; the running
provider signs with the key that was published as "next" before, and keeps
the old keys published so that tokens signed before still verify."""

import json
import re
import sys
import time
from pathlib import Path

import jwt as pyjwt
import requests

from keyholder.demo.data import PEOPLE
from tests.provider.agents import issued_tokens

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
KEYHOLDER = Path(sys.executable).with_name("keyholder")


def jwks(provider) -> dict[str, dict]:
    response = requests.get(f"{provider.url}/jwks.json", timeout=10)
    assert response.status_code == 200
    keys = response.json()["keys"]
    found = {k["kid"]: k for k in keys}
    assert len(found) == len(keys)  # no kid twice
    return found


def tokens(provider, rp) -> dict:
    return issued_tokens(rp, MARY.email, MARY.password)


def kid(token: str) -> str:
    return pyjwt.get_unverified_header(token)["kid"]


def by_alg(keys: dict[str, dict], kids) -> dict[str, str]:
    """{alg: kid} of ``kids``, one per algorithm."""
    found = {keys[k]["alg"]: k for k in kids}
    assert len(found) == len(kids), keys
    return found


def reported(output: str) -> set[tuple[str, str, str]]:
    """(alg, kid, state) of each line ``keyholder keys rotate`` printed."""
    lines = output.strip().splitlines()
    found = {m.groups() for m in map(re.compile(r"(\w+) key (\S+) is now (\w+)\b").match,
                                     lines) if m}
    assert len(found) == len(lines), output
    return found


def verify(token: str, keys: dict[str, dict], alg: str, **options) -> dict:
    return pyjwt.decode(token, pyjwt.PyJWK(keys[kid(token)]), algorithms=[alg],
                        options={"verify_aud": False, **options})


def rotate_in_another_process(provider) -> str:
    result = provider.command("keys", "rotate")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rotation_publishes_before_signing_and_keeps_old_keys(provider, web):
    before = jwks(provider)
    old = tokens(provider, web)
    old_id_kid, old_access_kid = kid(old["id_token"]), kid(old["access_token"])
    # ID tokens RS256 (the client's choice), access tokens ES256.
    assert (before[old_id_kid]["alg"], before[old_access_kid]["alg"]) == ("RS256", "ES256")
    # One next key per algorithm, published before it signs anything.
    next_keys = by_alg(before, set(before) - {old_id_kid, old_access_kid})
    assert len(before) == 4 and set(next_keys) == {"RS256", "ES256"}

    output = rotate_in_another_process(provider)

    deadline = time.monotonic() + 10  # the provider re-reads the store within ~1 s
    new = tokens(provider, web)
    while kid(new["access_token"]) == old_access_kid:
        assert time.monotonic() < deadline, "the provider never signed with the new key"
        time.sleep(0.2)
        new = tokens(provider, web)
    after = jwks(provider)

    # New tokens carry the keys that were published as "next" before the rotation.
    assert kid(new["id_token"]) == next_keys["RS256"]
    assert kid(new["access_token"]) == next_keys["ES256"]
    # The JWKS holds the old keys and the new ones, and one fresh "next" key per algorithm.
    fresh = by_alg(after, set(after) - set(before))
    assert set(before) < set(after) and set(fresh) == {"RS256", "ES256"} and len(after) == 6
    # What the command said: each algorithm's active key retired, its next key
    # active, a fresh next key.
    assert reported(output) == {
        ("RS256", old_id_kid, "retired"), ("ES256", old_access_kid, "retired"),
        ("RS256", next_keys["RS256"], "active"), ("ES256", next_keys["ES256"], "active"),
        ("RS256", fresh["RS256"], "next"), ("ES256", fresh["ES256"], "next")}
    # Tokens signed before the rotation still verify, with an independent library...
    subject = verify(new["id_token"], after, "RS256")["sub"]
    assert verify(old["id_token"], after, "RS256")["sub"] == subject
    assert verify(old["access_token"], after, "ES256")["sub"] == subject
    assert verify(new["access_token"], after, "ES256")["sub"] == subject
    # ... and at the provider.
    for token in (old["access_token"], new["access_token"]):
        seen = web.introspect(token)
        assert seen.status_code == 200 and seen.json()["active"] is True
        assert seen.json()["sub"] == subject
    userinfo = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {old['access_token']}"})
    assert userinfo.status_code == 200 and userinfo.json()["sub"] == subject
    # Refresh tokens issued before the rotation go on working.
    assert web.refresh(old["refresh_token"]).status_code == 200


# Each key type with exactly its public members (RFC 7518 §6.2.1, §6.3.1) and ours.
PUBLIC_MEMBERS = {"RSA": {"kty", "kid", "use", "alg", "n", "e"},
                  "EC": {"kty", "kid", "use", "alg", "crv", "x", "y"}}
ALG_OF = {"RSA": "RS256", "EC": "ES256"}


def test_jwks_holds_public_keys_only(provider):
    keys = jwks(provider)
    # Active and next, per algorithm.
    assert sorted(key["alg"] for key in keys.values()) == ["ES256", "ES256", "RS256", "RS256"]
    for kid_, key in keys.items():
        assert set(key) == PUBLIC_MEMBERS[key["kty"]], key  # no "d", "p", "q"...
        assert key["use"] == "sig" and key["alg"] == ALG_OF[key["kty"]] and kid_
        assert key.get("crv", "P-256") == "P-256"
    assert "private" not in json.dumps(keys).lower()
