"""The poller (RFC 8936) and ClientCredentials against a small transmitter on
loopback, written here: it keeps the SETs of one stream until they are
acknowledged or refused, answers a poll with the oldest, and issues tokens
of the client credentials grant that it may revoke. What each request
carries is recorded: the acknowledgements of the previous answer, the
``setErrs`` of forged SETs, the bearer token."""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from claims import (
    ClientCredentials,
    Poller,
    ProviderUnavailable,
)
from claims.security_event_types import INVALID_ISSUER, INVALID_KEY, TOKEN_CLAIMS_CHANGE
from tests.claims.provider_double import CLIENT_ID
from tests.claims.security_event_support import (  # and the fixtures they use
    handled_fixture,  # noqa: F401
    receiver_fixture,  # noqa: F401
    reset_provider_double,  # noqa: F401
    security_event,
    served_double,  # noqa: F401
    set_verifier_fixture,  # noqa: F401
)

SECRET = "poller-secret"


@dataclass
class Transmitter:
    """Set ``broken`` (status, body) to answer polls with it, ``refuse_tokens``
    to answer them 401; ``lifetime`` is the ``expires_in`` of the tokens it
    issues (None: left out)."""

    queue: dict[str, str] = field(default_factory=dict)  # jti -> SET, oldest first
    polls: list[dict] = field(default_factory=list)  # the JSON of each poll it answered 200
    authorizations: list[str] = field(default_factory=list)  # of every poll request
    token_requests: list[dict] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=set)
    lifetime: int | None = 300
    broken: tuple[int, bytes] | None = None
    refuse_tokens: bool = False  # every token, as a poll endpoint that lost its keys

    def __post_init__(self) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.01}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self._server.server_close()

    def add(self, jti: str, token: str) -> None:
        with self._lock:
            self.queue[jti] = token

    def revoke_tokens(self) -> None:
        self.valid_tokens.clear()

    def token(self, headers, body: bytes) -> tuple[int, Any]:
        scheme, _, credentials = headers.get("Authorization", "").partition(" ")
        self.token_requests.append({"authorization": (scheme, base64.b64decode(credentials)),
                                    **parse_qs(body.decode())})
        if base64.b64decode(credentials) != f"{CLIENT_ID}:{SECRET}".encode():
            return 401, {"error": "invalid_client"}
        token = f"token-{len(self.token_requests)}"
        self.valid_tokens.add(token)
        answer = {"access_token": token, "token_type": "Bearer", "scope": "ssf"}
        if self.lifetime is not None:
            answer["expires_in"] = self.lifetime
        return 200, answer

    def poll(self, headers, body: bytes) -> tuple[int, Any]:
        authorization = headers.get("Authorization", "")
        self.authorizations.append(authorization)
        if self.refuse_tokens or authorization.removeprefix("Bearer ") not in self.valid_tokens:
            return 401, b""  # no JSON: RFC 6750 puts the error in WWW-Authenticate
        if self.broken is not None:
            return self.broken
        request = json.loads(body)
        with self._lock:
            self.polls.append(request)
            for jti in (*request.get("ack", ()), *request.get("setErrs", {})):
                self.queue.pop(jti, None)
            sets = dict(list(self.queue.items())[:request["maxEvents"]])
            return 200, {"sets": sets, "moreAvailable": len(self.queue) > len(sets)}

    def _handler(self):
        transmitter = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                answer = {"/token": transmitter.token, "/poll": transmitter.poll}[self.path]
                status, content = answer(self.headers, body)
                data = content if isinstance(content, bytes) else json.dumps(content).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture
def transmitter():
    transmitter = Transmitter()
    yield transmitter
    transmitter.stop()


@pytest.fixture
def credentials(transmitter, clock) -> ClientCredentials:
    return ClientCredentials(f"{transmitter.url}/token", CLIENT_ID, SECRET, clock=clock)


@pytest.fixture
def poller(receiver, transmitter, credentials) -> Poller:
    return Poller(receiver, endpoint_url=f"{transmitter.url}/poll", token_source=credentials,
                  timeout=5)


def queue(transmitter, minter, key, *jtis: str) -> None:
    for jti in jtis:
        transmitter.add(jti, security_event(minter, key, jti=jti))


# -- polling ----------------------------------------------------------------------------

def test_sets_are_handled_and_acknowledged_in_the_next_request(poller, transmitter, handled,
                                                               minter, key):
    queue(transmitter, minter, key, "a", "b")
    assert poller.poll_once() == 2
    assert [event.jti for event in handled] == ["a", "b"]
    assert transmitter.polls == [{"maxEvents": 50, "returnImmediately": True, "ack": [],
                                  "setErrs": {}}]
    assert transmitter.authorizations == ["Bearer token-1"]
    assert poller.poll_once() == 0  # the acknowledgements go with the next request
    assert transmitter.polls[1]["ack"] == ["a", "b"] and transmitter.polls[1]["setErrs"] == {}
    assert transmitter.queue == {}
    poller.poll_once()
    assert transmitter.polls[2]["ack"] == []  # sent once
    assert len(handled) == 2


def test_a_forged_set_is_reported_in_set_errs(poller, transmitter, handled, minter, keys):
    queue(transmitter, minter, keys.ec, "genuine")
    transmitter.add("forged", security_event(minter, keys.attacker, jti="forged"))
    transmitter.add("elsewhere", security_event(minter, keys.ec, jti="elsewhere",
                                                iss="https://attacker.example"))
    assert poller.poll_once() == 3
    poller.poll_once()
    request = transmitter.polls[1]
    assert request["ack"] == ["genuine"]
    assert set(request["setErrs"]) == {"forged", "elsewhere"}
    assert request["setErrs"]["forged"]["err"] == INVALID_KEY
    assert request["setErrs"]["elsewhere"]["err"] == INVALID_ISSUER
    assert all(set(error) == {"err", "description"} for error in request["setErrs"].values())
    assert [event.jti for event in handled] == ["genuine"]


def test_a_set_whose_handler_failed_is_neither_acknowledged_nor_refused(
        poller, transmitter, receiver, minter, keys, caplog):
    failures = [RuntimeError("person-mary's row is locked")]
    calls = []

    def flaky(event):
        calls.append(event.jti)
        if event.jti == "b" and failures:
            raise failures.pop()

    receiver.on(TOKEN_CLAIMS_CHANGE, flaky)
    queue(transmitter, minter, keys.ec, "a", "b", "c")
    with caplog.at_level(logging.DEBUG, logger="claims"):
        assert poller.poll_once() == 3
    assert "RuntimeError" in caplog.text and "person-mary" not in caplog.text
    assert poller.poll_once() == 1  # "b" again
    assert transmitter.polls[1]["ack"] == ["a", "c"] and transmitter.polls[1]["setErrs"] == {}
    poller.poll_once()
    assert transmitter.polls[2]["ack"] == ["b"] and transmitter.queue == {}
    assert calls == ["a", "b", "c", "b"]


def test_a_repeat_is_acknowledged_again_but_not_handled(poller, transmitter, handled, minter,
                                                        keys):
    queue(transmitter, minter, keys.ec, "a")
    poller.poll_once()
    poller.poll_once()  # acknowledges "a"...
    queue(transmitter, minter, keys.ec, "a")  # ...which a transmitter may send again
    assert poller.poll_once() == 1
    poller.poll_once()
    assert transmitter.polls[3]["ack"] == ["a"] and transmitter.queue == {}
    assert len(handled) == 1


def test_max_events(receiver, transmitter, credentials, handled, minter, keys):
    poller = Poller(receiver, endpoint_url=f"{transmitter.url}/poll", token_source=credentials,
                    max_events=2)
    queue(transmitter, minter, keys.ec, "a", "b", "c")
    assert poller.poll_once() == 2
    assert poller.poll_once() == 1
    assert [request["maxEvents"] for request in transmitter.polls] == [2, 2]
    assert [event.jti for event in handled] == ["a", "b", "c"]


def test_an_expired_token_is_replaced_once(poller, transmitter, handled, minter, keys):
    queue(transmitter, minter, keys.ec, "a")
    poller.poll_once()
    transmitter.revoke_tokens()  # or expired early
    queue(transmitter, minter, keys.ec, "b")
    assert poller.poll_once() == 1
    assert transmitter.authorizations == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert transmitter.polls[1]["ack"] == ["a"]  # the retry carried the acknowledgements
    assert len(transmitter.token_requests) == 2
    assert [event.jti for event in handled] == ["a", "b"]


def test_a_token_refused_twice_is_a_failure_and_the_acks_wait(poller, transmitter, minter,
                                                              keys):
    queue(transmitter, minter, keys.ec, "a")
    poller.poll_once()
    transmitter.refuse_tokens = True  # the new token too
    with pytest.raises(ProviderUnavailable, match="401"):
        poller.poll_once()
    assert transmitter.authorizations[1:] == ["Bearer token-1", "Bearer token-2"]  # no more
    transmitter.refuse_tokens = False
    poller.poll_once()
    assert transmitter.polls[-1]["ack"] == ["a"]
    assert len(transmitter.token_requests) == 2


@pytest.mark.parametrize("broken", [(500, b"{}"), (400, b'{"error": "invalid_request"}'),
                                    (200, b"[]"), (200, b'{"sets": []}'), (200, b"<html>"),
                                    (200, b'{"sets": {}, "moreAvailable": "no"}')],
                         ids=["500", "400", "array", "sets-a-list", "html", "more-a-string"])
def test_an_answer_that_is_not_rfc_8936_keeps_the_acks(poller, transmitter, minter, keys,
                                                       broken):
    queue(transmitter, minter, keys.ec, "a")
    poller.poll_once()
    transmitter.broken = broken
    with pytest.raises(ProviderUnavailable):
        poller.poll_once()
    transmitter.broken = None
    poller.poll_once()
    assert transmitter.polls[-1]["ack"] == ["a"]


def test_the_transmitter_down(receiver, credentials, transmitter):
    credentials()  # a token, before it goes down
    transmitter.stop()
    poller = Poller(receiver, endpoint_url=f"{transmitter.url}/poll", token_source=credentials)
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        poller.poll_once()


def test_keys_that_cannot_be_fetched_stop_the_batch_unacknowledged(
        poller, transmitter, handled, minter, keys, provider_double, clock):
    queue(transmitter, minter, keys.ec, "a")
    poller.poll_once()
    provider_double.jwks_status = 500
    queue(transmitter, minter, keys.ec_next, "b")  # a new key: its kid is fetched for
    with pytest.raises(ProviderUnavailable):
        poller.poll_once()
    provider_double.jwks_status = 200
    provider_double.publish(keys.rsa, keys.ec, keys.ec_next)
    clock.advance(31)  # past the refetch interval
    assert poller.poll_once() == 1  # "b" again
    assert transmitter.polls[1]["ack"] == ["a"]  # kept from before the failure
    assert transmitter.polls[2]["ack"] == [] and transmitter.polls[2]["setErrs"] == {}
    poller.poll_once()
    assert transmitter.polls[3]["ack"] == ["b"]
    assert [event.jti for event in handled] == ["a", "b"]


def test_flush_sends_the_acks_and_asks_for_nothing(poller, transmitter, handled, minter, keys):
    poller.flush()
    assert transmitter.authorizations == []  # nothing to send: no request
    queue(transmitter, minter, keys.ec, "a", "b")
    poller.poll_once()
    queue(transmitter, minter, keys.ec, "c")
    poller.flush()
    assert transmitter.polls[-1] == {"maxEvents": 0, "returnImmediately": True,
                                     "ack": ["a", "b"], "setErrs": {}}
    assert [event.jti for event in handled] == ["a", "b"]  # "c" waits for the next poll


# -- running ----------------------------------------------------------------------------

def wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_run_polls_until_stopped_and_flushes(poller, transmitter, handled, minter, keys):
    queue(transmitter, minter, keys.ec, "a", "b")
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), kwargs={"interval": 0.01})
    thread.start()
    wait_for(lambda: len(handled) == 2)
    queue(transmitter, minter, keys.ec, "c")
    wait_for(lambda: len(handled) == 3)
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    assert [event.jti for event in handled] == ["a", "b", "c"]
    acked = [jti for request in transmitter.polls for jti in request["ack"]]
    assert sorted(acked) == ["a", "b", "c"] and transmitter.queue == {}


def test_run_acknowledges_at_once_then_waits_the_interval(poller, transmitter, handled,
                                                          minter, keys):
    queue(transmitter, minter, keys.ec, "a")
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), kwargs={"interval": 3.0})
    thread.start()
    wait_for(lambda: len(transmitter.polls) >= 2, seconds=2.0)  # not after the interval
    assert transmitter.polls[1]["ack"] == ["a"]
    time.sleep(0.2)
    assert len(transmitter.polls) == 2  # nothing more to say: it waits
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive() and len(handled) == 1


def test_run_sends_the_acks_still_waiting_when_stopped(poller, transmitter, receiver, minter,
                                                      keys):
    stop = threading.Event()
    receiver.on(TOKEN_CLAIMS_CHANGE, lambda event: stop.set())  # stopped while handling
    queue(transmitter, minter, keys.ec, "a")
    poller.run(stop, interval=0.01)
    assert transmitter.polls[-1] == {"maxEvents": 0, "returnImmediately": True, "ack": ["a"],
                                     "setErrs": {}}
    assert len(transmitter.polls) == 2 and transmitter.queue == {}


def test_run_outlives_errors(poller, transmitter, handled, minter, keys, caplog):
    transmitter.broken = (503, b"{}")
    stop = threading.Event()
    thread = threading.Thread(target=poller.run, args=(stop,), kwargs={"interval": 0.01})
    with caplog.at_level(logging.WARNING, logger="claims"):
        thread.start()
        wait_for(lambda: len(transmitter.authorizations) >= 2)
        transmitter.broken = None
        queue(transmitter, minter, keys.ec, "a")
        wait_for(lambda: len(handled) == 1)
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()
    assert "ProviderUnavailable" in caplog.text and "503" not in caplog.text  # class only
    assert transmitter.polls[-1]["ack"] == ["a"]


# -- client credentials ------------------------------------------------------------------

def test_client_credentials_are_fetched_once_and_kept(credentials, transmitter, clock):
    assert credentials() == "token-1"
    request = transmitter.token_requests[0]
    assert request["authorization"] == ("Basic", f"{CLIENT_ID}:{SECRET}".encode())
    assert request["grant_type"] == ["client_credentials"] and request["scope"] == ["ssf"]
    clock.advance(300 - 30 - 1)
    assert credentials() == "token-1"
    clock.advance(1)  # shortly before expires_in: a new one
    assert credentials() == "token-2"
    credentials.invalidate()
    assert credentials() == "token-3"


def test_a_short_lived_token_is_kept_half_its_life(credentials, transmitter, clock):
    transmitter.lifetime = 20
    assert credentials() == "token-1"
    clock.advance(9)
    assert credentials() == "token-1"
    clock.advance(1)
    assert credentials() == "token-2"


def test_a_token_without_expires_in_is_kept_until_invalidated(credentials, transmitter,
                                                              clock):
    transmitter.lifetime = None
    assert credentials() == "token-1"
    clock.advance(10 * 24 * 3600)
    assert credentials() == "token-1"
    credentials.invalidate()
    assert credentials() == "token-2"


def test_client_credentials_refused(transmitter, clock):
    wrong = ClientCredentials(f"{transmitter.url}/token", CLIENT_ID, "not-the-secret",
                              clock=clock)
    with pytest.raises(ProviderUnavailable, match=r"HTTP 401\) \(invalid_client\)"):
        wrong()
    assert "not-the-secret" not in repr(wrong) and CLIENT_ID in repr(wrong)


@pytest.mark.parametrize("answer", [{"access_token": "t", "token_type": "DPoP"},
                                    {"token_type": "Bearer"}, {"access_token": 7,
                                                               "token_type": "Bearer"}])
def test_client_credentials_not_a_bearer_token(transmitter, credentials, answer):
    transmitter.token = lambda headers, body: (200, answer)
    with pytest.raises(ProviderUnavailable, match="bearer token"):
        credentials()


def test_configuration_is_checked_at_start_up(receiver, credentials):
    for options in ({"endpoint_url": "/poll"}, {"endpoint_url": "ftp://x/poll"},
                    {"endpoint_url": "https://id.example/poll", "max_events": 0},
                    {"endpoint_url": "https://id.example/poll", "max_events": 2.5}):
        with pytest.raises(ValueError):
            Poller(receiver, token_source=credentials, **options)
    with pytest.raises(ValueError):
        ClientCredentials("id.example/token", CLIENT_ID, SECRET)
    with pytest.raises(ValueError):
        ClientCredentials("https://id.example/token", CLIENT_ID, "")
