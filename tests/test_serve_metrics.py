"""``/metrics`` under ``keyholder serve`` with several workers (issue 15):
whichever worker answers the scrape, it counts every worker's requests
(prometheus_client's multiprocess mode)."""

from __future__ import annotations

import pytest
import requests

from tests.idp.test_metrics import value
from tests.support.databases import ONE_DATABASE
from tests.support.serve_command import copy_instance, kill, serve, stop

pytestmark = ONE_DATABASE


@pytest.fixture
def instance(tmp_path, database_url, keys_template):
    return copy_instance(tmp_path, database_url, keys_template)


def test_every_worker_is_counted(instance):
    env, port = instance
    server = serve(env, port, "--workers", "2")
    base = f"http://127.0.0.1:{port}"
    try:
        before = [value(requests.get(f"{base}/metrics", timeout=5).text,
                        "keyholder_http_requests_total", endpoint="jwks", method="GET",
                        status="200") for _ in range(4)]
        with requests.Session() as first, requests.Session() as second:
            for _ in range(20):  # two connections: both workers answer some
                assert first.get(f"{base}/jwks.json", timeout=5).ok
                assert second.get(f"{base}/jwks.json", timeout=5).ok
        after = [value(requests.get(f"{base}/metrics", timeout=5).text,
                       "keyholder_http_requests_total", endpoint="jwks", method="GET",
                       status="200") for _ in range(4)]
    finally:
        stop(server) if server.poll() is None else kill(server)
    assert len(set(before)) == 1 and len(set(after)) == 1  # the same from every worker
    assert after[0] - before[0] == 40
