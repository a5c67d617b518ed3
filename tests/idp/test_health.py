"""Liveness and readiness (issue 15): /health/live needs nothing; /health/ready
says why a node should get no traffic: the database, the keys, an outbox
that is behind, a node that drains."""

from __future__ import annotations

import shutil
import socket
from datetime import timedelta

import pytest

from idp.directory.models import utcnow
from idp.infrastructure import database, health
from idp.outbox.models import OutboxMessage
from tests.support.apps import build_app


@pytest.fixture
def app(make_app, database_url, keys_template, tmp_path):
    shutil.copytree(keys_template, tmp_path / "keys")  # where build_app looks
    return make_app(database_url)


@pytest.fixture
def client(app):
    return app.test_client()


def test_live_and_ready(client):
    assert client.get("/health/live").json == {"status": "ok"}
    answer = client.get("/health/ready")
    assert answer.status_code == 200 and answer.json == {"status": "ready"}
    assert answer.headers["Cache-Control"] == "no-store"


def test_an_outbox_behind_is_not_ready(app, client):
    with database.write_session(app) as db:
        db.add(OutboxMessage(kind="test", recipient="a@example.org", recipient_name="A",
                             subject="s", text_body="t", html_body="h",
                             created_at=utcnow() - timedelta(seconds=app.config[
                                 "KEYHOLDER"].READY_OUTBOX_LAG + 60)))
    answer = client.get("/health/ready")
    assert answer.status_code == 503 and answer.json["outbox"] == "behind"
    assert client.get("/health/live").status_code == 200


def test_a_draining_node_is_not_ready(client, tmp_path, monkeypatch):
    flag = tmp_path / "draining"
    monkeypatch.setenv(health.DRAIN_FILE, str(flag))
    assert client.get("/health/ready").status_code == 200
    flag.touch()
    answer = client.get("/health/ready")
    assert answer.status_code == 503 and answer.json["node"] == "draining"


def test_no_database_is_not_ready_but_alive(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = build_app(f"postgresql+psycopg://postgres@127.0.0.1:{port}/k", tmp_path)
    try:
        client = app.test_client()
        answer = client.get("/health/ready")
        assert answer.status_code == 503 and answer.json["database"] == "unreachable"
        assert client.get("/health/live").status_code == 200
    finally:
        database.engine(app).dispose()
