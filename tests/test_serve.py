"""``keyholder serve``: granian workers sharing one instance, an access log
without query strings ("No tokens in logs or URLs", docs/security.md), no
setting in a request's environ, one server per port; each on the installed
command in another process. Its signals and processes:
``test_serve_signals.py``."""

import json
import re
import subprocess
import sys

import pytest
import requests

from tests.support.databases import ONE_DATABASE
from tests.support.ports import free_port
from tests.support.serve_command import (
    KEYHOLDER,
    copy_instance,
    environment,
    kill,
    serve,
    start,
    stop,
    workers,
)

# ADDR [time] "METHOD /path" STATUS SIZE DURATIONms
ACCESS_LINE = re.compile(r'(\S+) \[[^]]+\] "([A-Z]+) ([^ "?]+)" (\d{3}) (\d+|-) \d+\.\dms')


@pytest.fixture
def instance(tmp_path, database_url):
    """An instance made by ``keyholder init``, as an operator would."""
    port = free_port()
    env = environment(tmp_path, database_url, port)
    init = subprocess.run([str(KEYHOLDER), "init"], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert init.returncode == 0, init.stderr
    assert "Created RS256 signing key" in init.stdout and "Created ES256 signing key" in init.stdout
    return env, port


@pytest.fixture
def copied_instance(tmp_path, database_url, keys_template):
    return copy_instance(tmp_path, database_url, keys_template)


def test_serve_runs_workers_and_logs_no_query_strings(instance):
    env, port = instance
    client = json.loads(subprocess.run(
        [str(KEYHOLDER), "client", "add", "Usage API", "--type", "service"], env=env,
        capture_output=True, text=True, timeout=60, check=True).stdout)
    assert len(client["client_secret"]) >= 43 and client["token_endpoint_auth_method"] == \
        "client_secret_basic"
    server = serve(env, port, "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    secret = "SECRET-VALUE-IN-QUERY"
    try:
        assert len(workers(server.pid)) == 2
        meta = requests.get(f"{base}/.well-known/openid-configuration", timeout=10).json()
        assert meta["issuer"] == base
        for _ in range(20):  # several requests: both workers serve the same instance
            token = requests.post(f"{base}/token", data={"grant_type": "client_credentials"},
                                  auth=(client["client_id"], client["client_secret"]),
                                  timeout=10)
            assert token.status_code == 200, token.text
        requests.get(f"{base}/logout", params={"id_token_hint": secret}, timeout=10)
        # A path that would break the line if written as the server decoded it.
        requests.get(f"{base}/no%20such%22page%0A%C3%A9?id_token_hint={secret}", timeout=10)
    finally:
        log = stop(server)
    assert secret not in log and client["client_secret"] not in log
    lines = [line for line in log.splitlines() if ACCESS_LINE.fullmatch(line)]
    assert len(lines) >= 23, log
    assert all(line.startswith("127.0.0.1 [") for line in lines)
    assert re.search(r'"POST /token" 200 \d+ ', log) and '"GET /logout" 400 ' in log
    assert '"GET /no%20such%22page%0A%C3%A9" 400 ' in log


def test_serve_refuses_bad_settings_in_one_message(instance):
    env, port = instance
    result = subprocess.run([str(KEYHOLDER), "serve", "--port", str(port)],
                            env={**env, "KEYHOLDER_PORT": "not-a-port"}, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "KEYHOLDER_PORT" in result.stderr and "Traceback" not in result.stderr


@ONE_DATABASE
def test_a_second_server_cannot_share_the_port(copied_instance):
    """Not a database matter: granian binds with SO_REUSEPORT, which would let a
    second server on the same port take half the connections."""
    env, port = copied_instance
    server = serve(env, port, "--workers", "1")
    second = subprocess.Popen([str(KEYHOLDER), "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              start_new_session=True)
    try:
        errors = second.communicate(timeout=30)[1]
    finally:
        kill(second)
        stop(server)
    assert second.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in errors and "Traceback" not in errors


@ONE_DATABASE
def test_the_settings_never_reach_the_environ_of_a_request(copied_instance):
    """granian copies os.environ into every WSGI environ; the secret settings
    must not reach a request. The database cannot matter."""
    env, port = copied_instance
    command = [sys.executable, "-c",
               "from idp.infrastructure.serve import serve; from idp.settings import "
               f"load_settings; serve('tests.support.environ_echo:create_app', "
               f"load_settings(), '127.0.0.1', {port}, 1, 1)"]
    server = start(command, env, port)
    try:
        names = requests.get(f"http://127.0.0.1:{port}/", timeout=10,
                             headers={"X-Test": "1"}).text.split("\n")
    finally:
        stop(server)
    assert "HTTP_X_TEST" in names and "REQUEST_METHOD" in names and "wsgi.input" in names
    assert not [name for name in names if name.startswith("KEYHOLDER_")]
