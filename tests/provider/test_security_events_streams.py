"""The stream management API (OpenID SSF 1.0 §8) as receivers use it: a
service and a confidential web client get a token by ``client_credentials``
with scope ``ssf``, then create, read, update, replace and delete their
stream, pause, enable and disable it, add and remove subjects, and ask for a
verification event. Over real HTTP, every SET checked with joserfc against
the JWKS the provider publishes; pushes land on a receiver double
(tests/support/set_receiver.py).

The refusals (wrong tokens, another receiver's stream, bad input) are in
test_security_events_refusals.py, on a shared provider; these tests change
the demo people's roles and keep a provider of their own."""

from __future__ import annotations

import json
import time

import pytest
import requests
from sqlalchemy import select

from admin_console.administration import set_role_by_operator
from claims.vocabulary import Role
from idp.infrastructure import database
from idp.security_events.models import PushDelivery
from tests.provider.agents import UserAgent
from tests.snapshots import snapshot
from tests.support.people import MARY, THOMAS
from tests.support.set_receiver import (
    CREDENTIAL_CHANGE,
    POLL,
    PUSH,
    SESSION_REVOKED,
    TOKEN_CLAIMS_CHANGE,
    VERIFICATION,
    StreamManager,
    set_receiver,
    the_event,
    unverified,
    verified_set,
)

ALL_EVENTS = [TOKEN_CLAIMS_CHANGE, SESSION_REVOKED, CREDENTIAL_CHANGE]
SMITH_LTD = "123456789"
STREAM_AUTHORIZATION = "Bearer receiver-secret-b5Yq1"


@pytest.fixture
def receiver():
    with set_receiver() as double:
        yield double


def sign_in(provider, rp, person) -> dict:
    """``person`` signs in to ``rp`` (code flow); the token response."""
    agent = UserAgent(provider.url)
    authorization = rp.authorization(scope="openid profile customer phone")
    code = agent.code_for(rp, authorization, email=person.email, password=person.password)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return response.json()


def operator_sets_role(provider, person, role: Role) -> None:
    """``keyholder member set-role``'s function, in this process."""
    with provider.app.app_context():
        done = set_role_by_operator(provider.app, person.email, SMITH_LTD, role)
    assert done, done


def queued(provider, stream_id: str) -> list[tuple[str, bool]]:
    """(event type, delivered) of every event queued on the stream, oldest first."""
    with database.new_session(provider.app) as db:
        rows = db.scalars(select(PushDelivery).where(PushDelivery.stream_id == stream_id)
                          .order_by(PushDelivery.id))
        return [(next(iter(row.claims["events"])), row.delivered_at is not None)
                for row in rows]


def manager_of(provider, rp) -> StreamManager:
    return StreamManager(provider.url, rp.client_id, rp.client_secret)


def test_a_service_and_a_web_client_get_a_token_for_their_stream(provider):
    service = provider.register("Partner API", "service")
    web = provider.register("Cloud", "web")
    for rp in (service, web):
        response = rp.token(grant_type="client_credentials", scope="ssf")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["scope"] == "ssf" and body["token_type"] == "Bearer"
        assert "refresh_token" not in body and "id_token" not in body
        claims = unverified(body["access_token"])
        assert claims["sub"] == rp.client_id == claims["client_id"]
        assert claims["scope"] == "ssf"
        # The token opens the management API (no stream yet: an empty list).
        listed = requests.get(f"{provider.url}/ssf/streams", timeout=10,
                              headers={"Authorization": f"Bearer {body['access_token']}"})
        assert listed.status_code == 200 and listed.json() == []
        assert listed.headers["Cache-Control"] == "no-store"


def test_a_stream_is_created_read_updated_replaced_and_deleted(provider):
    service = provider.register("Partner API", "service")
    manager = manager_of(provider, service)
    endpoint = "https://partner.example/ssf/events"
    created = manager.create({"delivery": {"method": PUSH, "endpoint_url": endpoint,
                                           "authorization_header": STREAM_AUTHORIZATION},
                              "events_requested": [SESSION_REVOKED],
                              "description": "Partner's stream"})
    assert created.status_code == 201, created.text
    assert created.headers["Cache-Control"] == "no-store"
    config = created.json()
    stream_id = config["stream_id"]
    assert isinstance(stream_id, str) and len(stream_id) >= 16
    assert config == {
        "stream_id": stream_id, "iss": provider.url, "aud": service.client_id,
        "delivery": {"method": PUSH, "endpoint_url": endpoint},
        "events_supported": ALL_EVENTS, "events_requested": [SESSION_REVOKED],
        "events_delivered": [SESSION_REVOKED], "description": "Partner's stream",
        "min_verification_interval": 10}
    # The receiver's credential is kept, and never shown again.
    assert STREAM_AUTHORIZATION not in json.dumps(config)
    assert any(STREAM_AUTHORIZATION in row for rows in snapshot(provider.app).values()
               for row in map(repr, rows))

    one = manager.read(stream_id)
    assert one.status_code == 200 and one.json() == config
    everything = manager.read()
    assert everything.status_code == 200 and everything.json() == [config]

    # PATCH: what is sent changes, nothing else.
    patched = manager.update({"stream_id": stream_id, "description": "Renamed",
                              "events_requested": [TOKEN_CLAIMS_CHANGE, SESSION_REVOKED]})
    assert patched.status_code == 200, patched.text
    assert patched.json() == {**config, "description": "Renamed",
                              "events_requested": [TOKEN_CLAIMS_CHANGE, SESSION_REVOKED],
                              "events_delivered": [TOKEN_CLAIMS_CHANGE, SESSION_REVOKED]}
    assert manager.read(stream_id).json() == patched.json()

    # PUT: the receiver's members it leaves out are removed.
    other = "https://partner.example/ssf/other"
    replaced = manager.replace({"stream_id": stream_id,
                                "delivery": {"method": PUSH, "endpoint_url": other}})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json() == {
        "stream_id": stream_id, "iss": provider.url, "aud": service.client_id,
        "delivery": {"method": PUSH, "endpoint_url": other}, "events_supported": ALL_EVENTS,
        "events_delivered": ALL_EVENTS, "min_verification_interval": 10}
    assert manager.read(stream_id).json() == replaced.json()
    # ...the authorization header too: it is no longer stored.
    assert not any(STREAM_AUTHORIZATION in row for rows in snapshot(provider.app).values()
                   for row in map(repr, rows))

    deleted = manager.delete(stream_id)
    assert deleted.status_code == 204 and deleted.content == b""
    assert manager.read(stream_id).status_code == 404
    assert manager.read().json() == []
    assert manager.delete(stream_id).status_code == 404
    # A receiver without a stream may create one again.
    assert manager.create({}).status_code == 201


def test_without_delivery_a_stream_is_polled(provider):
    web = provider.register("Cloud", "web")
    manager = manager_of(provider, web)
    created = manager.create({})
    assert created.status_code == 201, created.text
    config = created.json()
    assert config["delivery"] == {
        "method": POLL, "endpoint_url": f"{provider.url}/ssf/poll/{config['stream_id']}"}
    assert config["aud"] == web.client_id and config["iss"] == provider.url
    assert config["events_delivered"] == ALL_EVENTS
    assert "events_requested" not in config and "description" not in config
    assert manager.status(config["stream_id"]).json() == {"stream_id": config["stream_id"],
                                                          "status": "enabled"}


def test_paused_holds_enabled_delivers_in_order_disabled_drops(provider, receiver):
    web = provider.register("Cloud", "web")
    sign_in(provider, web, MARY)
    manager = manager_of(provider, web)
    stream_id = manager.push_stream(receiver.url + "/cloud", STREAM_AUTHORIZATION)["stream_id"]
    assert manager.status(stream_id).json() == {"stream_id": stream_id, "status": "enabled"}

    paused = manager.set_status(stream_id, "paused", "Maintenance")
    assert paused.status_code == 200
    assert paused.json() == {"stream_id": stream_id, "status": "paused", "reason": "Maintenance"}
    assert manager.status(stream_id).json() == paused.json()
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)
    assert manager.verify(stream_id, "while paused").status_code == 204
    operator_sets_role(provider, MARY, Role.USER)
    assert queued(provider, stream_id) == [(TOKEN_CLAIMS_CHANGE, False), (VERIFICATION, False),
                                           (TOKEN_CLAIMS_CHANGE, False)]
    time.sleep(0.3)  # the worker was woken by each commit: a push would be here by now
    assert receiver.received() == []

    enabled = manager.set_status(stream_id, "enabled")
    assert enabled.json() == {"stream_id": stream_id, "status": "enabled"}
    pushes = receiver.wait_for(3)
    keys = None
    events = []
    for push in pushes:
        claims = verified_set(provider.url, push.token, web.client_id, keys=keys)
        events.append(the_event(claims))
    assert [(kind, body.get("claims", {}).get("role"), body.get("state"))
            for kind, body in events] == [(TOKEN_CLAIMS_CHANGE, "administrator", None),
                                          (VERIFICATION, None, "while paused"),
                                          (TOKEN_CLAIMS_CHANGE, "user", None)]

    # Disabled: what was held is dropped, nothing new is held.
    manager.set_status(stream_id, "paused")
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)  # held...
    assert queued(provider, stream_id)[-1] == (TOKEN_CLAIMS_CHANGE, False)
    disabled = manager.set_status(stream_id, "disabled", "Not now")
    assert disabled.json() == {"stream_id": stream_id, "status": "disabled", "reason": "Not now"}
    assert [delivered for _, delivered in queued(provider, stream_id)] == [True] * 3  # dropped
    operator_sets_role(provider, MARY, Role.USER)  # ...and this is not even queued
    assert len(queued(provider, stream_id)) == 3
    manager.set_status(stream_id, "enabled")
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)
    fourth = receiver.wait_for(4)[3]
    _, body = the_event(verified_set(provider.url, fourth.token, web.client_id))
    assert body["claims"]["role"] == "administrator"
    time.sleep(0.3)
    assert len(receiver.received()) == 4  # nothing of what was dropped came after all


def test_subjects_added_and_removed(provider, receiver):
    web = provider.register("Cloud", "web")
    mary_sub = unverified(sign_in(provider, web, MARY)["id_token"])["sub"]
    manager = manager_of(provider, web)
    stream_id = manager.push_stream(receiver.url + "/cloud")["stream_id"]

    # Thomas never used Cloud: adding him is accepted and changes nothing, and
    # Cloud does not hear of his promotion (no probing, no harvesting).
    before = snapshot(provider.app)
    added = manager.add_subject(stream_id, {"format": "email", "email": THOMAS.email})
    assert added.status_code == 200 and added.content == b""
    for subject in ({"format": "email", "email": "nobody@example.com"},
                    {"format": "iss_sub", "iss": "https://other.example", "sub": mary_sub},
                    {"format": "iss_sub", "iss": provider.url, "sub": "no-such-subject"},
                    {"format": "opaque", "id": mary_sub},
                    {"format": "complex", "tenant": {"format": "opaque", "id": SMITH_LTD}}):
        assert manager.add_subject(stream_id, subject).status_code == 200, subject
    assert snapshot(provider.app) == before
    operator_sets_role(provider, THOMAS, Role.ADMINISTRATOR)
    assert queued(provider, stream_id) == []

    # Mary removed: her promotion is not sent.
    removed = manager.remove_subject(stream_id, {"format": "iss_sub", "iss": provider.url,
                                                 "sub": mary_sub})
    assert removed.status_code == 204 and removed.content == b""
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)
    assert queued(provider, stream_id) == []
    assert manager.verify(stream_id, "marker").status_code == 204
    (first,) = receiver.wait_for(1)  # events of a stream go in order: nothing came before
    assert the_event(verified_set(provider.url, first.token, web.client_id))[0] == VERIFICATION

    # Added again (by a complex subject naming her e-mail in another case): heard again.
    again = manager.add_subject(stream_id, {"format": "complex", "user": {
        "format": "email", "email": MARY.email.upper()}})
    assert again.status_code == 200
    operator_sets_role(provider, MARY, Role.USER)
    second = receiver.wait_for(2)[1]
    claims = verified_set(provider.url, second.token, web.client_id)
    assert the_event(claims)[0] == TOKEN_CLAIMS_CHANGE
    assert claims["sub_id"]["user"]["sub"] == mary_sub
    assert the_event(claims)[1]["claims"]["role"] == "user"


def test_verification(provider, receiver):
    web = provider.register("Cloud", "web")
    manager = manager_of(provider, web)
    stream_id = manager.push_stream(receiver.url + "/cloud", STREAM_AUTHORIZATION)["stream_id"]
    state = "VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo="
    asked = manager.verify(stream_id, state)
    assert asked.status_code == 204 and asked.content == b""
    (push,) = receiver.wait_for(1)
    assert push.headers["authorization"] == STREAM_AUTHORIZATION
    claims = verified_set(provider.url, push.token, web.client_id)
    assert claims["sub_id"] == {"format": "opaque", "id": stream_id}
    assert claims["events"] == {VERIFICATION: {"state": state}}

    # A second request within min_verification_interval (10 s): 429, nothing queued.
    before = snapshot(provider.app)
    again = manager.verify(stream_id, "again")
    assert again.status_code == 429, again.text
    assert again.json()["error"] and again.json()["error_description"]
    assert snapshot(provider.app) == before
    time.sleep(0.3)
    assert len(receiver.received()) == 1


def test_the_operator_sets_up_a_stream_at_registration(provider):
    runner = provider.app.test_cli_runner()
    before = snapshot(provider.app)
    refused = runner.invoke(args=["client", "add", "Partner", "--type", "service",
                                  "--ssf-push", "http://partner.example/events"])
    assert refused.exit_code != 0 and "https" in refused.output
    assert snapshot(provider.app) == before  # not even the client is registered

    added = runner.invoke(args=["client", "add", "Partner", "--type", "service",
                                "--ssf-push", "https://partner.example/events"])
    assert added.exit_code == 0, added.output
    registered = json.loads(added.output)
    manager = StreamManager(provider.url, registered["client_id"],
                            registered["client_secret"])
    (config,) = manager.read().json()
    assert config["stream_id"] == registered["ssf_stream_id"]
    assert config["delivery"] == {"method": PUSH,
                                  "endpoint_url": "https://partner.example/events"}
    listed = runner.invoke(args=["ssf", "list"])
    assert registered["ssf_stream_id"] in listed.output and "enabled" in listed.output
    assert manager.create({}).status_code == 409  # one stream per receiver


def test_a_stream_gets_only_the_events_it_asked_for(provider, receiver):
    """Verification (and stream-updated) go to every stream, whatever it asked."""
    web = provider.register("Cloud", "web")
    agent = UserAgent(provider.url)
    authorization = web.authorization(scope="openid customer")
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    assert web.redeem(code, authorization.verifier).status_code == 200
    manager = manager_of(provider, web)
    config = manager.push_stream(receiver.url + "/cloud", events_requested=[SESSION_REVOKED])
    assert config["events_delivered"] == [SESSION_REVOKED]
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)  # not asked for
    assert queued(provider, config["stream_id"]) == []
    assert manager.verify(config["stream_id"], "asked").status_code == 204
    # Delivered and recorded before the logout (a logout meeting the worker's
    # commit fails on SQLite: test_security_events_delivery.py shows it).
    deadline = time.monotonic() + 10
    while queued(provider, config["stream_id"]) != [(VERIFICATION, True)]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    out = agent.submit(agent.get("/"), {}, action="/logout")
    assert out.status_code == 200
    pushes = receiver.wait_for(2)
    assert [the_event(verified_set(provider.url, p.token, web.client_id))[0]
            for p in pushes] == [VERIFICATION, SESSION_REVOKED]
