"""A receiver that is down for 30 s gets every security event once it is back
(issue 12): nothing is lost, the order is kept, and a repeated delivery is
ignored by ``jti``. On PostgreSQL, with ``keyholder worker`` processes
delivering, the first one killed (SIGKILL) in the middle of the outage.

**The setting.** The provider is served in this process (its JWKS, which the
receiver fetches); the changes are the operator's ``member set-role`` (the
function the command runs), committed in this process; delivery is the
business of ``keyholder worker`` in processes of its own, woken by
PostgreSQL's ``NOTIFY`` and retrying every second at most
(``KEYHOLDER_PUSH_RETRY_MAX``). The receiver is the ``claims`` toolkit's
(``Receiver`` behind ``push_endpoint``) in a Flask app on loopback, which
can be stopped (connections refused) and started again on its port.

**The run.** One change while the receiver is up, then the receiver goes
down; ten changes 2.5 s apart; after the fifth the worker is killed and
another started; 30 s after the receiver went down it comes back. Then one
event already delivered is made undelivered in the database, as a worker
that died between the receiver's 202 and its commit leaves it: it is sent
again, and the receiver must not act on it twice."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import select, update
from werkzeug.serving import make_server

from admin_console.administration import set_role_by_operator
from claims.security_event_types import PUSH, TOKEN_CLAIMS_CHANGE
from claims.security_events import Receiver, SecurityEvent, SecurityEventVerifier
from claims.set_push import push_endpoint
from claims.vocabulary import Role
from idp.clients.registry import register_client
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.protocol.tokens import minting
from idp.security_events import streams
from idp.security_events.models import PushDelivery
from keyholder.demo.data import load_demo_data
from tests.support.apps import build_app
from tests.support.databases import migrate_database, scratch_postgres_database
from tests.support.people import MARY
from tests.support.ports import free_port
from tests.support.serve_command import KEYHOLDER, environment, launch, output
from tests.support.serving import listen, served

pytestmark = pytest.mark.postgres

AUTHORIZATION = "Bearer the-receiver-s-own-secret"
DOWN_FOR = 30.0
CHANGES_WHILE_DOWN = 10


class ReceivingService:
    """A partner service's push endpoint, which can be down."""

    def __init__(self, issuer: str, client_id: str, port: int) -> None:
        self.port = port
        self.handled: list[SecurityEvent] = []
        self.posts = 0
        self.receiver = Receiver(SecurityEventVerifier(issuer, audience=client_id))
        self.receiver.on(TOKEN_CLAIMS_CHANGE, self.handled.append)
        self.app = Flask("receiving-service")
        view = push_endpoint(self.receiver, authorization=AUTHORIZATION)

        def counted():
            self.posts += 1
            return view()

        self.app.add_url_rule("/events", "events", counted, methods=["POST"])
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    def up(self) -> None:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def down(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait_for(self, count: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while len(self.handled) < count and time.monotonic() < deadline:
            time.sleep(0.05)


@contextmanager
def worker(env: dict) -> Iterator:
    process = launch([str(KEYHOLDER), "worker", "--interval", "1"], env)
    try:
        yield process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_a_receiver_down_for_30_seconds_gets_every_event_once(tmp_path, keys_template,
                                                              mailbox):
    shutil.copytree(keys_template, tmp_path / "keys")
    listener, issuer = listen()
    settings = {"SMTP_URL": mailbox.url, "PUSH_RETRY_FIRST": "0.5", "PUSH_RETRY_MAX": "1"}
    with scratch_postgres_database("keyholder_test_ssf_outage") as url, listener:
        app = build_app(migrate_database(url), tmp_path, ISSUER=issuer, **settings)
        env = environment(tmp_path, url, issuer)
        env.update({f"KEYHOLDER_{name}": value for name, value in settings.items()})
        try:
            load_demo_data(app)
            with app.app_context(), database.write_session(app) as db:
                cloud = register_client(db, app, "Cloud", "web", first_party=True,
                                        redirect_uris=["http://127.0.0.1:9/cloud/callback"])
                service = ReceivingService(issuer, cloud.client.id, free_port())
                stream = streams.create(db, cloud.client, {"delivery": {
                    "method": PUSH, "endpoint_url": service.url,
                    "authorization_header": AUTHORIZATION}})
                directory = Directory(db)
                db.add(minting.new_family(  # Mary has signed in to Cloud, for Smith ltd
                    app, client=cloud.client, person=directory.person(MARY.email),
                    scope="openid customer", session_id=None, code_id=None, auth_time=None,
                    amr=["pwd"], sid=None,
                    customer_id=directory.customer(MARY.memberships[0][0]).id))
            customer = MARY.memberships[0][0]
            roles = [Role.ADMINISTRATOR, Role.USER]

            def change(n: int) -> None:
                with app.app_context():
                    set_role_by_operator(app, MARY.email, customer, roles[n % 2])

            with served(app, listener):
                service.up()
                with worker(env) as first:
                    change(0)
                    service.wait_for(1, 15)
                    assert len(service.handled) == 1, output(first)[-3000:]
                    service.down()
                    went_down = time.monotonic()
                    for n in range(1, CHANGES_WHILE_DOWN + 1):
                        change(n)
                        if n == CHANGES_WHILE_DOWN // 2:
                            os.killpg(first.pid, signal.SIGKILL)  # in the middle of retries
                            first.wait(timeout=10)
                            second_context = worker(env)
                            second = second_context.__enter__()
                        time.sleep(2.5)
                try:
                    time.sleep(max(0.0, DOWN_FOR - (time.monotonic() - went_down)))
                    assert len(service.handled) == 1  # nothing got through while down
                    service.up()
                    total = CHANGES_WHILE_DOWN + 1
                    service.wait_for(total, 30)
                    assert len(service.handled) == total, output(second)[-3000:]

                    with database.new_session(app) as db:
                        rows = db.scalars(select(PushDelivery)
                                          .where(PushDelivery.stream_id == stream.id)
                                          .order_by(PushDelivery.id)).all()
                    # Every event queued reached the service, once, in the order queued.
                    assert [e.jti for e in service.handled] == [row.jti for row in rows]
                    assert all(row.outcome == "delivered" for row in rows)
                    assert max(row.attempts for row in rows) > 1  # they were tried while down
                    claimed = [e.claims["role"] for e in service.handled]
                    assert claimed == [roles[n % 2].value for n in range(total)]

                    # A worker that died after the 202 and before its commit: sent again.
                    posts = service.posts
                    with database.write_session(app) as db:
                        db.execute(update(PushDelivery).where(PushDelivery.id == rows[0].id)
                                   .values(delivered_at=None, outcome=None))
                        db.execute(update(PushDelivery).where(PushDelivery.id == rows[0].id)
                                   .values(next_attempt_at=rows[0].created_at))
                    deadline = time.monotonic() + 15
                    while service.posts == posts and time.monotonic() < deadline:
                        time.sleep(0.05)
                    assert service.posts == posts + 1, output(second)[-3000:]
                    time.sleep(0.5)
                    assert len(service.handled) == total  # received twice, acted on once
                finally:
                    second_context.__exit__(None, None, None)
                    service.down()
        finally:
            database.engine(app).dispose()
