"""Key rotation without downtime (SECURITY §1, §2.24): ``keyholder keys rotate``
in another process; the running provider signs with the key that was
published as "next" before, and keeps the old keys published so that tokens
signed before still verify."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt as pyjwt
import requests

from idp.demo import PEOPLE
from tests.conftest import TEST_SETTINGS
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
KEYHOLDER = Path(sys.executable).with_name("keyholder")


def jwks(provider) -> dict[str, dict]:
    keys = requests.get(f"{provider.url}/jwks.json", timeout=10).json()["keys"]
    return {k["kid"]: k for k in keys}


def tokens(provider, rp) -> dict:
    agent = UserAgent(provider.url)
    authorization = rp.authorization()
    code = agent.code_for(rp, authorization, email=MARY.email, password=MARY.password)
    return rp.redeem(code, authorization.verifier).json()


def kid(token: str) -> str:
    return pyjwt.get_unverified_header(token)["kid"]


def verify(token: str, keys: dict[str, dict], alg: str, **options) -> dict:
    return pyjwt.decode(token, pyjwt.PyJWK(keys[kid(token)]), algorithms=[alg],
                        options={"verify_aud": False, **options})


def rotate_in_another_process(provider) -> str:
    settings = provider.app.config["KEYHOLDER"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update(KEYHOLDER_KEYS_DIR=settings.KEYS_DIR, KEYHOLDER_DATABASE_URL=settings.DATABASE_URL,
               KEYHOLDER_KEYS_PASSPHRASE=TEST_SETTINGS["KEYS_PASSPHRASE"],
               KEYHOLDER_SECRET_KEY=TEST_SETTINGS["SECRET_KEY"], KEYHOLDER_ISSUER=provider.url,
               KEYHOLDER_INSTANCE_PATH=settings.INSTANCE_PATH)
    result = subprocess.run([str(KEYHOLDER), "keys", "rotate"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_rotation_publishes_before_signing_and_keeps_old_keys(provider, web):
    before = jwks(provider)
    old = tokens(provider, web)
    old_id_kid, old_access_kid = kid(old["id_token"]), kid(old["access_token"])
    next_keys = {k for k in before if k not in {old_id_kid, old_access_kid}}
    assert len(before) == 4 and len(next_keys) == 2  # one next key per algorithm, published

    output = rotate_in_another_process(provider)
    assert "rotated" in output.lower() or "active" in output.lower()

    deadline = time.monotonic() + 10  # the provider re-reads the store within ~1 s
    while True:
        new = tokens(provider, web)
        if kid(new["access_token"]) != old_access_kid or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    after = jwks(provider)

    # New tokens carry the keys that were published as "next" before the rotation.
    assert kid(new["id_token"]) in next_keys and kid(new["access_token"]) in next_keys
    # The JWKS holds the old keys and the new ones (and two fresh "next" keys).
    assert {old_id_kid, old_access_kid} <= set(after) and next_keys <= set(after)
    assert len(after) == 6
    # Tokens signed before the rotation still verify, with an independent library...
    assert verify(old["id_token"], after, "RS256")["sub"] == verify(new["id_token"], after,
                                                                    "RS256")["sub"]
    verify(old["access_token"], after, "ES256")
    # ... and at the provider.
    assert web.introspect(old["access_token"]).json()["active"] is True
    assert web.introspect(new["access_token"]).json()["active"] is True
    userinfo = requests.get(f"{provider.url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {old['access_token']}"})
    assert userinfo.status_code == 200
    # Refresh tokens issued before the rotation go on working.
    assert web.refresh(old["refresh_token"]).status_code == 200


def test_jwks_holds_public_keys_only(provider):
    for key in jwks(provider).values():
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
        assert key["use"] == "sig" and key["alg"] in {"RS256", "ES256"} and key["kid"]
    assert "private" not in json.dumps(jwks(provider)).lower()
