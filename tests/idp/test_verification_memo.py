"""The memo of verified access tokens (issue 11): a hit skips the signature
check but never the rules that change with time or with the keys.

The database cannot matter: nothing here reads it (the live state is not
memoised, and is tested over HTTP in tests/provider and tests/test_liveness.py)."""

from __future__ import annotations

import shutil
import time

import jwt as pyjwt
import pytest

from idp.keys import key_store
from idp.protocol.tokens import minting, validation
from idp.protocol.tokens.verification_memo import VerificationMemo
from tests.support.databases import ONE_DATABASE


@pytest.fixture
def app(make_app, database_url, keys_template, tmp_path):
    keys = tmp_path / "memo-keys"
    shutil.copytree(keys_template, keys)
    return make_app(database_url, KEYS_DIR=str(keys), VERIFICATION_MEMO_SIZE=4)


def service_token(app, lifetime: int | None = None) -> str:
    """An access token as the client-credentials grant signs it."""
    claims = {"iss": app.config["KEYHOLDER"].ISSUER, "sub": "svc", "aud": "https://api.example",
              "client_id": "svc", "iat": int(time.time()),
              "exp": int(time.time()) + (lifetime or 300), "jti": "cc.abc"}
    return minting.sign(app, minting.ACCESS_TOKEN_ALG, claims, minting.ACCESS_TOKEN_TYP)


@ONE_DATABASE
def test_a_hit_returns_what_was_verified_without_verifying_again(app):
    checks = validation.checks(app)
    token = service_token(app)
    first = checks.claims(token)
    assert first is not None and len(checks.memo) == 1
    assert checks.claims(token) is first  # the memo's own object: no second decode


@ONE_DATABASE
def test_a_forged_signature_is_not_taken_for_a_memoised_token(app):
    checks = validation.checks(app)
    token = service_token(app)
    assert checks.claims(token) is not None
    head, body, signature = token.split(".")
    forged = f"{head}.{body}.{signature[:-4]}AAAA"
    assert checks.claims(forged) is None  # another string: verified, and refused


@ONE_DATABASE
def test_expiry_is_checked_again_on_every_hit(app):
    checks = validation.checks(app)
    token = service_token(app, lifetime=2)
    assert checks.claims(token) is not None
    time.sleep(2.1)
    assert checks.claims(token) is None


@ONE_DATABASE
def test_a_revoked_key_empties_the_memo(app):
    checks = validation.checks(app)
    token = service_token(app)
    assert checks.claims(token) is not None and len(checks.memo) == 1
    kid = pyjwt.get_unverified_header(token)["kid"]
    key_store(app).revoke(kid)
    assert checks.claims(token) is None
    assert len(checks.memo) == 0


@ONE_DATABASE
def test_a_retired_key_still_verifies_what_it_signed(app):
    checks = validation.checks(app)
    token = service_token(app)
    assert checks.claims(token) is not None
    key_store(app).rotate(minting.ACCESS_TOKEN_ALG)  # a change of the store
    assert checks.claims(token) is not None  # verified again, with the retired key
    assert len(checks.memo) == 1


def test_the_memo_is_bounded_and_forgets_the_oldest_first():
    memo = VerificationMemo(3)
    for n in range(5):
        memo.put(f"t{n}", b"r", "kid", {"n": n})
    assert len(memo) == 3
    assert memo.get("t0", b"r", lambda kid, claims: True) is None
    assert memo.get("t4", b"r", lambda kid, claims: True) == {"n": 4}
    assert memo.get("t4", b"r", lambda kid, claims: False) is None  # re-checked each hit
    assert memo.get("t4", b"other", lambda kid, claims: True) is None  # keys changed
    assert len(memo) == 0


def test_size_zero_turns_the_memo_off():
    memo = VerificationMemo(0)
    memo.put("t", b"r", "kid", {})
    assert len(memo) == 0 and memo.get("t", b"r", lambda kid, claims: True) is None
