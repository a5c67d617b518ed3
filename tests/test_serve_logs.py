"""Structured logs (issue 15): ``KEYHOLDER_LOG_FORMAT=json`` makes every line
a JSON object, the access log's too; a request id travels in
``X-Request-Id`` and is on the lines of its request; security events carry
their fields and no secret."""

from __future__ import annotations

import json

import pytest
import requests

from tests.support.databases import ONE_DATABASE
from tests.support.serve_command import copy_instance, kill, output, serve, stop

pytestmark = ONE_DATABASE


@pytest.fixture
def instance(tmp_path, database_url, keys_template):
    env, port = copy_instance(tmp_path, database_url, keys_template)
    return {**env, "KEYHOLDER_LOG_FORMAT": "json"}, port


def test_json_lines_with_request_ids(instance):
    env, port = instance
    server = serve(env, port, "--workers", "1")
    base = f"http://127.0.0.1:{port}"
    secret = "a-wrong-secret-that-must-not-be-logged"
    try:
        mine = requests.get(f"{base}/jwks.json", headers={"X-Request-Id": "trace-42"},
                            timeout=5)
        assert mine.headers["X-Request-Id"] == "trace-42"
        made = requests.get(f"{base}/jwks.json", headers={"X-Request-Id": "x" * 65},
                            timeout=5).headers["X-Request-Id"]
        assert made != "x" * 65 and made.isalnum()
        refused = requests.post(f"{base}/token", data={"grant_type": "client_credentials"},
                                auth=("no-such-client", secret), timeout=5)
        assert refused.status_code == 401
        failed_id = refused.headers["X-Request-Id"]
    finally:
        log = stop(server) if server.poll() is None else (kill(server), output(server))[1]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("event") == "request"]
    assert {(a["path"], a["request_id"]) for a in access} >= {
        ("/jwks.json", "trace-42"), ("/jwks.json", made), ("/token", failed_id)}
    events = [line for line in lines if line.get("logger") == "keyholder.security"]
    assert any(e["event"] == "client_authentication.failed"
               and e["request_id"] == failed_id for e in events), events
    assert secret not in log and "no-such-client" not in json.dumps(events)
    # Every line of the provider's own loggers is JSON (granian's are its own).
    provider_lines = [line for line in log.splitlines() if "keyholder" in line]
    assert all(line.startswith("{") for line in provider_lines), provider_lines
