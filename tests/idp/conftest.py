"""Fixtures for the tests of migrations, which need a database of their own."""

from collections.abc import Iterator

import pytest

from tests.support.databases import scratch_postgres_database


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request, tmp_path) -> Iterator[str]:
    """A database of this test's own, with no tables at all (``database_url``
    is already at the newest revision, and its PostgreSQL database is shared
    by the whole session)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with scratch_postgres_database("keyholder_test_migration") as url:
        yield url
