"""Login throttling per account and per client address (SECURITY §2.14).

Failures are counted per key in a fixed window. Past the limit the key is
blocked until the window ends, and never longer: an attacker can slow a
victim's logins down, never lock the victim out for good. The account key is
derived from what was typed, whether or not such an account exists, so a
block says nothing about who has an account. Counters live in the database,
so every provider process sees the same ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.directory.models import utcnow
from idp.login.models import ThrottleCounter

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 10   # failures per typed e-mail address per window
ADDRESS_LIMIT = 100  # failures per client address per window (offices share addresses)


@dataclass(frozen=True)
class Throttled:
    """Logins under this key are refused until ``until``."""

    until: datetime

    @property
    def minutes(self) -> int:
        return max(1, -(-int((self.until - utcnow()).total_seconds()) // 60))


def account_key(email: str) -> str:
    typed = email.strip().lower().encode()
    return "account:" + hashlib.sha256(typed).hexdigest()[:40]


def address_key(address: str) -> str:
    return "ip:" + address[:90]


def _limits(account: str, address: str) -> dict[str, int]:
    return {account: ACCOUNT_LIMIT, address: ADDRESS_LIMIT}


def check(session: Session, email: str, address: str) -> Throttled | None:
    """The block in force for this login attempt, if any."""
    now = utcnow()
    keys = list(_limits(account_key(email), address_key(address)))
    rows = session.scalars(select(ThrottleCounter).where(ThrottleCounter.key.in_(keys))).all()
    blocks = [r.blocked_until for r in rows if r.blocked_until and r.blocked_until > now]
    return Throttled(max(blocks)) if blocks else None


def record_failure(session: Session, email: str, address: str) -> None:
    now = utcnow()
    for key, limit in _limits(account_key(email), address_key(address)).items():
        row = session.get(ThrottleCounter, key, with_for_update=True)
        if row is None or row.window_start + WINDOW <= now:
            if row is None:
                row = ThrottleCounter(key=key, window_start=now, failures=0)
                session.add(row)
            row.window_start, row.failures, row.blocked_until = now, 0, None
        row.failures += 1
        if row.failures >= limit:
            row.blocked_until = row.window_start + WINDOW
    session.flush()


def record_success(session: Session, email: str) -> None:
    """A right password clears the account's count (not the address's)."""
    session.execute(delete(ThrottleCounter).where(ThrottleCounter.key == account_key(email)))


def purge(session: Session) -> int:
    """Forget windows that are over."""
    result = session.execute(delete(ThrottleCounter).where(
        ThrottleCounter.window_start < utcnow() - WINDOW))
    return result.rowcount


__all__ = ["Throttled", "check", "purge", "record_failure", "record_success"]
