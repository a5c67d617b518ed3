"""Failure counters (idp/infrastructure/failure_counters.py) under
concurrency: the first failures of one key, recorded at the same moment by
several requests, all count, and none of them fails. Both databases; on
PostgreSQL the requests really overlap."""

from __future__ import annotations

import threading
from datetime import timedelta

from idp.infrastructure import database
from idp.infrastructure.failure_counters import Limit, check, record_failure
from idp.login.models import ThrottleCounter

TRIES = 6


def test_first_failures_at_once_all_count(app):
    limit = Limit("login:someone@example.com", TRIES, timedelta(minutes=15))
    barrier = threading.Barrier(TRIES)
    errors: list[BaseException] = []

    def fail_once() -> None:
        try:
            barrier.wait(timeout=10)
            with database.write_session(app) as db:
                record_failure(db, [limit])
        except BaseException as error:  # collected: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=fail_once) for _ in range(TRIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    with database.new_session(app) as db:
        row = db.get(ThrottleCounter, limit.key)
        assert row.failures == TRIES
        assert check(db, [limit]) is not None  # the limit is reached: blocked
