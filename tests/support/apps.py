"""Test apps: the provider's application with the test settings."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from keyholder.provider import create_app
from tests.support.settings import TEST_SETTINGS


def build_app(database_url: str, folder: Path, **overrides) -> Flask:
    """The provider on ``database_url``, its instance and keys under ``folder``;
    ``overrides`` win over the test settings. Dispose of its engine when done
    (``idp.infrastructure.database.engine(app).dispose()``)."""
    return create_app({**TEST_SETTINGS, "DATABASE_URL": database_url,
                       "INSTANCE_PATH": str(folder / "instance"),
                       "KEYS_DIR": str(folder / "keys"), "TESTING": True, **overrides})
