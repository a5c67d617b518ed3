"""Why the signing-key store refused. Messages are for the operator and never
hold key material or the passphrase."""


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
