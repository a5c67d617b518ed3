"""What the stream management API (OpenID SSF 1.0 §8) and poll delivery
(RFC 8936) refuse, each refusal changing nothing: no token or a malformed
header (401 with ``WWW-Authenticate``), a token without scope ``ssf``
(403), a person's token or a revoked one (401), another receiver's stream
(404, as an unknown one), an unknown event type, a push URL that is not
https (http only on loopback) or carries credentials, a transmitter's member
changed, a second stream (409), a body that is not a JSON object, NUL bytes.
And who can get an ``ssf`` token at all: a web client only by asking for
exactly ``scope=ssf``, and never a person through the authorization endpoint.

Refusal tables: one provider per database for the module (tests/README.md,
"Sharing a provider"); each test registers its own clients and compares the
whole database before and after. Both databases: the stream ids, tokens and
strings reach queries (PostgreSQL refuses NUL in text, SQLite takes it)."""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time

import pytest
import requests

from tests.provider.agents import UserAgent
from tests.snapshots import snapshot
from tests.support.people import MARY
from tests.support.set_receiver import (
    POLL,
    PUSH,
    SESSION_REVOKED,
    TOKEN_CLAIMS_CHANGE,
    StreamManager,
    unverified,
)

NUL = "a\x00b"


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def receiver(provider, kind: str = "service", name: str = "Partner API") -> StreamManager:
    rp = provider.register(name, kind)
    return StreamManager(provider.url, rp.client_id, rp.client_secret)


def with_stream(provider, kind: str = "service", body: dict | None = None
                ) -> tuple[StreamManager, str]:
    manager = receiver(provider, kind)
    created = manager.create(body or {})
    assert created.status_code == 201, created.text
    return manager, created.json()["stream_id"]


def refused(response: requests.Response, status: int, error: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["error_description"], body
    if error is not None:
        assert body["error"] == error, body
    return body


def no_traceback(caplog) -> None:
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert errors == [], [r.getMessage() for r in errors]


def logged_if_failed(response: requests.Response, caplog) -> None:
    """The server logs a failure after it has answered: wait for that record,
    so that it lands in this test and not in the next one's no_traceback()."""
    deadline = time.monotonic() + 2
    while response.status_code >= 500 and time.monotonic() < deadline and not any(
            r.exc_info or r.levelno >= logging.ERROR for r in caplog.records):
        time.sleep(0.02)


def every_request(stream_id: str) -> list[tuple[str, str, dict | None, dict | None]]:
    """(method, path, query, body) of every management and poll request on a stream."""
    return [("GET", "/ssf/streams", None, None),
            ("GET", "/ssf/streams", {"stream_id": stream_id}, None),
            ("POST", "/ssf/streams", None, {}),
            ("PATCH", "/ssf/streams", None, {"stream_id": stream_id, "description": "x"}),
            ("PUT", "/ssf/streams", None, {"stream_id": stream_id}),
            ("DELETE", "/ssf/streams", {"stream_id": stream_id}, None),
            ("GET", "/ssf/status", {"stream_id": stream_id}, None),
            ("POST", "/ssf/status", None, {"stream_id": stream_id, "status": "disabled"}),
            ("POST", "/ssf/subjects:add", None,
             {"stream_id": stream_id, "subject": {"format": "email", "email": MARY.email}}),
            ("POST", "/ssf/subjects:remove", None,
             {"stream_id": stream_id, "subject": {"format": "email", "email": MARY.email}}),
            ("POST", "/ssf/verify", None, {"stream_id": stream_id}),
            ("POST", f"/ssf/poll/{stream_id}", None, {"maxEvents": 5})]


def send(provider, method, path, query, body, headers) -> requests.Response:
    return requests.request(method, provider.url + path, params=query, json=body,
                            headers=headers, timeout=10)


# -- who may call -------------------------------------------------------------------------------

@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz",
                                    "Token abc", "Bearer not-a-jwt", "Bearer a.b.c",
                                    "Bearer " + "x" * 9000])
def test_without_a_valid_bearer_token_each_request_is_401(provider, header, caplog):
    _, stream_id = with_stream(provider)
    before = snapshot(provider.app)
    for method, path, query, body in every_request(stream_id):
        headers = {} if header is None else {"Authorization": header}
        response = send(provider, method, path, query, body, headers)
        refused(response, 401, "invalid_token")
        assert response.headers["WWW-Authenticate"].startswith('Bearer realm="ssf"')
    assert snapshot(provider.app) == before
    no_traceback(caplog)


def test_a_token_without_the_ssf_scope_is_403(provider):
    service = provider.register("Partner API", "service")
    _, stream_id = with_stream(provider)
    plain = service.token(grant_type="client_credentials")
    assert plain.status_code == 200 and "ssf" not in plain.json().get("scope", "")
    headers = {"Authorization": f"Bearer {plain.json()['access_token']}"}
    before = snapshot(provider.app)
    for method, path, query, body in every_request(stream_id):
        response = send(provider, method, path, query, body, headers)
        refused(response, 403, "insufficient_scope")
        challenge = response.headers["WWW-Authenticate"]
        assert 'error="insufficient_scope"' in challenge and 'scope="ssf"' in challenge
    assert snapshot(provider.app) == before


def test_a_person_never_gets_an_ssf_token_and_her_token_is_401(provider):
    """A user-facing authorization asking ``scope=openid ssf`` yields no
    ``ssf``: not in the code's token, nor in a refresh asking for it; and
    her access token, a person's, opens no stream."""
    web = provider.register("Cloud", "web")
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid ssf offline_access")
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    tokens = web.redeem(code, authorization.verifier).json()
    assert "ssf" not in tokens.get("scope", "").split()
    assert "ssf" not in unverified(tokens["access_token"]).get("scope", "").split()
    refreshed = web.refresh(tokens["refresh_token"], scope="openid ssf")
    assert "ssf" not in json.dumps(refreshed.json())
    _, stream_id = with_stream(provider, "web")
    before = snapshot(provider.app)
    for token in (tokens["access_token"], tokens["id_token"]):
        for method, path, query, body in every_request(stream_id):
            response = send(provider, method, path, query, body,
                            {"Authorization": f"Bearer {token}"})
            refused(response, 401, "invalid_token")
    assert snapshot(provider.app) == before


def test_a_revoked_token_is_401(provider):
    service = provider.register("Partner API", "service")
    manager = StreamManager(provider.url, service.client_id, service.client_secret)
    stream_id = manager.create({}).json()["stream_id"]
    assert service.revoke(manager.access_token).status_code == 200
    before = snapshot(provider.app)
    for method, path, query, body in every_request(stream_id):
        refused(send(provider, method, path, query, body,
                     {"Authorization": f"Bearer {manager.access_token}"}), 401, "invalid_token")
    assert snapshot(provider.app) == before
    manager.access_token = manager.new_token()  # a new one works
    assert manager.read(stream_id).status_code == 200


def test_another_receivers_stream_is_not_found(provider):
    owner, stream_id = with_stream(provider, body={"description": "Theirs"})
    stranger, own_id = with_stream(provider, "web")
    before = snapshot(provider.app)
    for target in (stream_id, secrets.token_hex(16)):
        for method, path, query, body in every_request(target):
            if query is None and (body == {} or method == "GET"):
                continue  # the requests that name no stream
            response = stranger.call(method, path, body, params=query)
            refused(response, 404, "not_found")
        enable = {"stream_id": target, "status": "enabled"}
        refused(stranger.call("POST", "/ssf/status", enable), 404, "not_found")
    assert snapshot(provider.app) == before
    assert owner.read(stream_id).json()["description"] == "Theirs"
    assert [s["stream_id"] for s in stranger.read().json()] == [own_id]


# -- what a receiver may send -------------------------------------------------------------------

@pytest.mark.parametrize("events", [["urn:example:unknown"],
                                    [TOKEN_CLAIMS_CHANGE, "urn:example:unknown"],
                                    ["https://schemas.openid.net/secevent/ssf/event-type/"
                                     "verification"],
                                    [], "not a list", [1], [None], {"a": 1}])
def test_unknown_event_types_are_400(provider, events):
    manager, stream_id = with_stream(provider, body={"events_requested": [SESSION_REVOKED]})
    fresh = receiver(provider)
    before = snapshot(provider.app)
    refused(fresh.create({"events_requested": events}), 400, "invalid_request")
    refused(manager.update({"stream_id": stream_id, "events_requested": events}), 400)
    refused(manager.replace({"stream_id": stream_id, "events_requested": events}), 400)
    assert snapshot(provider.app) == before
    assert manager.read(stream_id).json()["events_delivered"] == [SESSION_REVOKED]


@pytest.mark.parametrize("url", [
    "ftp://127.0.0.1/events", "http://receiver.example/events", "http://10.0.0.1/events",
    "https://user:secret@receiver.example/events", "https://:secret@receiver.example/",
    "https://receiver.example/events#fragment", "/events", "receiver.example/events", "",
    "https://", "javascript:alert(1)", "https://receiver.example/" + "a" * 2001, 443, None,
    ["https://receiver.example/events"]])
def test_bad_push_urls_are_400(provider, url):
    manager, stream_id = with_stream(provider, body={"delivery": {
        "method": PUSH, "endpoint_url": "https://receiver.example/events"}})
    fresh = receiver(provider)
    before = snapshot(provider.app)
    delivery = {"method": PUSH, "endpoint_url": url}
    refused(fresh.create({"delivery": delivery}), 400, "invalid_request")
    refused(manager.update({"stream_id": stream_id, "delivery": delivery}), 400)
    refused(manager.replace({"stream_id": stream_id, "delivery": delivery}), 400)
    assert snapshot(provider.app) == before


@pytest.mark.parametrize("url", ["https://receiver.example/events", "http://127.0.0.1:9/events",
                                 "http://[::1]:9/events", "http://localhost:9/events"])
def test_good_push_urls_are_taken(provider, url):
    """The control of the table above: https anywhere, http on loopback."""
    manager = receiver(provider)
    created = manager.create({"delivery": {"method": PUSH, "endpoint_url": url}})
    assert created.status_code == 201, created.text
    assert created.json()["delivery"] == {"method": PUSH, "endpoint_url": url}


@pytest.mark.parametrize("delivery", [
    {"method": "urn:example:carrier-pigeon", "endpoint_url": "https://receiver.example/"},
    {"method": POLL, "endpoint_url": "https://receiver.example/"},
    {"method": PUSH}, "push", [PUSH],
    {"method": PUSH, "endpoint_url": "https://receiver.example/", "authorization_header": ""},
    {"method": PUSH, "endpoint_url": "https://receiver.example/", "authorization_header": 5},
    {"method": PUSH, "endpoint_url": "https://receiver.example/",
     "authorization_header": "Bearer " + "x" * 5000}])
def test_bad_deliveries_are_400(provider, delivery):
    fresh = receiver(provider)
    before = snapshot(provider.app)
    refused(fresh.create({"delivery": delivery}), 400, "invalid_request")
    assert snapshot(provider.app) == before


def test_the_transmitters_members_may_come_back_only_unchanged(provider):
    push = {"method": PUSH, "endpoint_url": "https://receiver.example/events"}
    manager, stream_id = with_stream(provider, body={"description": "Mine", "delivery": push})
    config = manager.read(stream_id).json()
    # The control: the configuration sent back as read, with one change, is taken.
    taken = manager.update({**config, "description": "Still mine"})
    assert taken.status_code == 200, taken.text
    assert taken.json() == {**config, "description": "Still mine"}
    config = taken.json()
    fresh = receiver(provider)
    before = snapshot(provider.app)
    for name, value in (("iss", "https://other.example"), ("iss", provider.url + "/"),
                        ("aud", "another-client"), ("stream_id", stream_id.upper()),
                        ("events_supported", [TOKEN_CLAIMS_CHANGE]),
                        ("events_delivered", [SESSION_REVOKED]),
                        ("min_verification_interval", 1),
                        ("inactivity_timeout", 3600)):
        for call in (manager.update, manager.replace):
            body = {**config, name: value, "description": "Changed"}
            response = call(body)
            assert response.status_code in {400, 404}, (name, response.text)
    # On creation, none of them may be sent at all.
    for name in ("stream_id", "iss", "aud", "events_supported", "events_delivered",
                 "min_verification_interval", "inactivity_timeout"):
        refused(fresh.create({name: config.get(name, 60)}), 400, "invalid_request")
    assert snapshot(provider.app) == before
    assert manager.read(stream_id).json() == config


def test_a_poll_streams_configuration_can_be_sent_back_as_read(provider):
    manager, stream_id = with_stream(provider)
    config = manager.read(stream_id).json()
    assert config["delivery"]["method"] == POLL
    for call in (manager.update, manager.replace):
        response = call({**config, "description": "Read, changed, sent back"})
        assert response.status_code == 200, response.text
        assert response.json() == {**config, "description": "Read, changed, sent back"}


def test_a_second_stream_is_409(provider):
    manager, stream_id = with_stream(provider, "web")
    before = snapshot(provider.app)
    for body in ({}, {"delivery": {"method": PUSH, "endpoint_url": "https://r.example/"}}):
        refused(manager.create(body), 409, "conflict")
    assert snapshot(provider.app) == before
    assert [s["stream_id"] for s in manager.read().json()] == [stream_id]


def test_concurrent_creations_make_one_stream(provider, request):
    """Receivers retry: eight creations at once still make one stream."""
    manager = receiver(provider)
    barrier = threading.Barrier(8)
    answers: list[int] = []

    def create() -> None:
        barrier.wait()
        answers.append(manager.create({}).status_code)

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == [201] + [409] * 7
    assert len(manager.read().json()) == 1


NOT_AN_OBJECT = [("text/plain", '{"description": "x"}'), ("application/json", "{"),
                 ("application/json", "[]"), ("application/json", "null"),
                 ("application/json", '"text"'), ("application/json", "5"),
                 ("application/json", b"\xff\xfe{}"), (None, "")]


@pytest.mark.parametrize(("content_type", "data"), NOT_AN_OBJECT)
def test_a_body_that_is_not_a_json_object_is_400(provider, content_type, data, caplog):
    manager, stream_id = with_stream(provider)
    fresh = receiver(provider)
    before = snapshot(provider.app)
    headers = {} if content_type is None else {"Content-Type": content_type}
    calls = [(fresh, "POST", "/ssf/streams")] + [
        (manager, method, path) for method, path in (
            ("PATCH", "/ssf/streams"), ("PUT", "/ssf/streams"), ("POST", "/ssf/status"),
            ("POST", "/ssf/subjects:add"), ("POST", "/ssf/subjects:remove"),
            ("POST", "/ssf/verify"), ("POST", f"/ssf/poll/{stream_id}"))]
    for who, method, path in calls:
        response = who.call(method, path, data=data, headers=headers)
        refused(response, 400, "invalid_request")
    assert snapshot(provider.app) == before
    no_traceback(caplog)


def test_a_deeply_nested_body_is_400(provider, caplog):
    """Well under the 64 KiB body limit, nested deeper than the JSON parser's
    recursion limit: a 400 like any body that cannot be read, not a 500."""
    manager, stream_id = with_stream(provider)
    before = snapshot(provider.app)
    depth = 1500
    subject = '{"format": "complex", "user": ' * depth + '{"format": "opaque", "id": "x"}' \
        + "}" * depth
    body = f'{{"stream_id": "{stream_id}", "subject": {subject}}}'
    response = manager.call("POST", "/ssf/subjects:add", data=body,
                            headers={"Content-Type": "application/json"})
    logged_if_failed(response, caplog)
    assert snapshot(provider.app) == before
    refused(response, 400, "invalid_request")


def test_nul_bytes_are_400(provider, caplog):
    push = {"method": PUSH, "endpoint_url": "https://receiver.example/events"}
    manager, stream_id = with_stream(provider, body={"delivery": push})
    poller, poll_id = with_stream(provider, "web")
    poller.verify(poll_id)  # one event (held for polling), for acknowledgements to find
    fresh = receiver(provider)
    before = snapshot(provider.app)
    bodies = [
        (fresh, "POST", "/ssf/streams", {"description": NUL}),
        (fresh, "POST", "/ssf/streams", {"events_requested": [TOKEN_CLAIMS_CHANGE + "\x00"]}),
        (fresh, "POST", "/ssf/streams",
         {"delivery": {**push, "endpoint_url": push["endpoint_url"] + "\x00"}}),
        (fresh, "POST", "/ssf/streams", {"delivery": {**push, "authorization_header": NUL}}),
        (manager, "PATCH", "/ssf/streams", {"stream_id": stream_id + "\x00"}),
        (manager, "PATCH", "/ssf/streams", {"stream_id": stream_id, "description": NUL}),
        (manager, "PUT", "/ssf/streams", {"stream_id": "\x00"}),
        (manager, "POST", "/ssf/status", {"stream_id": stream_id + "\x00", "status": "paused"}),
        (manager, "POST", "/ssf/status", {"stream_id": stream_id, "status": "paused",
                                          "reason": NUL}),
        (manager, "POST", "/ssf/status", {"stream_id": stream_id, "status": "paused\x00"}),
        (manager, "POST", "/ssf/subjects:add", {"stream_id": NUL, "subject": {
            "format": "email", "email": MARY.email}}),
        (manager, "POST", "/ssf/verify", {"stream_id": stream_id + "\x00"}),
        (manager, "POST", "/ssf/verify", {"stream_id": stream_id, "state": NUL}),
        (poller, "POST", f"/ssf/poll/{poll_id}", {"ack": [NUL]}),
        (poller, "POST", f"/ssf/poll/{poll_id}", {"setErrs": {NUL: {"err": "x"}}}),
    ]
    for who, method, path, body in bodies:
        response = who.call(method, path, body)
        refused(response, 400, "invalid_request")
    for query in ({"stream_id": stream_id + "\x00"}, {"stream_id": NUL}):
        for method, path in (("GET", "/ssf/streams"), ("DELETE", "/ssf/streams"),
                             ("GET", "/ssf/status")):
            refused(manager.call(method, path, params=query), 400, "invalid_request")
    # A subject naming nobody, NUL or not, is silently ignored (SSF §9.1), never a 500.
    for subject in ({"format": "email", "email": MARY.email + "\x00"},
                    {"format": "iss_sub", "iss": provider.url, "sub": NUL}):
        for path, status in (("/ssf/subjects:add", 200), ("/ssf/subjects:remove", 204)):
            response = manager.call("POST", path, {"stream_id": stream_id, "subject": subject})
            assert response.status_code == status, response.text
    assert snapshot(provider.app) == before
    no_traceback(caplog)


@pytest.mark.parametrize("body", [
    {"ack": "not a list"}, {"ack": [1]}, {"ack": ["x"] * 1001}, {"setErrs": []},
    {"setErrs": {"jti": "not an object"}}, {"maxEvents": -1}, {"maxEvents": "5"},
    {"maxEvents": True}, {"maxEvents": 1.5}])
def test_bad_poll_requests_are_400(provider, body):
    poller, poll_id = with_stream(provider, "web")
    poller.verify(poll_id)
    before = snapshot(provider.app)
    refused(poller.poll(poll_id, body), 400, "invalid_request")
    assert snapshot(provider.app) == before


def test_a_push_stream_cannot_be_polled(provider):
    manager, stream_id = with_stream(provider, body={"delivery": {
        "method": PUSH, "endpoint_url": "https://receiver.example/events"}})
    before = snapshot(provider.app)
    refused(manager.poll(stream_id), 400, "invalid_request")
    assert snapshot(provider.app) == before



@pytest.mark.parametrize("body", [{"status": "on"}, {"status": None}, {"status": "Paused"},
                                  {"status": "paused", "reason": 5},
                                  {"status": "paused", "reason": "x" * 301},
                                  {"status": ["paused"]},
                                  {"status": {"paused": 1}}])
def test_bad_status_updates_are_400(provider, body, caplog):
    manager, stream_id = with_stream(provider)
    before = snapshot(provider.app)
    response = manager.call("POST", "/ssf/status", {"stream_id": stream_id, **body})
    logged_if_failed(response, caplog)
    refused(response, 400)
    assert snapshot(provider.app) == before
    assert manager.status(stream_id).json()["status"] == "enabled"


@pytest.mark.parametrize("body", [{}, {"subject": "mary"}, {"subject": {"email": MARY.email}},
                                  {"subject": {"format": 5}}, {"subject": None},
                                  {"subject": {"format": "email", "email": MARY.email},
                                   "verified": "yes"}])
def test_bad_subjects_are_400(provider, body):
    manager, stream_id = with_stream(provider)
    before = snapshot(provider.app)
    for path in ("/ssf/subjects:add", "/ssf/subjects:remove"):
        refused(manager.call("POST", path, {"stream_id": stream_id, **body}), 400)
    assert snapshot(provider.app) == before


# -- who gets an ssf token ----------------------------------------------------------------------

def test_a_web_client_gets_client_credentials_only_for_exactly_ssf(provider):
    web = provider.register("Cloud", "web")
    resource = f"https://orders-{secrets.token_hex(4)}.example/"
    provider.register("Orders API", "service", resource_uri=resource)
    app = provider.register("MyApp", "native", redirect_uris=["http://127.0.0.1/callback"])
    before = snapshot(provider.app)
    for data in ({}, {"scope": "openid"}, {"scope": "ssf openid"}, {"scope": "openid ssf"},
                 {"scope": "ssf ssf"}, {"scope": "profile"}, {"scope": "ssf", "resource": resource},
                 {"scope": "ssf", "resource": f"{provider.url}/x"}):
        response = web.token(grant_type="client_credentials", **data)
        assert response.status_code in {400, 401}, (data, response.text)
        assert response.json()["error"] == "unauthorized_client", (data, response.text)
        # A public client has no secret to get one with.
        public = app.token(grant_type="client_credentials", **data)
        assert public.status_code in {400, 401} and "access_token" not in public.json()
    assert snapshot(provider.app) == before
    # The control: exactly `scope=ssf`.
    granted = web.token(grant_type="client_credentials", scope="ssf")
    assert granted.status_code == 200 and granted.json()["scope"] == "ssf"
