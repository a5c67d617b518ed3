"""The directory database: one SQLAlchemy engine per app, one session per app context.

SQLite (the embedded default) is opened in WAL mode with foreign keys on and
a busy timeout, and with transactions begun by us rather than by the sqlite3
module: the driver's own implicit transactions break SAVEPOINT and cannot ask
for ``BEGIN IMMEDIATE``. A unit of work that will write under contention
calls :func:`begin_write` first, so that SQLite takes its write lock at the
start instead of failing with "database is locked" when a reader upgrades.
PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import Flask, current_app, g
from sqlalchemy import DateTime, Engine, Index, TypeDecorator, create_engine, event, exc
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

EXTENSION = "keyholder.database"

# Naming every constraint keeps Alembic migrations reproducible on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A moment in UTC, timezone-aware on the way out on both databases
    (SQLite keeps no zone and hands back naive datetimes)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: Keyholder stores UTC moments only")
        return None if value is None else value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime}


Base.metadata.naming_convention = NAMING_CONVENTION


# Unique indexes that hold a rule, by how each database names a violation of
# it: the constraint's name (PostgreSQL), the columns (SQLite's message).
_RULES: dict[str, Callable[[], Exception]] = {}


def explain_violation(index: Index, error: Callable[[], Exception]) -> None:
    """A statement that violates ``index`` raises ``error()`` (which says which
    rule, in words for people) instead of the driver's IntegrityError: the
    same answer whichever writer broke the rule, and not a traceback."""
    columns = ", ".join(f"{index.table.name}.{column.name}" for column in index.columns)
    _RULES[index.name] = _RULES[f"UNIQUE constraint failed: {columns}"] = error


def _explain(context: ExceptionContext) -> None:
    if not isinstance(context.sqlalchemy_exception, exc.IntegrityError):
        return
    error = context.original_exception
    diag = getattr(error, "diag", None)  # psycopg's
    explain = _RULES.get(diag.constraint_name if diag is not None else str(error))
    if explain is not None:
        raise explain() from context.sqlalchemy_exception


@dataclass(frozen=True)
class Tuning:
    """The pool and the timeouts (settings ``DATABASE_*``; docs/settings.md)."""

    pool_size: int = 5
    pool_overflow: int = 10
    pool_timeout: float = 2.0
    connect_timeout: int = 3
    statement_timeout_ms: int = 10_000
    lock_timeout_ms: int = 5000

    @classmethod
    def from_settings(cls, settings) -> Tuning:
        return cls(settings.DATABASE_POOL_SIZE, settings.DATABASE_POOL_OVERFLOW,
                   settings.DATABASE_POOL_TIMEOUT, settings.DATABASE_CONNECT_TIMEOUT,
                   settings.DATABASE_STATEMENT_TIMEOUT, settings.DATABASE_LOCK_TIMEOUT)

    def postgres_connect_args(self) -> dict:
        # A server that is down refuses at once; one that hangs is given up
        # on by the connect timeout, then by TCP keepalives and
        # tcp_user_timeout (unacknowledged data), and a statement by
        # statement_timeout: no request waits on it for long.
        return {"connect_timeout": self.connect_timeout, "keepalives": 1,
                "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3,
                "tcp_user_timeout": (self.connect_timeout + 2) * 1000,
                "options": f"-c statement_timeout={self.statement_timeout_ms} "
                           f"-c lock_timeout={self.lock_timeout_ms}"}


def create_database_engine(url: str, tuning: Tuning | None = None) -> Engine:
    """An engine for ``url`` with Keyholder's connection settings. Never
    logs statement parameters (they can hold a code's or a token's hash)."""
    tuning = tuning or Tuning()
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)
        _configure_sqlite(engine)
    else:
        # pool_pre_ping: a connection lost since its last use (a restart, a
        # failover) is replaced at checkout, so the request is tried once more.
        engine = create_engine(url, pool_pre_ping=True, hide_parameters=True,
                               pool_size=tuning.pool_size, max_overflow=tuning.pool_overflow,
                               pool_timeout=tuning.pool_timeout,
                               connect_args=tuning.postgres_connect_args())
    event.listen(engine, "handle_error", _explain)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; WAL-safe
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def begin_write(session: Session) -> None:
    """Start ``session``'s transaction as a writer.

    On SQLite this is ``BEGIN IMMEDIATE`` (the write lock is taken now, and
    waiting for it honours the busy timeout); on PostgreSQL an ordinary
    transaction, where row locks (``SELECT ... FOR UPDATE``) do the work.
    Must be the first thing the transaction does."""
    if session.in_transaction():
        raise RuntimeError("begin_write() must start the transaction")
    session.connection(execution_options={"sqlite_begin": "IMMEDIATE"})


def restart_as_writer(session: Session) -> None:
    """End ``session``'s (reading) transaction and begin it again as a writer.

    A SQLite reader whose snapshot is older than another writer's commit can
    never become a writer ("database is locked"); a request that read first
    and writes now starts over. Objects it loaded are reloaded on next use."""
    session.rollback()
    begin_write(session)


@dataclass
class _State:
    engine: Engine
    sessions: sessionmaker[Session]


def init_app(app: Flask, url: str, tuning: Tuning | None = None) -> None:
    engine = create_database_engine(url, tuning)
    app.extensions[EXTENSION] = _State(engine, sessionmaker(engine, expire_on_commit=False))
    app.teardown_appcontext(_close_session)


def engine(app: Flask | None = None) -> Engine:
    return (app or current_app).extensions[EXTENSION].engine


def session() -> Session:
    """The session of the current app context (a request or a CLI command)."""
    if "db_session" not in g:
        g.db_session = current_app.extensions[EXTENSION].sessions()
    return g.db_session


@contextmanager
def new_session(app: Flask | None = None) -> Iterator[Session]:
    """A session of its own, for work outside the request's (threads, workers)."""
    with (app or current_app).extensions[EXTENSION].sessions() as own:
        yield own


@contextmanager
def write_session(app: Flask | None = None) -> Iterator[Session]:
    """A unit of work that writes under contention: its own session, begun as
    a writer (:func:`begin_write`), committed at the end, rolled back on error."""
    with new_session(app) as own:
        begin_write(own)
        try:
            yield own
            own.commit()
        except BaseException:
            own.rollback()
            raise


def _close_session(_exc: BaseException | None) -> None:
    own = g.pop("db_session", None)
    if own is not None:
        own.close()
