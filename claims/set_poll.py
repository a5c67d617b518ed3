"""Poll delivery of SETs (RFC 8936): ask the provider's poll endpoint for the
SETs waiting for this service, hand each to a :class:`claims.Receiver`, and
acknowledge them.

    token = ClientCredentials(token_endpoint, "cloud", client_secret)  # scope "ssf"
    poller = Poller(receiver, endpoint_url=stream_endpoint_url, token_source=token)
    stop = threading.Event()
    threading.Thread(target=poller.run, args=(stop,), daemon=True).start()
    ...
    stop.set()   # at shut-down: run() sends what it still has to acknowledge, then returns

The poll endpoint (the ``endpoint_url`` of the stream's delivery, SSF "Poll
Delivery using HTTP") takes an access token of the service itself: the
client credentials grant (RFC 6749 §4.4) with the scope ``ssf``, which
:class:`ClientCredentials` gets and keeps until shortly before it expires.

Each request acknowledges what the previous answer brought (RFC 8936 §2.4):
``ack`` the SETs taken (repeats included), ``setErrs`` the SETs refused with
their RFC 8936 §2.4.4 code. A SET not checked (the provider's keys cannot be
fetched) or whose handler raised is neither: the provider sends it again.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests

from claims.errors import ProviderUnavailable
from claims.provider_metadata import DEFAULT_TIMEOUT, basic_authorization, request_json
from claims.security_event_types import MANAGEMENT_SCOPE
from claims.security_events import Receiver, SetRejected
from claims.signed_tokens import MAX_TOKEN_LENGTH

log = logging.getLogger("claims.set_poll")
EARLY = 30.0  # seconds before expires_in at which a new token is fetched
_ERROR_CODE = re.compile(r"[a-z_]{1,40}", re.ASCII)  # an OAuth error, safe to log


class ClientCredentials:
    """A callable giving a current access token of ``client_id`` for ``scope``
    (the client credentials grant, ``client_secret_basic``). The token is kept
    until ``EARLY`` seconds before its ``expires_in`` (half its lifetime if
    that is shorter; without ``expires_in``, until :meth:`invalidate`).
    Failures are ProviderUnavailable. Thread-safe."""

    def __init__(self, token_endpoint: str, client_id: str, client_secret: str,
                 scope: str = MANAGEMENT_SCOPE, http: requests.Session | None = None, *,
                 clock: Callable[[], float] = time.time,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        _check_url(token_endpoint, "token_endpoint")
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret are required")
        self.token_endpoint = token_endpoint
        self.client_id = client_id
        self.scope = scope
        self._authorization = basic_authorization(client_id, client_secret)
        self._http = http or requests.Session()
        self._clock = clock
        self._timeout = timeout
        self._token: str | None = None
        self._until = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ClientCredentials({self.token_endpoint!r}, client_id={self.client_id!r})"

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._until:
                self._token, self._until = self._fetch()
            return self._token

    def invalidate(self) -> None:
        """Forget the token (it was refused): the next call fetches another."""
        with self._lock:
            self._token = None

    def _fetch(self) -> tuple[str, float]:
        now = self._clock()
        status, answer = request_json(
            self._http, "POST", self.token_endpoint, what="token endpoint",
            timeout=self._timeout, data={"grant_type": "client_credentials", "scope": self.scope},
            headers={"Authorization": self._authorization, "Accept": "application/json"})
        if status != 200:
            error = answer.get("error") if isinstance(answer, dict) else None
            code = f" ({error})" if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else ""
            raise ProviderUnavailable(f"The token endpoint refused this service's client "
                                      f"credentials (HTTP {status}){code}.")
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token \
                or str(answer.get("token_type", "")).lower() != "bearer":
            raise ProviderUnavailable("The token endpoint did not answer a bearer token.")
        lifetime = answer.get("expires_in")
        if type(lifetime) not in (int, float):  # bool is an int to isinstance
            return token, float("inf")
        return token, now + lifetime - min(EARLY, lifetime / 2)


class Poller:
    """Polls one stream's endpoint for SETs. ``token_source()`` gives the
    access token to send (a :class:`ClientCredentials`, or any callable; if
    it has an ``invalidate()`` method, a 401 calls it before asking again).
    Thread-safe, but meant for one thread: :meth:`run`."""

    def __init__(self, receiver: Receiver, *, endpoint_url: str,
                 token_source: Callable[[], str], http: requests.Session | None = None,
                 max_events: int = 50, timeout: float = DEFAULT_TIMEOUT) -> None:
        _check_url(endpoint_url, "endpoint_url")
        if type(max_events) is not int or max_events < 1:
            raise ValueError("max_events must be a positive integer")
        self.receiver = receiver
        self.endpoint_url = endpoint_url
        self.max_events = max_events
        self._token_source = token_source
        self._http = http or requests.Session()
        self._timeout = timeout
        # The next request's acknowledgements: by jti, in the order the SETs came.
        self._acks: dict[str, None] = {}
        self._errs: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Poller({self.endpoint_url!r})"

    def poll_once(self) -> int:
        """One poll: acknowledge what the previous one brought, hand each SET of
        the answer to the receiver; how many the answer had. ProviderUnavailable
        if the endpoint cannot be asked or the keys cannot be fetched (the
        acknowledgements wait for the next request)."""
        with self._lock:
            sets = self._request(self.max_events)
            for jti, token in sets.items():
                self._hand_over(jti, token)
            return len(sets)

    def flush(self) -> None:
        """Send the acknowledgements still waiting, asking for no SET (RFC 8936
        §2.4: ``maxEvents`` 0); nothing if none waits."""
        with self._lock:
            if self._acks or self._errs:
                self._request(0)  # SETs it brings anyway are not taken: they come again

    def run(self, stop: threading.Event, interval: float = 1.0) -> None:
        """Poll until ``stop`` is set: at once again while there is something to
        acknowledge, else every ``interval`` seconds; after a failure, logged
        by its class only, less often (up to a minute). Before returning, the
        acknowledgements still waiting are sent."""
        failures = 0
        while not stop.is_set():
            try:
                self.poll_once()
                failures = 0
            except Exception as error:
                failures += 1
                log.warning("polling for security events failed: %s", type(error).__name__)
            if failures or not (self._acks or self._errs):
                stop.wait(min(interval * 2 ** min(failures, 10), max(interval, 60.0)))
        try:
            self.flush()
        except Exception as error:
            log.warning("acknowledging security events failed: %s", type(error).__name__)

    # -- one exchange -----------------------------------------------------------------

    def _hand_over(self, jti: str, token: Any) -> None:
        try:
            self.receiver.receive(token)
        except SetRejected as rejected:
            log.info("security event refused: %s", rejected.err)
            self._errs[jti] = {"err": rejected.err, "description": rejected.description}
        except ProviderUnavailable:
            raise  # not checked: neither acknowledged nor refused; the rest wait too
        except Exception as error:
            log.error("security event handler failed: %s", type(error).__name__)
        else:
            self._acks[jti] = None

    def _request(self, max_events: int) -> dict[str, Any]:
        """POST the acknowledgements and a request for ``max_events``; the SETs
        of the answer. The acknowledgements are dropped once it is answered."""
        body = {"maxEvents": max_events, "returnImmediately": True, "ack": list(self._acks),
                "setErrs": dict(self._errs)}
        status, answer = self._post(body, self._access_token(fresh=False))
        if status == 401:  # expired or revoked: one new token
            status, answer = self._post(body, self._access_token(fresh=True))
        if status != 200:
            raise ProviderUnavailable(f"The poll endpoint answered HTTP {status}.")
        sets = answer.get("sets") if isinstance(answer, dict) else None
        if not isinstance(sets, dict) or not isinstance(answer.get("moreAvailable", False),
                                                        bool):
            raise ProviderUnavailable("The poll endpoint did not answer RFC 8936 JSON.")
        for jti in body["ack"]:
            del self._acks[jti]
        for jti in body["setErrs"]:
            del self._errs[jti]
        return sets

    def _access_token(self, *, fresh: bool) -> str:
        if fresh:
            invalidate = getattr(self._token_source, "invalidate", None)
            if callable(invalidate):
                invalidate()
        token = self._token_source()
        if not isinstance(token, str) or not token:
            raise ValueError("token_source() must return an access token")
        return token

    def _post(self, body: dict, token: str) -> tuple[int, Any]:
        """Status and JSON answer (None if not JSON: a 401 need not be) of one
        request; unreachable or too large an answer is ProviderUnavailable."""
        limit = 64 * 1024 + self.max_events * (MAX_TOKEN_LENGTH + 1024)
        try:
            with self._http.post(self.endpoint_url, data=json.dumps(body), timeout=self._timeout,
                                 allow_redirects=False, stream=True,
                                 headers={"Authorization": f"Bearer {token}",
                                          "Content-Type": "application/json",
                                          "Accept": "application/json"}) as response:
                data = bytearray()
                for chunk in response.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > limit:
                        raise ProviderUnavailable("The poll endpoint answered too much.")
                status = response.status_code
        except requests.RequestException as error:
            raise ProviderUnavailable(f"The poll endpoint cannot be reached "
                                      f"({type(error).__name__}).") from error
        try:
            return status, json.loads(data)
        except (ValueError, RecursionError):
            return status, None


def _check_url(url: str, name: str) -> None:
    if not isinstance(url, str) or urlsplit(url).scheme not in {"https", "http"} \
            or not urlsplit(url).netloc:
        raise ValueError(f"{name} must be an http(s) URL")


__all__ = ["EARLY", "ClientCredentials", "Poller"]
