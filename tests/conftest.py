"""Fixtures shared by every test: the application on a real database.

``database_url`` is parametrised: each test that uses the database runs on
SQLite and on PostgreSQL. PostgreSQL is the local server (or
``KEYHOLDER_TEST_POSTGRES_URL``); each test session creates a fresh database
there and drops it at the end. Without a server the PostgreSQL cases skip,
except when ``CI`` is set, where they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from idp.directory.services import Directory
from idp.infrastructure import database, migrate
from idp.infrastructure.database import create_database_engine
from keyholder.provider import create_app
from tests.support.databases import (  # noqa: F401 (re-exported for older imports)
    IN_CI,
    POSTGRES_URL,
    scratch_postgres_database,
    unavailable,
)

# The real provider on loopback (fixtures `provider`, `web`) and a real SMTP server
# (`mailbox`), for every test folder.
pytest_plugins = ["tests.provider_fixtures", "tests.support.smtp_fixtures"]

# Cheap password hashing keeps factories fast; the production parameters are
# the defaults of idp.settings and are tested there.
TEST_SETTINGS = {
    "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
    "KEYS_PASSPHRASE": "test-keys-passphrase-that-is-long-enough-0123",
    "ISSUER": "http://127.0.0.1:8000",
    "SMTP_URL": "smtp://127.0.0.1:8025",
    "MAIL_FROM": "Keyholder tests <no-reply@keyholder.localhost>",
    "PASSWORD_TIME_COST": 1,
    "PASSWORD_MEMORY_COST": 8,
    "PASSWORD_PARALLELISM": 1,
}


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the settings they set."""
    for key in list(os.environ):
        if key.startswith("KEYHOLDER_") and not key.startswith("KEYHOLDER_TEST_"):
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated database on the PostgreSQL server for this session."""
    with scratch_postgres_database("keyholder_test") as url:
        engine = create_database_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "keyholder.db"
    engine = create_database_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file of this test's own, or the
    session's PostgreSQL database, emptied after the test."""
    if request.param == "sqlite":
        path = tmp_path / "keyholder.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    yield url
    engine = create_database_engine(url)
    with engine.begin() as connection:
        tables = ", ".join(t.name for t in database.Base.metadata.sorted_tables)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def make_app(tmp_path: Path):
    """Build an app with the test settings, plus ``overrides``."""
    apps: list[Flask] = []

    def make(database_url: str, **overrides) -> Flask:
        config = {**TEST_SETTINGS, "DATABASE_URL": database_url,
                  "INSTANCE_PATH": str(tmp_path / "instance"),
                  "KEYS_DIR": str(tmp_path / "keys"), "TESTING": True, **overrides}
        app = create_app(config)
        apps.append(app)
        return app

    yield make
    for app in apps:
        database.engine(app).dispose()


@pytest.fixture
def app(make_app, database_url: str) -> Flask:
    return make_app(database_url)


@pytest.fixture
def db(app: Flask):
    """The session of an app context held for the test."""
    with app.app_context():
        yield database.session()


@pytest.fixture
def directory(db) -> Directory:
    return Directory(db)


@pytest.fixture
def client(app: Flask):
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()
