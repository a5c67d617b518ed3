"""The test providers' signing keys: one folder made per session (RSA
generation is slow), copied for each provider, and its keys decrypted once
per process.

Decrypting is slow too: loading an RSA private key checks it, about 25 ms a
key, and every provider's new key store decrypts its copy of the folder
again. That once cost a quarter of the suite's time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from idp.keys import KeyStore, material, retention_seconds
from idp.settings import load_settings


def make_key_folder(directory: Path, passphrase: str) -> Path:
    """A complete store (an active and a next key per algorithm) in ``directory``."""
    settings = load_settings({}, {"ACCESS_TOKEN_LIFETIME": 300, "ID_TOKEN_LIFETIME": 600})
    KeyStore(directory, passphrase, retention_seconds=retention_seconds(settings)).ensure()
    return directory


@contextmanager
def decrypted_once(folder: Path) -> Iterator[None]:
    """While it lasts, a private key of ``folder``'s files is decrypted once in
    this process and then served from memory, whatever copy of the folder it
    is read from. The memo is keyed by everything the result depends on (the
    algorithm, the kid, the encrypted PEM, the passphrase), so a changed file
    or another passphrase is decrypted, and refused, as usual; so is any key
    that is not one of ``folder``'s."""
    ours = {json.loads(path.read_bytes())["private_key"] for path in folder.glob("*.json")}
    real = material.decrypt
    memo: dict[tuple[str, str, str, bytes], material.JoseKey] = {}

    def decrypt(alg: str, kid: str, pem: str, passphrase: bytes, where: object):
        if pem not in ours:
            return real(alg, kid, pem, passphrase, where)
        known = (alg, kid, pem, passphrase)
        if known not in memo:
            memo[known] = real(alg, kid, pem, passphrase, where)
        return memo[known]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(material, "decrypt", decrypt)
        yield
