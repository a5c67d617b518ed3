"""The signing-key store on disk: private files, encryption at rest, damaged
files, leftovers of a crash, and one folder shared by several stores and
several processes."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)
from joserfc.jwk import ECKey

from idp.keys import ALGORITHMS, KeyState, KeyStore, KeyStoreError
from tests.idp.keys.support import PASSPHRASE, kids, open_store


def test_the_folder_and_files_are_for_the_owner_only(store, folder):
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert [f.name for f in files if not f.name.endswith(".json")] == [".lock"]
    assert len(files) == 5
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_private_keys_are_encrypted_at_rest(store, folder):
    for path in folder.glob("*.json"):
        text = path.read_text()
        assert PASSPHRASE not in text
        pem = json.loads(text)["private_key"]
        assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError, match="private key is encrypted"):
            load_pem_private_key(pem.encode(), password=None)


@pytest.mark.parametrize("use", ["list", "jwks_bytes", "rotate"])
def test_a_wrong_passphrase_is_refused_and_changes_nothing(store, folder, clock, use):
    before = {p.name: p.read_bytes() for p in folder.glob("*.json")}
    wrong = open_store(folder, clock, passphrase="another-passphrase-that-is-long-enough-01")
    with pytest.raises(KeyStoreError) as raised:
        getattr(wrong, use)()
    assert str(raised.value).startswith("cannot decrypt signing key ")
    assert str(raised.value).endswith(": is KEYHOLDER_KEYS_PASSPHRASE right?")
    assert {p.name: p.read_bytes() for p in folder.glob("*.json")} == before


def test_a_second_store_sees_a_rotation_after_its_reload_interval(store, folder, clock):
    other = open_store(folder, clock, reload_interval=1.0)
    eager = open_store(folder, clock, reload_interval=0)
    first = other.signing_key("ES256").kid
    assert eager.signing_key("ES256").kid == first
    store.rotate()
    assert eager.signing_key("ES256").kid == store.signing_key("ES256").kid != first
    assert other.signing_key("ES256").kid == first  # cached: no disk access yet
    clock.advance(1.0)
    assert other.signing_key("ES256").kid == store.signing_key("ES256").kid != first
    assert other.jwks_bytes() == store.jwks_bytes()


def test_other_files_in_the_folder_are_not_keys(folder, clock):
    folder.mkdir()
    (folder / "README.md").write_text("# keys\n")
    (folder / ".gitignore").write_text("*\n")
    store = open_store(folder, clock)
    assert len(store.ensure()) == 4
    assert len(store.list()) == 4


def unencrypted(data: dict) -> None:
    key = load_pem_private_key(data["private_key"].encode(), PASSPHRASE.encode())
    data["private_key"] = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8,
                                            NoEncryption()).decode()


def other_key(data: dict) -> None:
    data["private_key"] = ECKey.generate_key("P-256", private=True).as_pem(
        private=True, password=PASSPHRASE).decode()


@pytest.mark.parametrize(("damage", "reason"), [
    (lambda data: data.clear(), "not a key file of format 1"),
    (lambda data: data.pop("alg"), "alg is missing"),
    (lambda data: data.update(kid="A" * 43), "the kid inside is not the file's name"),
    (lambda data: data.update(state="spare"), "'spare' is not a valid KeyState"),
    (lambda data: data.update(created_at="yesterday"), "Invalid isoformat string"),
    (lambda data: data.update(created_at="2030-01-01T00:00:00"), "has no time zone"),
    (lambda data: data["public_key"].update(d="secret"), "the public key must have exactly"),
    (lambda data: data["public_key"].update(x=data["public_key"]["y"]),
     "the public key's thumbprint is not its kid"),
    (lambda data: data.update(retired_at=data["created_at"]),
     "a key in state next must have a private key and no retired_at"),
    (unencrypted, "the private key is not an encrypted PKCS#8 PEM"),
    (other_key, "the private key is not key "),
])
def test_a_damaged_key_file_is_refused_naming_it(store, folder, clock, damage, reason):
    path = folder / f"{kids(store, KeyState.NEXT, 'ES256')[0]}.json"
    data = json.loads(path.read_text())
    damage(data)
    path.write_text(json.dumps(data))
    with pytest.raises(KeyStoreError) as raised:
        open_store(folder, clock).jwks_bytes()
    assert str(raised.value).startswith(f"corrupt key file {path}: ")
    assert reason in str(raised.value)


def test_a_file_that_is_not_json_is_refused_naming_it(store, folder, clock):
    path = folder / f"{kids(store, KeyState.NEXT, 'ES256')[0]}.json"
    path.write_text("{not json")
    with pytest.raises(KeyStoreError, match=f"corrupt key file {re.escape(str(path))}: "):
        open_store(folder, clock).list()


def test_two_active_keys_left_by_a_crash_are_resolved(store, folder, clock):
    """Half-way through a change a reader may see two active keys: the most
    recently activated signs, and the next change retires the other."""
    (active,) = kids(store, KeyState.ACTIVE, "ES256")
    (waiting,) = kids(store, KeyState.NEXT, "ES256")
    path = folder / f"{waiting}.json"
    data = json.loads(path.read_text())
    data.update(state="active", activated_at="2020-01-01T00:00:00+00:00")
    path.write_text(json.dumps(data))
    (folder / f".{waiting}.json.abc.tmp").write_text("left by a crash")
    assert store.signing_key("ES256").kid == active
    store.ensure()
    assert kids(store, KeyState.ACTIVE, "ES256") == [active]
    assert kids(store, KeyState.RETIRED, "ES256") == [waiting]
    assert len(kids(store, KeyState.NEXT, "ES256")) == 1
    assert not list(folder.glob("*.tmp"))


ROTATOR = """
import sys, time
from pathlib import Path
from idp.keys import KeyStore
folder, go = Path(sys.argv[1]), Path(sys.argv[2])
store = KeyStore(folder, sys.argv[3], retention_seconds=3600)
while not go.exists():
    time.sleep(0.005)
for _ in range(3):
    store.rotate()
"""


def test_two_processes_rotating_at_once_leave_one_active_and_one_next(store, folder, tmp_path):
    go = tmp_path / "go"
    root = Path(__file__).resolve().parents[3]  # the project folder, where idp/ is
    rotators = [subprocess.Popen([sys.executable, "-c", ROTATOR, str(folder), str(go),
                                  PASSPHRASE], cwd=root, stderr=subprocess.PIPE, text=True)
                for _ in range(2)]
    time.sleep(0.5)  # both have imported the store and wait
    go.touch()
    for rotator in rotators:
        assert rotator.wait(timeout=120) == 0, rotator.stderr.read()
        rotator.stderr.close()
    reader = KeyStore(folder, PASSPHRASE, retention_seconds=3600)
    for alg in ALGORITHMS:
        states = [k.state for k in reader.list() if k.alg == alg]
        assert states.count(KeyState.ACTIVE) == states.count(KeyState.NEXT) == 1
        assert states.count(KeyState.RETIRED) == 6  # every rotation of both counted
