"""The retry horizon (docs/security-events.md): a receiver still unreachable
``KEYHOLDER_PUSH_RETRY_HORIZON`` after an event was queued has its stream
paused, with the reason, shown to the operator; nothing is dropped, nothing
is sent while paused, and ``keyholder ssf enable`` sends what was held, in
order, then the stream-updated events (SSF §8.1.5): paused, and enabled
again. Both databases.

The event's age is made, not waited for: the row is dated two days back
after its first failed push, so the next failure is past the 24 h horizon."""

from __future__ import annotations

import time
from datetime import timedelta

from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from admin_console.administration import set_role_by_operator
from claims.vocabulary import Role
from idp.clients.models import Client
from idp.directory.models import utcnow
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.protocol.tokens import minting
from idp.security_events.cli import add_stream
from idp.security_events.models import EventStream, PushDelivery
from tests.support.people import MARY
from tests.support.set_receiver import (
    STREAM_UPDATED,
    TOKEN_CLAIMS_CHANGE,
    set_receiver,
    the_event,
)


def _stream(provider, stream_id: str) -> EventStream:
    with database.new_session(provider.app) as db:
        return db.get(EventStream, stream_id)


def test_a_receiver_away_past_the_horizon_pauses_its_stream_until_enabled(provider):
    cloud = provider.register("Cloud", "web")
    app = provider.app
    with set_receiver() as receiver:
        receiver.down()
        with app.app_context(), database.write_session(app) as db:
            stream = add_stream(db, db.get(Client, cloud.client_id), receiver.url + "/events",
                                None, (), None)
            directory = Directory(db)
            db.add(minting.new_family(app, client=db.get(Client, cloud.client_id),
                                      person=directory.person(MARY.email),
                                      scope="openid customer", session_id=None, code_id=None,
                                      auth_time=None, amr=["pwd"], sid=None,
                                      customer_id=directory.customer(MARY.memberships[0][0]).id))
        with app.app_context():
            set_role_by_operator(app, MARY.email, MARY.memberships[0][0], Role.ADMINISTRATOR)
        receiver.wait_for(1, accepted_only=False)  # tried, and the connection dropped
        assert _stream(provider, stream.id).status == "enabled"

        with database.write_session(app) as db:
            db.execute(update(PushDelivery).where(PushDelivery.stream_id == stream.id)
                       .values(created_at=utcnow() - timedelta(days=2),
                               next_attempt_at=utcnow()))
        deadline = time.monotonic() + 10
        while _stream(provider, stream.id).status != "paused" and time.monotonic() < deadline:
            time.sleep(0.05)
        paused = _stream(provider, stream.id)
        assert paused.status == "paused"
        assert paused.reason.startswith("Delivery failing since"), paused.reason

        listed = provider.command("ssf", "list")
        assert listed.returncode == 0, listed.stderr
        line = next(row for row in listed.stdout.splitlines() if stream.id in row)
        assert "paused (Delivery failing since" in line and "waiting=2" in line, line

        tried = len(receiver.received())
        time.sleep(1.5)  # the worker passes every second: a paused stream is left alone
        assert len(receiver.received()) == tried

        receiver.up()
        enabled = provider.command("ssf", "enable", stream.id)
        assert enabled.returncode == 0, enabled.stderr
        pushes = receiver.wait_for(3)

    jwks = KeySet.import_key_set(provider.app.test_client().get("/jwks.json").get_json())
    events = [the_event(jwt.decode(push.token, jwks, algorithms=["ES256"]).claims)
              for push in pushes]
    assert [kind for kind, _ in events] == [TOKEN_CLAIMS_CHANGE, STREAM_UPDATED, STREAM_UPDATED]
    assert events[0][1]["claims"]["role"] == "administrator"
    assert events[1][1] == {"status": "paused", "reason": paused.reason}
    assert events[2][1] == {"status": "enabled"}
    assert _stream(provider, stream.id).status == "enabled"
    with database.new_session(app) as db:
        outcomes = db.scalars(select(PushDelivery.outcome)
                              .where(PushDelivery.stream_id == stream.id)).all()
    assert outcomes == ["delivered"] * 3
