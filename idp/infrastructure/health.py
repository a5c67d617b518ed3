"""Health, for load balancers, orchestrators and the demo.

- ``/health/live``: the process answers (no database, no keys): restart it
  only when this fails.
- ``/health/ready``: send it traffic? 503 with the reasons when the database
  does not answer within a second, there is no signing key, the e-mail outbox
  is more than ``KEYHOLDER_READY_OUTBOX_LAG`` behind, or the node is draining
  after SIGTERM (``keyholder serve``'s ``KEYHOLDER_DRAIN_SECONDS``, so a
  balancer stops sending before the listener closes).
- ``/health``: as before, 200 when the database answers.

The readiness probe never waits on a hung database for long: its query runs
in a thread of its own, at most one at a time, and the answer is given
after a second whatever it is doing."""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, TimeoutError
from datetime import UTC, timedelta

from flask import Blueprint, current_app, jsonify
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.keys import key_store
from idp.outbox.models import OutboxMessage

blueprint = Blueprint("health", __name__)
PROBE_SECONDS = 1.0
# Set by `keyholder serve` in its workers' environment: the file that exists
# while the node drains (not a KEYHOLDER_ setting: the server sets it).
DRAIN_FILE = "_KEYHOLDER_DRAIN_FILE"
_probe_lock = threading.Lock()
_running: dict[int, Future] = {}  # id(app) -> the probe under way


def _answer(code: int, **body):
    response = jsonify(body)
    response.status_code = code
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/health")
def health():
    """200 when the database answers, 503 (fast, no detail) when it does not."""
    try:
        database.session().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return _answer(503, status="unavailable", database="unreachable")
    return _answer(200, status="ok", database="ok")


@blueprint.get("/health/live")
def live():
    return _answer(200, status="ok")


def draining() -> bool:
    path = os.environ.get(DRAIN_FILE)
    return bool(path) and os.path.exists(path)


def _database_facts(app) -> dict:
    """One short read: the database answers, and the oldest unsent e-mail."""
    with database.new_session(app) as db:
        oldest = db.scalar(select(func.min(OutboxMessage.created_at))
                           .where(OutboxMessage.sent_at.is_(None)))
    return {"oldest_unsent": oldest}


def _probe(app) -> Future:
    """The probe of ``app`` under way, or a new one (never two at once)."""
    with _probe_lock:
        running = _running.get(id(app))
        if running is None or running.done():
            running = Future()
            _running[id(app)] = running

            def work(future=running):
                try:
                    future.set_result(_database_facts(app))
                except BaseException as error:  # reported as not ready
                    future.set_exception(error)

            threading.Thread(target=work, name="ready-probe", daemon=True).start()
        return running


@blueprint.get("/health/ready")
def ready():
    app = current_app._get_current_object()
    settings = app.config["KEYHOLDER"]
    problems: dict[str, str] = {}
    if draining():
        problems["node"] = "draining"
    try:
        facts = _probe(app).result(timeout=PROBE_SECONDS)
    except TimeoutError:
        problems["database"] = "slow"
    except Exception:
        problems["database"] = "unreachable"
    else:
        oldest = facts["oldest_unsent"]
        if oldest is not None and utcnow() - _aware(oldest) > timedelta(
                seconds=settings.READY_OUTBOX_LAG):
            problems["outbox"] = "behind"
    try:
        key_store(app).signing_key("ES256")
    except Exception:
        problems["keys"] = "no signing key"
    if problems:
        return _answer(503, status="not ready", **problems)
    return _answer(200, status="ready")


def _aware(moment):
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
