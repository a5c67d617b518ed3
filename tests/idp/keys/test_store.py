"""The signing-key store: states and rotation, the JWKS (checked with PyJWT,
an independent library) and the keys that sign and verify. On-disk
behaviour and sharing a folder are in test_files.py."""

from __future__ import annotations

import base64
import hashlib
import json

import jwt as pyjwt
import pytest
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError

from idp.keys import (
    ALGORITHMS,
    KeyState,
    KeyStore,
    KeyStoreError,
    NoActiveKey,
    UnknownKey,
    key_store,
)
from tests.idp.keys.support import PASSPHRASE, RETENTION, kids, open_store


def jwks(store: KeyStore) -> dict[str, dict]:
    return {key["kid"]: key for key in json.loads(store.jwks_bytes())["keys"]}


def sign(store: KeyStore, alg: str = "ES256", **claims) -> str:
    key = store.signing_key(alg)
    header = {"alg": alg, "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, {"sub": "s-1", "aud": "rp", **claims}, key, algorithms=[alg])


def verify_with_pyjwt(token: str, jwks_bytes: bytes) -> dict:
    """The relying party's view: find the kid in the JWKS, verify with PyJWT."""
    kid = pyjwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in json.loads(jwks_bytes)["keys"] if k["kid"] == kid]
    return pyjwt.decode(token, key=pyjwt.PyJWK(jwk), algorithms=[jwk["alg"]], audience="rp")


def test_ensure_creates_an_active_and_a_next_key_per_algorithm(folder, clock):
    store = open_store(folder, clock)
    created = store.ensure()
    assert sorted((k.alg, k.state) for k in created) == sorted(
        (alg, state) for alg in ALGORITHMS for state in (KeyState.ACTIVE, KeyState.NEXT))
    assert store.ensure() == []
    assert store.list() == created
    for info in created:
        assert info.created_at.timestamp() == clock.now
        assert info.created_at.utcoffset().total_seconds() == 0
        assert info.retired_at is None and info.published_until is None
        assert (info.activated_at is not None) == (info.state is KeyState.ACTIVE)


def test_the_kid_is_the_rfc7638_thumbprint_and_the_file_name(store, folder):
    required = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}
    for kid, key in jwks(store).items():
        # RFC 7638 §3: the required members, sorted, no whitespace, SHA-256.
        canonical = json.dumps({m: key[m] for m in required[key["kty"]]},
                               separators=(",", ":"), sort_keys=True)
        digest = hashlib.sha256(canonical.encode()).digest()
        assert kid == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        assert (folder / f"{kid}.json").exists()


def test_the_jwks_has_public_members_only_active_keys_first(store):
    published = json.loads(store.jwks_bytes())["keys"]
    assert [k["kid"] for k in published] == kids(store, KeyState.ACTIVE) + kids(
        store, KeyState.NEXT)
    for key in published:
        public = {"RSA": {"n", "e"}, "EC": {"crv", "x", "y"}}[key["kty"]]
        assert set(key) == {"kty", "kid", "alg", "use"} | public
        assert key["use"] == "sig"
    assert {k["alg"] for k in published} == set(ALGORITHMS)
    assert store.jwks_bytes() is store.jwks_bytes()  # computed once per change


def test_signing_key_is_the_active_private_key_with_its_kid(store):
    for alg in ALGORITHMS:
        key = store.signing_key(alg)
        assert key.is_private
        assert (key.kid, key.alg) == (kids(store, KeyState.ACTIVE, alg)[0], alg)
    with pytest.raises(KeyStoreError, match="unsupported signing algorithm 'HS256'"):
        store.signing_key("HS256")


def test_rotate_activates_the_key_published_as_next(store, folder, clock):
    active, waiting = kids(store, KeyState.ACTIVE, "ES256"), kids(store, KeyState.NEXT, "ES256")
    rs256 = kids(store, KeyState.ACTIVE, "RS256")
    clock.advance(60)
    changed = store.rotate("ES256")
    assert {(k.kid, k.state) for k in changed} >= {(active[0], KeyState.RETIRED),
                                                  (waiting[0], KeyState.ACTIVE)}
    assert store.signing_key("ES256").kid == waiting[0]
    assert kids(store, KeyState.ACTIVE, "RS256") == rs256  # only ES256 rotated
    (new_next,) = kids(store, KeyState.NEXT, "ES256")
    assert new_next not in active + waiting
    (old,) = [k for k in store.list() if k.kid == active[0]]
    assert old.retired_at.timestamp() == clock.now
    assert old.published_until.timestamp() == clock.now + RETENTION
    assert "private_key\": null" in (folder / f"{old.kid}.json").read_text()

    # Published while tokens it signed may be valid, then gone; its file goes
    # at the next change of the store.
    assert set(jwks(store)) == {*kids(store, KeyState.ACTIVE), *kids(store, KeyState.NEXT),
                                old.kid}
    clock.advance(RETENTION - 1)
    assert old.kid in jwks(store) and store.public_key(old.kid) is not None
    clock.advance(1)
    assert old.kid not in jwks(store)
    assert store.public_key(old.kid) is None
    assert (folder / f"{old.kid}.json").exists()
    store.ensure()
    assert not (folder / f"{old.kid}.json").exists()
    assert old.kid not in [k.kid for k in store.list()]


def test_rotate_every_algorithm(store):
    waiting = kids(store, KeyState.NEXT)
    store.rotate()
    assert sorted(kids(store, KeyState.ACTIVE)) == sorted(waiting)
    assert len(kids(store, KeyState.RETIRED)) == len(kids(store, KeyState.NEXT)) == 2


def test_retire_the_active_key(store):
    active, waiting = kids(store, KeyState.ACTIVE, "RS256"), kids(store, KeyState.NEXT, "RS256")
    store.retire(active[0])
    assert kids(store, KeyState.ACTIVE, "RS256") == waiting
    assert kids(store, KeyState.RETIRED, "RS256") == active
    assert len(kids(store, KeyState.NEXT, "RS256")) == 1


def test_retire_the_next_key(store):
    active, waiting = kids(store, KeyState.ACTIVE, "ES256"), kids(store, KeyState.NEXT, "ES256")
    store.retire(waiting[0])
    assert kids(store, KeyState.ACTIVE, "ES256") == active
    assert kids(store, KeyState.RETIRED, "ES256") == waiting
    assert kids(store, KeyState.NEXT, "ES256") not in ([], waiting)


def test_retire_a_retired_or_unknown_key_is_refused(store):
    store.rotate("ES256")
    (retired,) = kids(store, KeyState.RETIRED)
    before = store.list()
    with pytest.raises(KeyStoreError, match=f"signing key {retired} is already retired "
                                            r"\(published until .*Z\)"):
        store.retire(retired)
    with pytest.raises(UnknownKey, match="no signing key with kid 'nope'"):
        store.retire("nope")
    assert store.list() == before


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_tokens_verify_with_pyjwt_across_a_rotation(store, alg):
    before = sign(store, alg)
    assert verify_with_pyjwt(before, store.jwks_bytes())["sub"] == "s-1"
    store.rotate(alg)
    after = sign(store, alg)
    assert pyjwt.get_unverified_header(after)["kid"] != pyjwt.get_unverified_header(before)["kid"]
    for token in (before, after):
        assert verify_with_pyjwt(token, store.jwks_bytes())["aud"] == "rp"


def test_verification_keys_verify_our_tokens_until_retention_ends(store, clock):
    token = sign(store)
    store.rotate()
    assert jwt.decode(token, store.verification_keys(), algorithms=["ES256"]).claims["sub"] \
        == "s-1"
    clock.advance(RETENTION)
    with pytest.raises(InvalidKeyIdError):
        jwt.decode(token, store.verification_keys(), algorithms=["ES256"])


def test_a_store_that_was_never_initialised(folder, clock):
    store = open_store(folder, clock)
    assert store.list() == []
    assert json.loads(store.jwks_bytes()) == {"keys": []}
    with pytest.raises(NoActiveKey, match=r"no active ES256 signing key .*keyholder init"):
        store.signing_key("ES256")
    with pytest.raises(KeyStoreError, match=r"there is no key store at .*keyholder init"):
        store.rotate()
    assert not folder.exists()


def test_key_store_is_built_once_from_the_settings(make_app, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'keyholder.db'}",
                   ACCESS_TOKEN_LIFETIME=300, ID_TOKEN_LIFETIME=600)
    store = key_store(app)
    assert key_store(app) is store
    assert store.directory == tmp_path / "keys"
    assert store.retention.total_seconds() == 600 + 300
    assert PASSPHRASE not in repr(store)
