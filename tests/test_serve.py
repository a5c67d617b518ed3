"""``keyholder serve``: gunicorn workers sharing one instance, an access log
without query strings ("No tokens in logs or URLs", docs/security.md), a
clean stop."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.ports import free_port
from tests.support.settings import TEST_SETTINGS

KEYHOLDER = Path(sys.executable).with_name("keyholder")


@pytest.fixture
def instance(tmp_path, database_url):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update({f"KEYHOLDER_{k}": str(v) for k, v in TEST_SETTINGS.items()})
    env.update(KEYHOLDER_DATABASE_URL=database_url, KEYHOLDER_INSTANCE_PATH=str(tmp_path),
               KEYHOLDER_KEYS_DIR=str(tmp_path / "keys"),
               KEYHOLDER_ISSUER=f"http://127.0.0.1:{port}")
    init = subprocess.run([str(KEYHOLDER), "init"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert init.returncode == 0, init.stderr
    assert "Created RS256 signing key" in init.stdout and "Created ES256 signing key" in init.stdout
    return env, port


def test_serve_runs_workers_and_logs_no_query_strings(instance):
    env, port = instance
    client = json.loads(subprocess.run(
        [str(KEYHOLDER), "client", "add", "Usage API", "--type", "service"], env=env,
        capture_output=True, text=True, timeout=60, check=True).stdout)
    assert len(client["client_secret"]) >= 43 and client["token_endpoint_auth_method"] == \
        "client_secret_basic"
    server = subprocess.Popen([str(KEYHOLDER), "serve", "--port", str(port), "--workers", "2"],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
        assert meta["issuer"] == base
        for _ in range(20):  # several requests: both workers serve the same instance
            token = requests.post(f"{base}/token", data={"grant_type": "client_credentials"},
                                  auth=(client["client_id"], client["client_secret"]),
                                  timeout=10)
            assert token.status_code == 200, token.text
        secret = "SECRET-VALUE-IN-QUERY"
        requests.get(f"{base}/logout", params={"id_token_hint": secret}, timeout=10)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output, _ = server.communicate(timeout=30)
    assert server.returncode == 0, output
    assert '"GET /logout"' in output and '"POST /token"' in output
    assert secret not in output
    assert client["client_secret"] not in output


def test_serve_refuses_bad_settings_in_one_message(instance):
    env, port = instance
    result = subprocess.run([str(KEYHOLDER), "serve", "--port", str(port)],
                            env={**env, "KEYHOLDER_PORT": "not-a-port"}, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "KEYHOLDER_PORT" in result.stderr and "Traceback" not in result.stderr
