"""Login throttling per account and per client address ("Throttle, never lock
out", docs/security.md).

The account key is derived from what was typed, whether or not such an
account exists, so a block says nothing about who has an account."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy.orm import Session

from idp.infrastructure import failure_counters, logs, metrics
from idp.infrastructure.failure_counters import Limit, Throttled

WINDOW = timedelta(minutes=15)
ACCOUNT_LIMIT = 10   # failures per typed e-mail address per window
ADDRESS_LIMIT = 100  # failures per client address per window (offices share addresses)

__all__ = ["Throttled", "check", "record_failure", "record_success"]


def account_key(email: str) -> str:
    typed = email.strip().lower().encode()
    return "login:account:" + hashlib.sha256(typed).hexdigest()[:40]


def address_key(address: str) -> str:
    return "login:ip:" + address[:80]


def _limits(email: str, address: str) -> list[Limit]:
    return [Limit(account_key(email), ACCOUNT_LIMIT, WINDOW),
            Limit(address_key(address), ADDRESS_LIMIT, WINDOW)]


def check(session: Session, email: str, address: str) -> Throttled | None:
    blocked = failure_counters.check(session, _limits(email, address))
    if blocked is not None:
        metrics.count_login("throttled")
        logs.event("login.throttled", "a sign-in was throttled",
                   network=logs.network_of(address))
    return blocked


def record_failure(session: Session, email: str, address: str) -> None:
    metrics.count_login("failed")
    logs.event("login.failed", "a sign-in failed", network=logs.network_of(address))
    failure_counters.record_failure(session, _limits(email, address))


def record_success(session: Session, email: str) -> None:
    """A right password clears the account's count (not the address's)."""
    metrics.count_login("succeeded")
    failure_counters.clear(session, account_key(email))
