"""Waking the worker when a push is queued, so that a role change reaches the
receivers in well under a second instead of at the next pass.

A transaction that queues a push asks for a wake-up after it commits: in this
process (``keyholder demo`` runs the worker as a thread) a flag is set; on
PostgreSQL a ``NOTIFY`` is sent with the commit, which a ``keyholder worker``
on any node hears on its ``LISTEN`` connection. A wake-up that is lost (a
worker restarting) costs only the pass interval: the rows are in the
database, and every pass reads them."""

from __future__ import annotations

import contextlib
import logging
import threading
import time

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

CHANNEL = "keyholder_push"
_FLAG = "keyholder.push_queued"
_local = threading.Event()
log = logging.getLogger("keyholder.outbox")


def after_commit(db: Session) -> None:
    """Wake the workers once ``db``'s transaction has committed (once per transaction)."""
    if db.info.get(_FLAG):
        return
    db.info[_FLAG] = True
    if db.get_bind().dialect.name == "postgresql":
        db.execute(text(f"NOTIFY {CHANNEL}"))  # delivered at commit, dropped at rollback


@event.listens_for(Session, "after_commit")
def _committed(db: Session) -> None:
    if db.info.pop(_FLAG, False):
        _local.set()


@event.listens_for(Session, "after_rollback")
def _rolled_back(db: Session) -> None:
    db.info.pop(_FLAG, None)


class Waiter:
    """What the worker loop waits on between passes: its stop event, this
    process's wake-up, and on PostgreSQL the ``NOTIFY`` of any node."""

    def __init__(self, engine: Engine | None = None) -> None:
        self._connection = None
        if engine is not None and engine.dialect.name == "postgresql":
            try:
                raw = engine.raw_connection()
                raw.driver_connection.autocommit = True
                raw.driver_connection.execute(f"LISTEN {CHANNEL}")
                self._raw = raw
                self._connection = raw.driver_connection
            except Exception as error:  # the pass interval still works without it
                log.warning("push wake-ups: LISTEN failed: %s", type(error).__name__)

    def wait(self, stop: threading.Event, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0 or _local.is_set():
                break
            if self._connection is not None:
                try:
                    if any(True for _ in self._connection.notifies(
                            timeout=min(remaining, 0.2), stop_after=1)):
                        break
                except Exception as error:
                    log.warning("push wake-ups: LISTEN lost: %s", type(error).__name__)
                    self.close()
            else:
                _local.wait(min(remaining, 0.2))
        _local.clear()

    def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            with contextlib.suppress(Exception):  # closing a broken one may fail too
                self._raw.invalidate()
