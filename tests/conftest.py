"""Fixtures shared by every test: the application on a real database.

``database_url`` is parametrised: each test that uses the database runs on
SQLite and on PostgreSQL (unless it is marked ``ONE_DATABASE``, see
tests/README.md). PostgreSQL is the local server (or
``KEYHOLDER_TEST_POSTGRES_URL``); each test session (each xdist worker)
creates fresh databases there and drops them at the end. Without a server
the PostgreSQL cases skip, except when ``CI`` is set, where they fail.

This file only defines fixtures: what tests import lives in tests/support/.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from idp.directory.services import Directory
from idp.infrastructure import database
from tests.support.apps import build_app
from tests.support.databases import (
    DATABASES,
    empty_tables,
    migrate_database,
    scratch_postgres_database,
)

# The real provider on loopback (fixtures `provider`, `web`, `shared_provider`) and
# a real SMTP server (`mailbox`), for every test folder.
pytest_plugins = ["tests.provider_fixtures", "tests.support.smtp_fixtures"]


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
        yield migrate_database(url)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (faster than migrating each time)."""
    path = tmp_path_factory.mktemp("template") / "keyholder.db"
    migrate_database(f"sqlite:///{path}")
    return path


@pytest.fixture(params=DATABASES)
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
    empty_tables(url)


@pytest.fixture(scope="module", params=DATABASES)
def module_database_url(request: pytest.FixtureRequest,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database for one test module (``shared_provider``): a SQLite
    file, or a PostgreSQL database of its own, so that emptying the session's
    after each test never touches it."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("module") / "keyholder.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    with scratch_postgres_database("keyholder_test_module") as url:
        yield migrate_database(url)


@pytest.fixture
def make_app(tmp_path: Path):
    """Build an app with the test settings, plus ``overrides``."""
    apps: list[Flask] = []

    def make(database_url: str, **overrides) -> Flask:
        app = build_app(database_url, tmp_path, **overrides)
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
