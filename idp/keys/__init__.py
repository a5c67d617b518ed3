"""The signing-key store (see :mod:`idp.keys.store`). ``key_store(app)`` is
the application's one store, built from its settings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from idp.keys.errors import AlreadyRevoked, KeyStoreError, NoActiveKey, UnknownKey
from idp.keys.material import ALGORITHMS
from idp.keys.records import KeyInfo, KeyState
from idp.keys.store import KeyStore

if TYPE_CHECKING:
    from idp.settings import Settings

__all__ = ["ALGORITHMS", "EXTENSION", "RETENTION_MARGIN", "AlreadyRevoked", "KeyInfo",
           "KeyState", "KeyStore", "KeyStoreError", "NoActiveKey", "UnknownKey", "key_store",
           "retention_seconds"]

EXTENSION = "keyholder.keys"

# Added to the longest token lifetime before a retired key is unpublished:
# relying parties' clocks may run behind ours, a request in flight may still
# carry a token, and other provider processes may sign with the old key for up
# to their reload interval (1 s) after a rotation.
RETENTION_MARGIN = 300


def retention_seconds(settings: Settings) -> int:
    """How long a retired key stays published: until every token it signed
    has expired, plus :data:`RETENTION_MARGIN`."""
    return max(settings.ACCESS_TOKEN_LIFETIME, settings.ID_TOKEN_LIFETIME) + RETENTION_MARGIN


def key_store(app: Flask) -> KeyStore:
    """The application's key store, made on first use from its settings
    (``KEYS_STORE``, ``KEYS_DIR``, ``KEYS_PASSPHRASE``, the token lifetimes)."""
    store = app.extensions.get(EXTENSION)
    if store is None:
        settings = app.config["KEYHOLDER"]
        location = Path(settings.KEYS_DIR)
        if settings.KEYS_STORE == "database":
            from idp.infrastructure import database
            from idp.keys.backends import Table

            location = Table(database.engine(app))
        made = KeyStore(location, settings.KEYS_PASSPHRASE,
                        retention_seconds=retention_seconds(settings))
        # Two request threads may both get here: keep one store.
        store = app.extensions.setdefault(EXTENSION, made)
    return store
