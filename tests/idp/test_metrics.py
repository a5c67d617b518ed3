"""``/metrics`` (issue 15): scraped, it shows the counters moving; it answers
loopback (or a trusted network) and the bearer token only."""

from __future__ import annotations

import re

import pytest


def value(text: str, name: str, **labels: str) -> float:
    """The sample ``name{labels}`` of a Prometheus text page (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def scrape(client, **extra) -> str:
    answer = client.get("/metrics", **extra)
    assert answer.status_code == 200, answer.data[:200]
    assert answer.content_type.startswith("text/plain")
    return answer.get_data(as_text=True)


def test_the_counters_move(app, client):
    before = scrape(client)
    for _ in range(3):
        assert client.get("/.well-known/openid-configuration").status_code == 200
    after = scrape(client)
    labels = {"endpoint": "discovery", "method": "GET", "status": "200"}
    assert value(after, "keyholder_http_requests_total", **labels) \
        == value(before, "keyholder_http_requests_total", **labels) + 3
    assert value(after, "keyholder_http_request_duration_seconds_count",
                 endpoint="discovery") >= 3
    assert "keyholder_outbox_depth" in after and "keyholder_signing_key_age_seconds" in after


def test_other_networks_are_refused(client):
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert answer.status_code == 403
    assert b"keyholder_" not in answer.data


@pytest.fixture
def with_token(make_app, database_url):
    return make_app(database_url, METRICS_TOKEN="a-long-random-scrape-token-0123456789",
                    METRICS_NETWORKS="")


def test_the_bearer_token_opens_it(with_token):
    client = with_token.test_client()
    assert client.get("/metrics").status_code == 403  # loopback is not trusted here
    wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 403
    scrape(client, headers={"Authorization": "Bearer a-long-random-scrape-token-0123456789"})
