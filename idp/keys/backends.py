"""Where the signing keys are kept: a folder, or a table of the database.

Both hold one JSON document per key (:class:`idp.keys.records.KeyRecord`,
private key encrypted with the passphrase) under the name ``<kid>.json``, and
offer the store the same four things: read every document with one digest
of them all (readers take no lock), hold the one writer's lock, write or
remove a document under it, and make the change durable.

- :class:`Folder` (``KEYHOLDER_KEYS_STORE=folder``, the default on SQLite and
  for the demo): :mod:`idp.keys.files`, for processes on one machine.
- :class:`Table` (``KEYHOLDER_KEYS_STORE=database``, the default on
  PostgreSQL): the ``signing_key`` table, for nodes on several machines that
  share only the database. A change is one transaction under a lock (an
  advisory lock on PostgreSQL, the write lock on SQLite): readers see the
  keys before it or after it, never a part. Every node reads the table at
  most once per reload interval (a second), so a rotation or a revocation
  on one node is seen by every node within that second (plus one database
  round trip)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy import Column, DateTime, Engine, String, Table, Text, delete, insert, select
from sqlalchemy import update as sql_update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from idp.infrastructure.database import Base
from idp.keys import files
from idp.keys.errors import KeyStoreError

# The table's rows are the folder's files: ``name`` is ``<kid>.json``.
SIGNING_KEY = Table(
    "signing_key", Base.metadata,
    Column("name", String(60), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
ADVISORY_LOCK = 0x6B657973  # "keys": one writer at a time across nodes (PostgreSQL)


class Backend(Protocol):
    def create(self) -> None: ...
    def read_all(self) -> tuple[bytes, dict[str, bytes]]: ...
    def locked(self): ...  # a context manager; writes happen inside it
    def write(self, name: str, data: bytes) -> None: ...
    def remove(self, name: str) -> None: ...
    def where(self, name: str | None = None) -> str: ...


def digest_of(contents: dict[str, bytes]) -> bytes:
    digest = hashlib.sha256()
    for name in sorted(contents):
        data = contents[name]
        digest.update(b"%s\0%d\0%s" % (name.encode(), len(data), data))
    return digest.digest()


class Folder:
    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    def create(self) -> None:
        files.create_directory(self.directory)

    def read_all(self) -> tuple[bytes, dict[str, bytes]]:
        return files.read_all(self.directory)

    @contextmanager
    def locked(self) -> Iterator[None]:
        with files.locked(self.directory):
            yield
            files.sync(self.directory)

    def write(self, name: str, data: bytes) -> None:
        files.write(self.directory, name, data)

    def remove(self, name: str) -> None:
        files.remove(self.directory, name)

    def where(self, name: str | None = None) -> str:
        return str(self.directory / name if name else self.directory)


class Table:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writing: Connection | None = None

    def create(self) -> None:
        """The table comes with the migrations (``keyholder init``)."""

    def read_all(self) -> tuple[bytes, dict[str, bytes]]:
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(select(SIGNING_KEY.c.name, SIGNING_KEY.c.document))
                contents = {name: document.encode() for name, document in rows}
        except SQLAlchemyError as error:
            raise KeyStoreError(f"cannot read the signing keys from the database "
                                f"({type(error).__name__})") from None
        return digest_of(contents), contents

    @contextmanager
    def locked(self) -> Iterator[None]:
        try:
            with self.engine.connect() as connection:
                options = {"sqlite_begin": "IMMEDIATE"}  # SQLite: the write lock first
                with connection.execution_options(**options).begin():
                    if connection.dialect.name == "postgresql":
                        connection.exec_driver_sql(
                            f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK})")
                    self._writing = connection
                    try:
                        yield
                    finally:
                        self._writing = None
        except SQLAlchemyError as error:
            raise KeyStoreError(f"cannot change the signing keys in the database "
                                f"({type(error).__name__})") from None

    def _connection(self) -> Connection:
        if self._writing is None:
            raise KeyStoreError("the signing keys are changed only under the store's lock")
        return self._writing

    def write(self, name: str, data: bytes) -> None:
        connection, now = self._connection(), datetime.now(UTC)
        document = data.decode()
        changed = connection.execute(sql_update(SIGNING_KEY).where(SIGNING_KEY.c.name == name)
                                     .values(document=document, updated_at=now))
        if changed.rowcount == 0:
            connection.execute(insert(SIGNING_KEY).values(name=name, document=document,
                                                          updated_at=now))

    def remove(self, name: str) -> None:
        self._connection().execute(delete(SIGNING_KEY).where(SIGNING_KEY.c.name == name))

    def where(self, name: str | None = None) -> str:
        return f"the database's signing_key table{f' ({name})' if name else ''}"
