"""Counting failures per key in fixed windows, in the database (so every
provider process sees the same counts).

Past its limit a key is blocked until its window ends, and never longer: an
attacker can slow a victim down, never lock the victim out for good. Used by
the login page and by the console's customer-number form."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from idp.directory.models import utcnow
from idp.login.models import ThrottleCounter


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` under ``key`` per ``window``."""

    key: str
    failures: int
    window: timedelta


@dataclass(frozen=True)
class Throttled:
    """Attempts under this key are refused until ``until``."""

    until: datetime

    @property
    def minutes(self) -> int:
        return max(1, -(-int((self.until - utcnow()).total_seconds()) // 60))

    def wait_words(self) -> str:
        return f"{self.minutes} minute{'s' if self.minutes > 1 else ''}"


def check(session: Session, limits: list[Limit]) -> Throttled | None:
    """The block in force for any of ``limits``, if any."""
    now = utcnow()
    rows = session.scalars(select(ThrottleCounter).where(
        ThrottleCounter.key.in_([limit.key for limit in limits]))).all()
    blocks = [r.blocked_until for r in rows if r.blocked_until and r.blocked_until > now]
    return Throttled(max(blocks)) if blocks else None


def record_failure(session: Session, limits: list[Limit]) -> None:
    now = utcnow()
    for limit in limits:
        row = _locked_counter(session, limit.key, now)
        if row.window_start + limit.window <= now:
            row.window_start, row.failures, row.blocked_until = now, 0, None
        row.failures += 1
        if row.failures >= limit.failures:
            row.blocked_until = row.window_start + limit.window
    session.flush()


def _locked_counter(session: Session, key: str, now: datetime) -> ThrottleCounter:
    """The counter of ``key``, created if missing, locked for this transaction.
    Two first failures at once must both count: an INSERT that yields to the
    other's (ON CONFLICT DO NOTHING), then a locking read, instead of a read
    that finds nothing and two INSERTs of one key."""
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ThrottleCounter)
    session.execute(insert.values(key=key, window_start=now, failures=0)
                    .on_conflict_do_nothing(index_elements=["key"]))
    return session.get(ThrottleCounter, key, with_for_update=True, populate_existing=True)


def clear(session: Session, key: str) -> None:
    session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == key))


def purge(session: Session, older_than: timedelta) -> int:
    """Forget windows that are over (the longest window in use)."""
    result = session.execute(delete(ThrottleCounter).where(
        ThrottleCounter.window_start < utcnow() - older_than))
    return result.rowcount
