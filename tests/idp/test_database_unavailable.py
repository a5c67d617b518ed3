"""A database that does not answer: 503 ``temporarily_unavailable`` at once,
with Retry-After, JSON at the protocol endpoints and a page for browsers, one
log line per request and no traceback (issue 15, "PostgreSQL stopped")."""

from __future__ import annotations

import logging
import socket
import time

import pytest

from idp.infrastructure import database
from idp.login import sessions
from tests.support.apps import build_app


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens there once closed


@pytest.fixture
def app(tmp_path):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/keyholder"
    app = build_app(url, tmp_path)
    yield app
    database.engine(app).dispose()


def test_introspection_answers_503_json_fast(app, caplog):
    client = app.test_client()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="keyholder"):
        answer = client.post("/introspect", data={"token": "x" * 40},
                             headers={"Authorization": "Basic YTpi"})
    elapsed = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.json["error"] == "temporarily_unavailable"
    assert answer.headers["Retry-After"].isdigit()
    assert "active" not in answer.json
    assert elapsed < 2, elapsed
    lines = [r for r in caplog.records if r.name == "keyholder.database"]
    assert len(lines) == 1 and lines[0].exc_info is None
    assert "x" * 40 not in caplog.text


@pytest.mark.parametrize("path", ["/introspect", "/token", "/revoke", "/device_authorization"])
def test_protocol_endpoints_answer_json(app, path):
    answer = app.test_client().post(path, data={"grant_type": "client_credentials",
                                                "token": "t"},
                                    headers={"Authorization": "Basic YTpi"})
    assert answer.status_code == 503, answer.data[:200]
    assert answer.json == {"error": "temporarily_unavailable",
                           "error_description": answer.json["error_description"]}


def test_a_browser_gets_a_page(app):
    client = app.test_client()
    client.set_cookie(sessions.cookie_name(app), "a-session-secret", domain="127.0.0.1")
    answer = client.get("/account/security", base_url=app.config["KEYHOLDER"].ISSUER,
                        headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert answer.status_code == 503
    assert answer.content_type.startswith("text/html")
    assert b"temporarily_unavailable" in answer.data
    assert b"Traceback" not in answer.data


def test_health_says_unavailable(app):
    answer = app.test_client().get("/health")
    assert answer.status_code == 503
