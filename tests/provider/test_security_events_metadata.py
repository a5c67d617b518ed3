"""The transmitter's metadata (OpenID SSF 1.0 §7.1), over real HTTP:
``/.well-known/ssf-configuration`` says who signs (the provider's issuer and
its JWKS), how events can be delivered (push and poll), how a receiver
authorizes (OAuth 2.0), and where each management endpoint is; and each of
those endpoints is a real route that answers a receiver."""

from __future__ import annotations

import requests

from tests.support.databases import ONE_DATABASE
from tests.support.set_receiver import StreamManager

WELL_KNOWN = "/.well-known/ssf-configuration"
ENDPOINTS = ("configuration_endpoint", "status_endpoint", "add_subject_endpoint",
             "remove_subject_endpoint", "verification_endpoint")


def metadata(provider) -> dict:
    response = requests.get(provider.url + WELL_KNOWN, timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    return response.json()


@ONE_DATABASE
def test_the_members_say_who_signs_and_how_events_are_delivered(provider):
    """On one database: the metadata comes from the settings and the code;
    the request carries nothing that reaches a query."""
    meta = metadata(provider)
    assert meta["spec_version"] == "1_0"
    assert meta["issuer"] == provider.url  # exactly: the iss of every SET
    assert sorted(meta["delivery_methods_supported"]) == ["urn:ietf:rfc:8935",
                                                          "urn:ietf:rfc:8936"]
    assert meta["authorization_schemes"] == [{"spec_urn": "urn:ietf:rfc:6749"}]
    assert meta["default_subjects"] == "ALL"  # a stream hears of everyone who used it
    # The JWKS is the provider's own: the one its discovery document names.
    discovery = requests.get(f"{provider.url}/.well-known/openid-configuration",
                             timeout=10).json()
    assert meta["jwks_uri"] == discovery["jwks_uri"]
    jwks = requests.get(meta["jwks_uri"], timeout=10)
    assert jwks.status_code == 200 and jwks.json()["keys"]
    for key in jwks.json()["keys"]:
        assert "d" not in key and key["kid"]  # public keys only
    for name in ENDPOINTS:
        assert meta[name].startswith(provider.url + "/"), (name, meta[name])
    assert len({meta[name] for name in ENDPOINTS}) == len(ENDPOINTS)
    # Discovery metadata may be cached; nothing in it is a secret.
    assert "no-store" not in requests.get(provider.url + WELL_KNOWN, timeout=10) \
        .headers.get("Cache-Control", "")


@ONE_DATABASE
def test_without_a_token_each_endpoint_asks_for_one(provider):
    """On one database: without a bearer token no view reaches a query."""
    meta = metadata(provider)
    for name, method in (("configuration_endpoint", "GET"), ("configuration_endpoint", "POST"),
                         ("status_endpoint", "GET"), ("status_endpoint", "POST"),
                         ("add_subject_endpoint", "POST"), ("remove_subject_endpoint", "POST"),
                         ("verification_endpoint", "POST")):
        response = requests.request(method, meta[name], json={}, timeout=10)
        assert response.status_code == 401, (name, method, response.text)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["error"] == "invalid_token"


def test_each_endpoint_answers_a_receiver(provider):
    """Each endpoint of the metadata serves a receiver with an ``ssf`` token:
    create and read the stream, its status, a subject added and removed,
    a verification requested."""
    meta = metadata(provider)
    service = provider.register("Partner API", "service")
    manager = StreamManager(provider.url, service.client_id, service.client_secret)
    auth = {"Authorization": f"Bearer {manager.access_token}"}

    def call(method: str, name: str, **kwargs) -> requests.Response:
        return requests.request(method, meta[name], headers=auth, timeout=10, **kwargs)

    created = call("POST", "configuration_endpoint", json={})
    assert created.status_code == 201, created.text
    stream_id = created.json()["stream_id"]
    assert created.json()["iss"] == meta["issuer"]
    listed = call("GET", "configuration_endpoint")
    assert listed.status_code == 200 and [s["stream_id"] for s in listed.json()] == [stream_id]
    status = call("GET", "status_endpoint", params={"stream_id": stream_id})
    assert status.status_code == 200 and status.json()["status"] == "enabled"
    subject = {"format": "email", "email": "nobody@example.com"}
    added = call("POST", "add_subject_endpoint", json={"stream_id": stream_id,
                                                         "subject": subject})
    assert added.status_code == 200
    removed = call("POST", "remove_subject_endpoint", json={"stream_id": stream_id,
                                                              "subject": subject})
    assert removed.status_code == 204
    verified = call("POST", "verification_endpoint", json={"stream_id": stream_id})
    assert verified.status_code == 204
    # The poll endpoint is named in the stream's configuration (poll by default).
    poll_url = created.json()["delivery"]["endpoint_url"]
    assert poll_url.startswith(provider.url + "/")
    polled = requests.post(poll_url, json={"maxEvents": 1}, headers=auth, timeout=10)
    assert polled.status_code == 200 and len(polled.json()["sets"]) == 1
