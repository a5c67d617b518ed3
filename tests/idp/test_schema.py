"""Migrations: ``keyholder init`` creates and upgrades; the migrated schema
is the one the models describe, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from idp.infrastructure import database, migrate
from idp.infrastructure.database import Base, create_database_engine


def test_migrations_match_the_models(app):
    with database.engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_database_is_at_head(app):
    assert migrate.current_revision(database.engine(app)) == migrate.head_revision()


def test_init_creates_then_reports_up_to_date(make_app, tmp_path):
    app = make_app(f"sqlite:///{tmp_path / 'fresh.db'}")
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    assert f"upgraded from empty to {migrate.head_revision()}" in first.output
    second = runner.invoke(args=["init"])
    assert "is up to date" in second.output
    with database.engine(app).connect() as connection:
        tables = {r[0] for r in connection.execute(
            text("SELECT name FROM sqlite_master WHERE type = 'table'"))}
    assert {"customer", "person", "membership", "audit_event", "alembic_version"} <= tables


def test_init_hides_the_database_password(make_app, tmp_path):
    url = "postgresql+psycopg://keyholder:s3cret-pw@127.0.0.1:1/none?connect_timeout=1"
    app = make_app(url)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code != 0
    assert "s3cret-pw" not in result.output


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = create_database_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    engine.dispose()


def test_begin_write_takes_the_sqlite_write_lock_at_once(tmp_path):
    import sqlite3

    from sqlalchemy.orm import Session

    path = tmp_path / "k.db"
    engine = create_database_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    with Session(engine) as session:
        database.begin_write(session)
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as error:
            assert "locked" in str(error)
        else:
            raise AssertionError("a second writer got the lock")
        finally:
            other.close()
    engine.dispose()
