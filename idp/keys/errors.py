"""Why the signing-key store refused. Messages are for the operator and never
hold key material or the passphrase."""

from __future__ import annotations

from datetime import datetime


class KeyStoreError(Exception):
    """Base class: the store cannot do what was asked; the message says why."""


class NoActiveKey(KeyStoreError):
    """No key may sign with this algorithm (the store is not initialised)."""

    def __init__(self, alg: str, directory: object) -> None:
        super().__init__(f"no active {alg} signing key in {directory}: "
                         "run `keyholder init` to create the keys")
        self.alg = alg


class UnknownKey(KeyStoreError):
    """No key with this ``kid`` is in the store (or it was pruned)."""

    def __init__(self, kid: str) -> None:
        super().__init__(f"no signing key with kid {kid!r} (see `keyholder keys list`)")
        self.kid = kid


class AlreadyRevoked(KeyStoreError):
    """The key was revoked before: nothing is left to do."""

    def __init__(self, kid: str, revoked_at: datetime) -> None:
        super().__init__(f"signing key {kid} is already revoked "
                         f"(at {revoked_at:%Y-%m-%d %H:%M:%S}Z)")
        self.kid = kid
