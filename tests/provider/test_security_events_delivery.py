"""Security events as receivers get them: Security Event Tokens pushed
(RFC 8935) for what changes a person's tokens or ends her sessions, and
polled (RFC 8936).

Pushed: a role change however it happens (self-promotion and step-down in
the console, a hand-over, the operator's ``keyholder member set-role``), a
membership removed (``keyholder member remove``), a suspension
(``keyholder person suspend``: session-revoked, and back-channel logout
tokens), a logout at the provider (session-revoked for that session's
clients only). Each SET is checked as a receiver must, with joserfc against
the JWKS fetched over HTTP (tests/support/set_receiver.py); the expected
claims are the design's entitlement table (docs/design.md), not the code's.

Delivery: a stream hears only of the persons who used its client; a SET the
receiver refuses (400) is not sent again and the next one goes; a stream's
events arrive in the order they were queued even when the first needs
retries. Every test changes the demo people and keeps a provider of its own;
pushes are retried after 0.1 s (``provider_settings``) so that retries cost
little time."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import event, select, update

from admin_console.administration import set_role_by_operator
from claims.vocabulary import Role
from idp.directory.models import Membership, Person, utcnow
from idp.infrastructure import database
from idp.security_events.models import EventStream, PushDelivery
from tests.provider.agents import RelyingParty, UserAgent
from tests.support.people import EMMA, MARY, PHILIP, THOMAS
from tests.support.saved_languages import save_language
from tests.support.set_receiver import (
    DOWN,
    SESSION_REVOKED,
    STREAM_UPDATED,
    TOKEN_CLAIMS_CHANGE,
    VERIFICATION,
    Push,
    SetReceiver,
    StreamManager,
    person_subject,
    provider_keys,
    set_receiver,
    the_event,
    unverified,
    verified_logout_token,
    verified_set,
)

SMITH_LTD, TAYLOR_HOUSEHOLD = "123456789", "987654321"
SCOPE = "openid profile customer phone"
# docs/design.md, "Entitlements", on the web: a business administrator with an
# own mobile, a user with one, a residential administrator with and without one.
ADMIN_WEB = ["bills", "usage:all", "usage:own_mobile", "options:all", "options:activate_paid",
             "options:activate_free:own_mobile", "bizz_club", "onedrive", "tv", "cloud",
             "foot11"]
USER_WITH_MOBILE = ["usage:own_mobile", "options:activate_free:own_mobile"]
HOUSEHOLD_ADMIN_WITH_MOBILE = ["bills", "usage:all", "usage:own_mobile", "options:all",
                               "options:activate_paid", "options:activate_free:own_mobile",
                               "tv", "cloud", "foot11"]
HOUSEHOLD_USER_WITHOUT_MOBILE: list[str] = []


@pytest.fixture
def provider_settings() -> dict:
    return {"PUSH_RETRY_FIRST": 0.1, "PUSH_RETRY_MAX": 0.2}


@pytest.fixture
def receiver():
    with set_receiver() as double:
        yield double


@dataclass
class Receiving:
    """A web client of the provider with its stream, pushed to ``receiver``."""

    rp: RelyingParty
    manager: StreamManager
    stream_id: str
    path: str
    authorization: str
    logout_path: str | None


def receiving(provider, receiver: SetReceiver, name: str, *, backchannel: bool = False,
              first_party: bool = True) -> Receiving:
    slug = "/" + name.lower().replace(" ", "")
    logout = f"{slug}/logout" if backchannel else None
    rp = provider.register(name, "web", first_party=first_party, backchannel_logout_uri=(
        receiver.url + logout if logout else None))
    manager = StreamManager(provider.url, rp.client_id, rp.client_secret)
    authorization = f"Bearer {name.replace(' ', '')}-stream-credential"
    config = manager.push_stream(receiver.url + slug, authorization)
    return Receiving(rp, manager, config["stream_id"], slug, authorization, logout)


def sign_in(provider, rp: RelyingParty, person, agent: UserAgent | None = None,
            **params) -> tuple[UserAgent, dict]:
    """``person`` signs in to ``rp`` (code flow) in ``agent``'s browser."""
    agent = agent or UserAgent(provider.url)
    authorization = rp.authorization(scope=SCOPE, **params)
    login = {} if agent.http.cookies else {"email": person.email,
                                           "password": person.password}
    code = agent.code_for(rp, authorization, **login)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return agent, response.json()


def subject_of(tokens: dict) -> str:
    return unverified(tokens["id_token"])["sub"]


def pushed_set(provider, push: Push, to: Receiving, keys=None, within: float = 120) -> dict:
    """The claims of a pushed SET, after the checks of RFC 8935 §2 (a POST of
    the bare JWT as ``application/secevent+jwt``, with the stream's
    authorization header) and SSF §4.1 (:func:`verified_set`)."""
    assert push.path == to.path
    assert push.headers["content-type"] == "application/secevent+jwt"
    assert push.headers["authorization"] == to.authorization
    assert re.fullmatch(rb"[\w-]+\.[\w-]+\.[\w-]+", push.body), push.body[:80]
    return verified_set(provider.url, push.token, to.rp.client_id, keys=keys, within=within)


def role_change(provider, claims: dict, sub: str, customer: str) -> dict:
    """The body of a token-claims-change about ``sub`` under ``customer``."""
    assert claims["sub_id"] == person_subject(provider.url, sub, tenant={
        "format": "opaque", "id": customer})
    event_type, body = the_event(claims)
    assert event_type == TOKEN_CLAIMS_CHANGE
    assert isinstance(claims["txn"], str) and claims["txn"]
    assert abs(body["event_timestamp"] - time.time()) < 60
    return body


def no_more_than(receiver: SetReceiver, to: Receiving, count: int) -> None:
    """Nothing else is on its way to ``to`` (events of a stream go out in
    order): a verification asked now is the next SET it gets."""
    assert to.manager.verify(to.stream_id, "marker").status_code == 204
    pushes = receiver.wait_for(count + 1, to.path)
    assert len(pushes) == count + 1, [p.claims for p in pushes]
    assert pushes[count].claims["events"] == {VERIFICATION: {"state": "marker"}}


def console_signed_in(agent: UserAgent) -> None:
    """The console opens for the browser's session (no second login)."""
    page = agent.get("/console")
    assert page.status_code == 200, page.status_code


def outcomes(provider, stream_id: str) -> list[tuple[str, str | None, str | None]]:
    """(event type, outcome, last error) of the stream's events, oldest first."""
    with database.new_session(provider.app) as db:
        return [(next(iter(row.claims["events"])), row.outcome, row.last_error)
                for row in db.scalars(select(PushDelivery)
                                      .where(PushDelivery.stream_id == stream_id)
                                      .order_by(PushDelivery.id))]


def settled(provider, stream_id: str, timeout: float = 5.0) -> list[tuple]:
    """:func:`outcomes` once every event has one (the provider records an
    outcome just after the receiver answered)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = outcomes(provider, stream_id)
        if all(outcome is not None for _, outcome, _ in rows) or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def keyholder(provider, *args: str) -> str:
    """``keyholder ARGS`` in this process (Flask's CLI runner); its output."""
    result = provider.app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == 0, result.output
    return result.output


def operator_sets_role(provider, person, role: Role) -> None:
    with provider.app.app_context():
        assert set_role_by_operator(provider.app, person.email, SMITH_LTD, role)


# -- role changes --------------------------------------------------------------------------------

def test_self_promotion_is_pushed_to_the_streams_that_heard_of_her(provider, receiver):
    cloud = receiving(provider, receiver, "Cloud")
    foot11 = receiving(provider, receiver, "Foot 11")
    agent, tokens = sign_in(provider, cloud.rp, MARY)
    sign_in(provider, foot11.rp, PHILIP)  # Foot 11 has users, Mary is not one of them
    mary = subject_of(tokens)

    console_signed_in(agent)
    form = agent.get("/console/become-administrator")
    done = agent.submit(form, {"customer_number": "123 456 789"})
    assert done.status_code == 303, done.text[:300]

    (push,) = receiver.wait_for(1, cloud.path)
    claims = pushed_set(provider, push, cloud)
    body = role_change(provider, claims, mary, SMITH_LTD)
    assert body["claims"] == {"role": "administrator", "entitlements": ADMIN_WEB}
    assert body["initiating_entity"] == "user"
    # What the SET says is what Mary's token says now (introspection reads it live).
    live = cloud.rp.introspect(tokens["access_token"]).json()
    assert live["active"] is True
    assert {name: live[name] for name in body["claims"]} == body["claims"]
    no_more_than(receiver, cloud, 1)  # one SET, nothing for the session's new id
    no_more_than(receiver, foot11, 0)  # Foot 11 never heard of Mary


def test_stepping_down_is_pushed(provider, receiver):
    save_language(provider.app, "en", PHILIP.email)  # the console's English words
    cloud = receiving(provider, receiver, "Cloud")
    agent, tokens = sign_in(provider, cloud.rp, PHILIP)
    console_signed_in(agent)
    page = agent.get("/console/step-down")
    done = agent.follow(agent.submit(page, {}))
    assert "You are now a user" in done.text
    (push,) = receiver.wait_for(1, cloud.path)
    body = role_change(provider, pushed_set(provider, push, cloud), subject_of(tokens),
                       SMITH_LTD)
    assert body["claims"] == {"role": "user", "entitlements": USER_WITH_MOBILE}
    assert body["initiating_entity"] == "user"


def test_a_hand_over_tells_each_stream_of_both_people(provider, receiver):
    cloud = receiving(provider, receiver, "Cloud")
    foot11 = receiving(provider, receiver, "Foot 11")
    thomas_agent, thomas_tokens = sign_in(provider, cloud.rp, THOMAS,
                                          customer_number=TAYLOR_HOUSEHOLD)
    emma_agent, emma_tokens = sign_in(provider, cloud.rp, EMMA)
    sign_in(provider, foot11.rp, EMMA, emma_agent)
    thomas, emma = subject_of(thomas_tokens), subject_of(emma_tokens)

    switched = thomas_agent.follow(thomas_agent.get("/console",
                                                    params={"customer": TAYLOR_HOUSEHOLD}))
    assert 'id="customer-number">987654321' in switched.text
    members = thomas_agent.get("/console/members")
    with database.new_session(provider.app) as db:
        emma_membership = db.scalar(select(Membership.id).join(Person)
                                    .where(Person.email == EMMA.email))
    done = thomas_agent.follow(thomas_agent.submit(
        members, {"membership": str(emma_membership)}, action="/console/hand-over"))
    assert "Emma Taylor is now the administrator" in done.text

    keys = provider_keys(provider.url)
    to_cloud = [pushed_set(provider, p, cloud, keys) for p in receiver.wait_for(2, cloud.path)]
    by_person = {claims["sub_id"]["user"]["sub"]: claims for claims in to_cloud}
    assert set(by_person) == {thomas, emma}
    assert [c["sub_id"]["user"]["sub"] for c in to_cloud] == [thomas, emma]  # as it happened
    thomas_body = role_change(provider, by_person[thomas], thomas, TAYLOR_HOUSEHOLD)
    assert thomas_body["claims"] == {"role": "user",
                                     "entitlements": HOUSEHOLD_USER_WITHOUT_MOBILE}
    assert thomas_body["initiating_entity"] == "user"  # he did it himself
    emma_body = role_change(provider, by_person[emma], emma, TAYLOR_HOUSEHOLD)
    assert emma_body["claims"] == {"role": "administrator",
                                   "entitlements": HOUSEHOLD_ADMIN_WITH_MOBILE}
    assert emma_body["initiating_entity"] == "admin"  # an administrator did it to her

    (to_foot11,) = receiver.wait_for(1, foot11.path)  # Foot 11 heard of Emma only
    foot11_body = role_change(provider, pushed_set(provider, to_foot11, foot11, keys), emma,
                              TAYLOR_HOUSEHOLD)
    assert foot11_body["claims"] == emma_body["claims"]
    assert foot11_body["initiating_entity"] == "admin"
    assert to_foot11.claims["txn"] == by_person[emma]["txn"]  # the same change
    no_more_than(receiver, foot11, 1)
    no_more_than(receiver, cloud, 2)


def test_the_operators_role_change_is_pushed(provider, receiver):
    """In another process, as the operator runs it: its commit wakes this
    process's worker (PostgreSQL's NOTIFY) or the worker's next pass finds it."""
    cloud = receiving(provider, receiver, "Cloud")
    _, tokens = sign_in(provider, cloud.rp, MARY)
    done = provider.command("member", "set-role", MARY.email, "--customer", SMITH_LTD,
                            "--role", "administrator")
    assert done.returncode == 0, done.stderr
    (push,) = receiver.wait_for(1, cloud.path)  # from another process: woken or next pass
    body = role_change(provider, pushed_set(provider, push, cloud), subject_of(tokens),
                       SMITH_LTD)
    assert body["claims"] == {"role": "administrator", "entitlements": ADMIN_WEB}
    assert body["initiating_entity"] == "admin"


def test_a_removed_membership_is_pushed_with_null_claims(provider, receiver):
    cloud = receiving(provider, receiver, "Cloud")
    _, tokens = sign_in(provider, cloud.rp, MARY)
    done = keyholder(provider, "member", "remove", MARY.email, "--customer", SMITH_LTD)
    assert "no longer a member" in done
    (push,) = receiver.wait_for(1, cloud.path)
    body = role_change(provider, pushed_set(provider, push, cloud), subject_of(tokens),
                       SMITH_LTD)
    assert body["claims"] == {"customer_number": None, "role": None, "customer_type": None,
                              "entitlements": None}
    assert body["initiating_entity"] == "admin"
    assert cloud.rp.introspect(tokens["access_token"]).json() == {"active": False}


# -- ended sessions ------------------------------------------------------------------------------

def test_a_suspension_revokes_the_sessions_everywhere(provider, receiver):
    cloud = receiving(provider, receiver, "Cloud", backchannel=True)
    foot11 = receiving(provider, receiver, "Foot 11")
    lab = receiving(provider, receiver, "Lab", backchannel=True)
    agent, tokens = sign_in(provider, cloud.rp, MARY)
    sign_in(provider, foot11.rp, MARY, agent)
    sign_in(provider, lab.rp, PHILIP)  # Lab never saw Mary
    mary, sid = subject_of(tokens), unverified(tokens["id_token"])["sid"]

    done = keyholder(provider, "person", "suspend", MARY.email)
    assert "Suspended Mary Jones: 1 session(s)" in done
    keys = provider_keys(provider.url)
    txns = set()
    for to in (cloud, foot11):
        (push,) = receiver.wait_for(1, to.path)
        claims = pushed_set(provider, push, to, keys)
        assert claims["sub_id"] == person_subject(provider.url, mary)  # all her sessions
        event_type, body = the_event(claims)
        assert event_type == SESSION_REVOKED
        assert body["initiating_entity"] == "admin"
        assert body["reason_admin"]["en"] and abs(body["event_timestamp"] - time.time()) < 60
        txns.add(claims["txn"])
    assert len(txns) == 1  # one cause, one txn
    # The back-channel logout token, to the one client of her session that asked for it.
    (logout,) = receiver.wait_for(1, cloud.logout_path)
    claims = verified_logout_token(provider.url, logout.token, cloud.rp.client_id, keys)
    assert claims["sid"] == sid and claims["sub"] == mary
    assert cloud.rp.introspect(tokens["access_token"]).json() == {"active": False}
    no_more_than(receiver, lab, 0)
    assert receiver.received(lab.logout_path) == []


def test_a_logout_revokes_that_session_for_its_clients_only(provider, receiver):
    cloud = receiving(provider, receiver, "Cloud", backchannel=True)
    foot11 = receiving(provider, receiver, "Foot 11")
    lab = receiving(provider, receiver, "Lab", backchannel=True)
    here, tokens = sign_in(provider, cloud.rp, MARY)
    sign_in(provider, foot11.rp, MARY, here)
    _, elsewhere = sign_in(provider, lab.rp, MARY)  # another browser, another session
    mary, sid = subject_of(tokens), unverified(tokens["id_token"])["sid"]
    assert unverified(elsewhere["id_token"])["sid"] != sid

    out = here.submit(here.get("/"), {}, action="/logout")
    assert out.status_code == 200 and "Vous êtes déconnecté" in out.text  # Mary reads French
    keys = provider_keys(provider.url)
    txns = set()
    for to in (cloud, foot11):
        (push,) = receiver.wait_for(1, to.path)
        claims = pushed_set(provider, push, to, keys)
        assert claims["sub_id"] == person_subject(
            provider.url, mary, session={"format": "opaque", "id": sid})
        event_type, body = the_event(claims)
        assert event_type == SESSION_REVOKED and body["initiating_entity"] == "user"
        txns.add(claims["txn"])
    assert len(txns) == 1
    (logout,) = receiver.wait_for(1, cloud.logout_path)
    assert verified_logout_token(provider.url, logout.token, cloud.rp.client_id,
                                 keys)["sid"] == sid
    no_more_than(receiver, lab, 0)  # Lab heard of Mary, but not of this session
    assert receiver.received(lab.logout_path) == []
    assert lab.rp.introspect(elsewhere["access_token"]).json()["active"] is True


def test_a_logout_while_another_writer_commits_still_signs_out(provider, receiver, request):
    """The push worker writes (a claim, an outcome) whenever a commit queued
    a push, so a logout can meet one of its commits between its first read
    and its first write. Made certain here: another writer (a thread, as the
    worker is) commits, or waits its turn, just before the logout's UPDATE of
    its session. A logout that read first and writes now would find its
    SQLite snapshot too old to write ("database is locked"); one that begins
    its writing as a writer makes the other wait."""
    cloud = receiving(provider, receiver, "Cloud", backchannel=True)
    agent, tokens = sign_in(provider, cloud.rp, MARY)
    engine = database.engine(provider.app)
    committed = []

    def other_writer() -> None:
        with database.write_session(provider.app) as db:  # as the worker's _record does
            db.execute(update(EventStream).where(EventStream.id == cloud.stream_id)
                       .values(updated_at=utcnow()))
        committed.append(True)

    def meanwhile(connection, cursor, statement, parameters, context, executemany) -> None:
        if not writers and statement.lstrip().upper().startswith("UPDATE SSO_SESSION"):
            writers.append(threading.Thread(target=other_writer))
            writers[0].start()
            writers[0].join(timeout=1.0)  # it commits now, unless the logout holds the lock

    writers: list[threading.Thread] = []
    event.listen(engine, "before_cursor_execute", meanwhile)
    try:
        out = agent.submit(agent.get("/"), {}, action="/logout")
    finally:
        event.remove(engine, "before_cursor_execute", meanwhile)
    writers[0].join(timeout=30)
    assert committed
    assert out.status_code == 200 and "Vous êtes déconnecté" in out.text  # Mary reads French
    (push,) = receiver.wait_for(1, cloud.path)
    assert the_event(pushed_set(provider, push, cloud))[0] == SESSION_REVOKED
    receiver.wait_for(1, cloud.logout_path)
    assert cloud.rp.introspect(tokens["access_token"]).json() == {"active": False}


# -- delivery ------------------------------------------------------------------------------------

def test_a_refused_set_is_not_sent_again_and_the_next_one_goes(provider, receiver):
    cloud = receiving(provider, receiver, "Cloud")
    sign_in(provider, cloud.rp, MARY)
    receiver.answer(400, {"err": "invalid_state", "description": "Unexpected state"}, times=1)
    assert cloud.manager.verify(cloud.stream_id, "refused").status_code == 204
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)
    receiver.wait_for(1, cloud.path)  # the accepted one
    pushes = receiver.received(cloud.path)
    assert [(p.answered, the_event(p.claims)[0]) for p in pushes] == [
        (400, VERIFICATION), (202, TOKEN_CLAIMS_CHANGE)]
    rows = settled(provider, cloud.stream_id)
    assert [(kind, outcome) for kind, outcome, _ in rows] == [
        (VERIFICATION, "refused"), (TOKEN_CLAIMS_CHANGE, "delivered")]
    assert "invalid_state" in rows[0][2] and "Unexpected state" in rows[0][2]
    assert cloud.manager.status(cloud.stream_id).json()["status"] == "enabled"


def test_events_arrive_in_the_order_queued_even_when_the_first_is_retried(provider, receiver):
    cloud = receiving(provider, receiver, "Cloud")
    _, tokens = sign_in(provider, cloud.rp, MARY)
    receiver.down()
    assert cloud.manager.verify(cloud.stream_id, "first").status_code == 204
    for role in (Role.ADMINISTRATOR, Role.USER, Role.ADMINISTRATOR):
        operator_sets_role(provider, MARY, role)
    # The first is being retried; the others wait behind it.
    receiver.wait_until(lambda pushes: len(pushes) >= 2)
    receiver.answer(503, times=2)
    receiver.up()
    accepted = receiver.wait_for(4, cloud.path)
    pushes = receiver.received(cloud.path)
    first_accepted = next(i for i, p in enumerate(pushes) if p.answered == 202)
    retried = pushes[:first_accepted + 1]
    assert [p.answered for p in retried].count(DOWN) >= 2
    assert [p.answered for p in retried if p.answered != DOWN] == [503, 503, 202]
    assert {p.claims["jti"] for p in retried} == {accepted[0].claims["jti"]}  # the same SET
    keys = provider_keys(provider.url)
    events = [the_event(pushed_set(provider, p, cloud, keys)) for p in accepted]
    assert [(kind, body.get("state") or body["claims"]["role"]) for kind, body in events] == [
        (VERIFICATION, "first"), (TOKEN_CLAIMS_CHANGE, "administrator"),
        (TOKEN_CLAIMS_CHANGE, "user"), (TOKEN_CLAIMS_CHANGE, "administrator")]
    assert len(pushes) == len(retried) + 3  # each of the others went once
    assert cloud.manager.status(cloud.stream_id).json()["status"] == "enabled"
    assert subject_of(tokens) == accepted[1].claims["sub_id"]["user"]["sub"]


def test_a_poll_stream_gets_its_sets_by_polling(provider, receiver):
    cloud = provider.register("Cloud", "web")
    manager = StreamManager(provider.url, cloud.client_id, cloud.client_secret)
    config = manager.create({}).json()
    stream_id, poll_url = config["stream_id"], config["delivery"]["endpoint_url"]
    _, tokens = sign_in(provider, cloud, MARY)
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)
    operator_sets_role(provider, MARY, Role.USER)
    assert manager.verify(stream_id, "polled").status_code == 204

    def poll(body: dict) -> dict:
        path = poll_url.removeprefix(provider.url)
        response = manager.call("POST", path, body)
        assert response.status_code == 200, response.text
        assert response.headers["Cache-Control"] == "no-store"
        return response.json()

    keys = provider_keys(provider.url)
    first = poll({"maxEvents": 2})
    assert first["moreAvailable"] is True and len(first["sets"]) == 2
    claims = {jti: verified_set(provider.url, token, cloud.client_id, keys=keys)
              for jti, token in first["sets"].items()}
    assert all(c["jti"] == jti for jti, c in claims.items())
    assert sorted(the_event(c)[1]["claims"]["role"] for c in claims.values()) == [
        "administrator", "user"]
    assert poll({"maxEvents": 2})["sets"].keys() == first["sets"].keys()  # until acknowledged

    second = poll({"ack": list(first["sets"]), "maxEvents": 2})
    assert second["moreAvailable"] is False
    ((jti, token),) = second["sets"].items()
    assert verified_set(provider.url, token, cloud.client_id, keys=keys)["events"] == {
        VERIFICATION: {"state": "polled"}}

    third = poll({"setErrs": {jti: {"err": "invalid_state", "description": "Not ours"}},
                  "maxEvents": 0})
    assert third == {"sets": {}, "moreAvailable": False}
    assert poll({}) == {"sets": {}, "moreAvailable": False}
    assert [(kind, outcome) for kind, outcome, _ in outcomes(provider, stream_id)] == [
        (TOKEN_CLAIMS_CHANGE, "acknowledged"), (TOKEN_CLAIMS_CHANGE, "acknowledged"),
        (VERIFICATION, "refused")]
    assert "invalid_state" in outcomes(provider, stream_id)[2][2]
    assert subject_of(tokens) in {c["sub_id"]["user"]["sub"] for c in claims.values()}
    assert receiver.received() == []  # nothing was pushed

    # A push stream is not polled.
    pushed = receiving(provider, receiver, "Foot 11")
    refused = pushed.manager.poll(pushed.stream_id)
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_request"


def paused_by_the_transmitter(provider, receiver) -> Receiving:
    """A stream whose receiver has been down past the retry horizon: its
    first event is made older than the horizon (a day by default) rather
    than waited for."""
    cloud = receiving(provider, receiver, "Cloud")
    receiver.down()
    assert cloud.manager.verify(cloud.stream_id, "held").status_code == 204
    with database.new_session(provider.app) as db:
        db.execute(update(PushDelivery).where(PushDelivery.stream_id == cloud.stream_id)
                   .values(created_at=utcnow() - timedelta(days=2)))
        db.commit()
    deadline = time.monotonic() + 5
    while cloud.manager.status(cloud.stream_id).json()["status"] != "paused":
        assert time.monotonic() < deadline, "the stream was not paused"
        time.sleep(0.05)
    return cloud


def test_the_transmitters_pause_is_a_stream_updated_set_about_the_stream(provider, receiver):
    """(tests/provider/test_push_retry_horizon.py shows the horizon itself.)
    Here: what the receiver reads and gets of it, through the SSF API."""
    cloud = paused_by_the_transmitter(provider, receiver)
    status = cloud.manager.status(cloud.stream_id).json()
    assert status["reason"].startswith("Delivery failing since")
    receiver.up()
    assert cloud.manager.set_status(cloud.stream_id, "enabled").status_code == 200
    held, notice = receiver.wait_for(2, cloud.path)
    keys = provider_keys(provider.url)
    # (The held verification's iat is when it was queued: made two days ago.)
    assert pushed_set(provider, held, cloud, keys, within=3 * 86400)["events"] == {
        VERIFICATION: {"state": "held"}}
    claims = pushed_set(provider, notice, cloud, keys)
    assert claims["sub_id"] == {"format": "opaque", "id": cloud.stream_id}
    assert claims["events"] == {STREAM_UPDATED: {"status": "paused",
                                                 "reason": status["reason"]}}


def test_a_stream_enabled_again_by_the_operator_tells_the_receiver(provider, receiver):
    cloud = paused_by_the_transmitter(provider, receiver)
    receiver.up()
    keyholder(provider, "ssf", "enable", cloud.stream_id)
    receiver.wait_until(lambda pushes: any(STREAM_UPDATED in p.claims["events"]
                                           for p in pushes if p.answered == 202))
    time.sleep(0.3)
    updates = [p.claims["events"][STREAM_UPDATED] for p in receiver.received(accepted_only=True)
               if STREAM_UPDATED in p.claims["events"]]
    assert updates[-1]["status"] == "enabled", updates


def test_a_client_never_granted_the_customer_claims_hears_none_of_them(provider, receiver):
    quiz = receiving(provider, receiver, "Quiz", first_party=False)
    agent = UserAgent(provider.url)
    authorization = quiz.rp.authorization(scope="openid")  # Mary consents to this only
    code = agent.code_for(quiz.rp, authorization, email=MARY.email, password=MARY.password)
    tokens = quiz.rp.redeem(code, authorization.verifier).json()
    assert tokens["scope"] == "openid"
    assert not {"role", "entitlements", "customer_number"} & set(
        unverified(tokens["access_token"]))
    operator_sets_role(provider, MARY, Role.ADMINISTRATOR)
    no_more_than(receiver, quiz, 0)  # neither her role nor her customer number
