"""One-statement reads for the hot paths: connections of their own in
autocommit mode, each statement prepared once per connection (PostgreSQL),
with one reconnect-and-retry instead of a ping before every use.

The ORM session costs a pool ping, ``BEGIN``, the query and ``ROLLBACK`` per
request, and that ``ROLLBACK`` keeps psycopg from preparing the statement;
here a read is one round trip of a prepared statement. The statements are
SQLAlchemy Core, compiled once for the engine's dialect, so the SQL is the
same as the ORM path's (:mod:`idp.protocol.tokens.live_state`). Idle
connections wait in a list (taking and giving back one is a list operation);
at most as many exist as requests ran at once, and they are closed when the
app's engine is disposed."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, event, exc
from sqlalchemy.sql import Executable


class Unavailable(Exception):
    """The database did not answer (twice), or refused the statement."""


class AutocommitReader:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._idle: list = []
        self._lock = threading.Lock()
        self._generation = 0  # a dispose of the engine starts a new one
        self._compiled: dict[int, tuple[Executable, str, tuple[str, ...] | None]] = {}
        self.postgres = engine.dialect.name == "postgresql"
        dbapi = engine.dialect.loaded_dbapi
        self._lost = (dbapi.OperationalError, dbapi.InterfaceError)
        self._error = dbapi.Error
        event.listen(engine, "engine_disposed", lambda _engine: self.close())

    def __call__(self, statement: Executable, values: dict[str, Any]) -> Sequence[Any] | None:
        """The first row of ``statement`` with ``values``, or None."""
        sql, names = self._compile(statement)
        params = values if names is None else [values[name] for name in names]
        for attempt in (1, 2):
            generation = self._generation
            try:
                connection = self._take()
            except self._error as error:  # no connection to be had: the server is down
                raise Unavailable() from error
            except exc.DBAPIError as error:  # the same, as SQLAlchemy wraps it
                raise Unavailable() from error
            try:
                if self.postgres:
                    row = connection.execute(sql, params, prepare=True).fetchone()
                else:
                    row = connection.execute(sql, params).fetchone()
            except self._error as error:
                _close(connection)
                # A lost connection (a server restart, a failover) is tried again
                # once, on a new one; anything else is for the caller to handle.
                if attempt == 2 or not isinstance(error, self._lost):
                    raise Unavailable() from error
                continue
            except BaseException:
                _close(connection)
                raise
            self._give_back(generation, connection)
            return row
        raise AssertionError("unreachable")

    def _compile(self, statement: Executable) -> tuple[str, tuple[str, ...] | None]:
        known = self._compiled.get(id(statement))
        if known is None or known[0] is not statement:
            compiled = statement.compile(dialect=self.engine.dialect)
            names = tuple(compiled.positiontup) if compiled.positional else None
            known = self._compiled[id(statement)] = (statement, str(compiled), names)
        return known[1], known[2]

    def _take(self):
        try:
            return self._idle.pop()
        except IndexError:
            pass
        # From the engine, so its connect-time settings apply (SQLite's pragmas
        # and autocommit), then kept out of its pool.
        pooled = self.engine.raw_connection()
        connection = pooled.driver_connection
        pooled.detach()
        if self.postgres:
            connection.rollback()  # the pool's ping may have opened a transaction
            connection.autocommit = True
        return connection

    def _give_back(self, generation: int, connection) -> None:
        with self._lock:
            if generation == self._generation:
                self._idle.append(connection)
                return
        _close(connection)

    def close(self) -> None:
        """Close the idle connections; those in use are closed when given back."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for connection in idle:
            _close(connection)


def _close(connection) -> None:
    with contextlib.suppress(Exception):  # already broken, maybe: only let go of it
        connection.close()
