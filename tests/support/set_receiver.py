"""The receiving side of Shared Signals, written with ``requests``,
``http.server`` and joserfc only (nothing of the provider's code):

- :class:`SetReceiver`, a push endpoint (RFC 8935) on loopback that keeps
  every POST it gets (path, headers, body, what it answered). It answers 202
  by default; it can be told to answer other statuses (with a body), or to be
  down (the connection is dropped without an answer);
- :class:`StreamManager`, a receiver's client of the stream management API
  (SSF 1.0 §8) and of poll delivery (RFC 8936), with its ``ssf`` token;
- :func:`verified_set`, a Security Event Token checked against the
  provider's JWKS fetched over HTTP, as a receiver must (SSF §4.1).

The event type URIs are written out here, from the specifications: the
contract, not the provider's constants."""

from __future__ import annotations

import base64
import json
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support.serving import POLL_INTERVAL

CAEP = "https://schemas.openid.net/secevent/caep/event-type/"
SSF = "https://schemas.openid.net/secevent/ssf/event-type/"
TOKEN_CLAIMS_CHANGE = CAEP + "token-claims-change"
SESSION_REVOKED = CAEP + "session-revoked"
CREDENTIAL_CHANGE = CAEP + "credential-change"
VERIFICATION = SSF + "verification"
STREAM_UPDATED = SSF + "stream-updated"
BACKCHANNEL_LOGOUT = "http://schemas.openid.net/event/backchannel-logout"
PUSH = "urn:ietf:rfc:8935"
POLL = "urn:ietf:rfc:8936"
SET_MEDIA_TYPE = "application/secevent+jwt"

DOWN = 0  # the status of an attempt the double dropped without answering


@dataclass(frozen=True)
class Push:
    """One POST the double received."""

    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    answered: int  # the status it answered, DOWN when it dropped the connection

    @property
    def token(self) -> str:
        """The JWT of the request: the body of a SET push, or the
        ``logout_token`` form field of a back-channel logout."""
        if self.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            return parse_qs(self.body.decode())["logout_token"][0]
        return self.body.decode()

    @property
    def claims(self) -> dict[str, Any]:
        """The token's claims, unverified (to tell pushes apart; check them
        with :func:`verified_set`)."""
        return unverified(self.token)


def unverified(token: str) -> dict[str, Any]:
    """A JWT's claims, read without checking anything (to pick tokens apart)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


class SetReceiver:
    """A receiver's push endpoint on a free loopback port."""

    def __init__(self) -> None:
        self.pushes: list[Push] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._script: deque[tuple[int, dict | None]] = deque()
        self._always: tuple[int, dict | None] = (202, None)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver._next_answer()
                push = Push(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                            status)
                if status == DOWN:
                    # Drop the connection with a reset: the sender gets no answer.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                    self.close_connection = True
                    receiver._record(push)
                    raise ConnectionAbortedError("the receiver is down")
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                if payload:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                receiver._record(push)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address) -> None:
                pass  # a dropped connection is the point, not an error

        self._server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": POLL_INTERVAL}, daemon=True)

    # -- what it answers ------------------------------------------------------------------------

    def answer(self, status: int, body: dict | None = None, *, times: int | None = None) -> None:
        """Answer ``status`` (with ``body`` as JSON) to the next ``times`` POSTs;
        with ``times`` None, to every POST after those already scripted."""
        with self._lock:
            if times is None:
                self._always = (status, body)
            else:
                self._script.extend([(status, body)] * times)

    def down(self, *, times: int | None = None) -> None:
        """Drop the connection of the next ``times`` POSTs (of all when None)."""
        self.answer(DOWN, times=times)

    def up(self) -> None:
        """Answer 202 from now on, after what is scripted."""
        self.answer(202)

    def _next_answer(self) -> tuple[int, dict | None]:
        with self._lock:
            return self._script.popleft() if self._script else self._always

    def _record(self, push: Push) -> None:
        with self._arrived:
            self.pushes.append(push)
            self._arrived.notify_all()

    # -- what it got ----------------------------------------------------------------------------

    def received(self, path: str | None = None, *, accepted_only: bool = False) -> list[Push]:
        with self._lock:
            return [p for p in self.pushes if (path is None or p.path == path)
                    and (not accepted_only or 200 <= p.answered < 300)]

    def wait_for(self, count: int, path: str | None = None, *, accepted_only: bool = True,
                 timeout: float = 10.0) -> list[Push]:
        """At least ``count`` POSTs (to ``path``; accepted ones unless told
        otherwise), waiting up to ``timeout`` seconds; fails if they do not come."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while True:
                got = [p for p in self.pushes if (path is None or p.path == path)
                       and (not accepted_only or 200 <= p.answered < 300)]
                if len(got) >= count or time.monotonic() >= deadline:
                    break
                self._arrived.wait(min(0.05, max(0.0, deadline - time.monotonic())))
        assert len(got) >= count, (f"{len(got)} of {count} pushes to {path or 'any path'} "
                                   f"in {timeout} s: {[p.claims for p in got]}")
        return got

    def wait_until(self, condition: Callable[[list[Push]], bool], timeout: float = 10.0
                   ) -> list[Push]:
        deadline = time.monotonic() + timeout
        with self._arrived:
            while not condition(list(self.pushes)) and time.monotonic() < deadline:
                self._arrived.wait(0.05)
            pushes = list(self.pushes)
        assert condition(pushes), [(p.path, p.answered, p.claims) for p in pushes]
        return pushes

    # -- running --------------------------------------------------------------------------------

    def start(self) -> SetReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


@contextmanager
def set_receiver() -> Iterator[SetReceiver]:
    receiver = SetReceiver().start()
    try:
        yield receiver
    finally:
        receiver.stop()


# -- checking a SET, as a receiver does ---------------------------------------------------------

def provider_keys(issuer: str) -> tuple[KeySet, dict]:
    """The provider's JWKS, fetched over HTTP (its jwks_uri of the SSF metadata)."""
    meta = requests.get(f"{issuer}/.well-known/ssf-configuration", timeout=10).json()
    jwks = requests.get(meta["jwks_uri"], timeout=10).json()
    return KeySet.import_key_set(jwks), jwks


def verified_set(issuer: str, token: str, audience: str, *, keys: tuple | None = None,
                 within: float = 120) -> dict[str, Any]:
    """The claims of ``token``, a SET checked as SSF §4.1 asks: its signature
    by a key of the provider's JWKS (the header's ``kid``), ``typ``
    ``secevent+jwt``, ``iss``, ``aud``, ``jti``, an ``iat`` within ``within``
    seconds of now, one event, a ``sub_id``; never ``exp`` nor ``sub`` (a SET
    is not an access or ID token)."""
    keyset, jwks = keys or provider_keys(issuer)
    decoded = jwt.decode(token, keyset, algorithms=["ES256", "RS256"])
    header, claims = decoded.header, decoded.claims
    assert header["typ"] == "secevent+jwt", header
    assert header["alg"] in {"ES256", "RS256"}, header
    published = {key["kid"]: key for key in jwks["keys"]}
    assert header["kid"] in published, (header, list(published))
    assert published[header["kid"]].get("use", "sig") == "sig"
    assert claims["iss"] == issuer
    assert claims["aud"] == audience
    assert isinstance(claims["jti"], str) and len(claims["jti"]) >= 16
    assert isinstance(claims["iat"], int) and abs(claims["iat"] - time.time()) < within
    assert "exp" not in claims and "sub" not in claims, claims
    assert isinstance(claims["events"], dict) and len(claims["events"]) == 1, claims
    assert isinstance(claims["sub_id"], dict) and "format" in claims["sub_id"]
    return claims


def verified_logout_token(issuer: str, token: str, audience: str,
                          keys: tuple | None = None) -> dict[str, Any]:
    """A back-channel logout token (OIDC Back-Channel Logout 1.0 §2.4)."""
    keyset, jwks = keys or provider_keys(issuer)
    decoded = jwt.decode(token, keyset, algorithms=["RS256", "ES256"])
    assert decoded.header["typ"] == "logout+jwt"
    assert decoded.header["kid"] in {key["kid"] for key in jwks["keys"]}
    claims = decoded.claims
    assert claims["iss"] == issuer and claims["aud"] == audience
    assert claims["events"] == {BACKCHANNEL_LOGOUT: {}} and "nonce" not in claims
    assert claims["exp"] > time.time() > claims["iat"] - 60
    return claims


def the_event(claims: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    ((event_type, body),) = claims["events"].items()
    return event_type, body


def person_subject(issuer: str, sub: str, **members: dict) -> dict[str, Any]:
    """A complex ``sub_id`` (SSF §3.2): the user by issuer and subject, and more."""
    return {"format": "complex", "user": {"format": "iss_sub", "iss": issuer, "sub": sub},
            **members}


# -- the management API, as a receiver calls it -------------------------------------------------

class StreamManager:
    """A receiver (a client of the provider) managing its stream with an
    access token from ``client_credentials`` and scope ``ssf``."""

    def __init__(self, issuer: str, client_id: str, client_secret: str,
                 token: str | None = None) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token = token or self.new_token()

    def new_token(self, **extra) -> str:
        response = requests.post(f"{self.issuer}/token", timeout=10,
                                 auth=(self.client_id, self.client_secret),
                                 data={"grant_type": "client_credentials", "scope": "ssf",
                                       **extra})
        assert response.status_code == 200, response.text
        assert response.json()["scope"] == "ssf"
        return response.json()["access_token"]

    def call(self, method: str, path: str, body: Any = None, *, params: dict | None = None,
             token: str | None = None, headers: dict | None = None, data: Any = None
             ) -> requests.Response:
        sent = {"Authorization": f"Bearer {token or self.access_token}"}
        sent.update(headers or {})
        return requests.request(method, f"{self.issuer}{path}", json=body, data=data,
                                params=params, headers=sent, timeout=10)

    # SSF §8.1.1
    def create(self, body: dict | None = None, **kwargs) -> requests.Response:
        return self.call("POST", "/ssf/streams", {} if body is None else body, **kwargs)

    def read(self, stream_id: str | None = None, **kwargs) -> requests.Response:
        params = None if stream_id is None else {"stream_id": stream_id}
        return self.call("GET", "/ssf/streams", params=params, **kwargs)

    def update(self, body: dict, **kwargs) -> requests.Response:
        return self.call("PATCH", "/ssf/streams", body, **kwargs)

    def replace(self, body: dict, **kwargs) -> requests.Response:
        return self.call("PUT", "/ssf/streams", body, **kwargs)

    def delete(self, stream_id: str, **kwargs) -> requests.Response:
        return self.call("DELETE", "/ssf/streams", params={"stream_id": stream_id}, **kwargs)

    # SSF §8.1.2
    def status(self, stream_id: str, **kwargs) -> requests.Response:
        return self.call("GET", "/ssf/status", params={"stream_id": stream_id}, **kwargs)

    def set_status(self, stream_id: str, status: str, reason: str | None = None,
                   **kwargs) -> requests.Response:
        body = {"stream_id": stream_id, "status": status}
        if reason is not None:
            body["reason"] = reason
        return self.call("POST", "/ssf/status", body, **kwargs)

    # SSF §8.1.3
    def add_subject(self, stream_id: str, subject: dict, **kwargs) -> requests.Response:
        return self.call("POST", "/ssf/subjects:add",
                         {"stream_id": stream_id, "subject": subject}, **kwargs)

    def remove_subject(self, stream_id: str, subject: dict, **kwargs) -> requests.Response:
        return self.call("POST", "/ssf/subjects:remove",
                         {"stream_id": stream_id, "subject": subject}, **kwargs)

    # SSF §8.1.4
    def verify(self, stream_id: str, state: str | None = None, **kwargs) -> requests.Response:
        body = {"stream_id": stream_id}
        if state is not None:
            body["state"] = state
        return self.call("POST", "/ssf/verify", body, **kwargs)

    # RFC 8936
    def poll(self, stream_id: str, body: dict | None = None, **kwargs) -> requests.Response:
        return self.call("POST", f"/ssf/poll/{stream_id}",
                         {"maxEvents": 10} if body is None else body, **kwargs)

    def push_stream(self, endpoint_url: str, authorization: str | None = None,
                    **members) -> dict:
        """Create a push stream to ``endpoint_url``; its configuration."""
        delivery = {"method": PUSH, "endpoint_url": endpoint_url}
        if authorization is not None:
            delivery["authorization_header"] = authorization
        response = self.create({"delivery": delivery, **members})
        assert response.status_code == 201, response.text
        return response.json()
