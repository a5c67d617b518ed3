"""The steady load of the fault tests (tests/test_faults.py): client threads
sending a mix of token, introspection and UserInfo requests to a node, each
answer checked and timed, and the figures the tests print.

A 200 must be right (``"active": true`` only for the live token); the only
other answer allowed during an outage is ``503 temporarily_unavailable``
with ``Retry-After``."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import requests

CLIENTS = 4  # client threads of the steady load
PACE = 0.01  # seconds each client waits between two requests
TIMEOUT = 10  # seconds a client waits for an answer


class Clients(Protocol):
    """The two clients the load uses (their ids and secrets)."""

    service: tuple[str, str]  # a service client (client_credentials)
    web: tuple[str, str]  # a first-party web client (code flow, refresh)


@dataclass
class Answer:
    sent: float  # time.monotonic() when the request left
    took: float  # seconds until the answer (or the failure)
    call: str
    kind: str  # ok, unavailable, lost, wrong
    detail: str = ""


@dataclass
class Tokens:
    """What the load presents: a person's live access token, one of hers and
    one of the service's revoked (RFC 7009), one forged with our kid."""

    person: str
    person_revoked: str
    service_revoked: str
    forged: str
    subject: str


def parts(token: str) -> tuple[dict, dict]:
    """A JWT's header and claims, unverified."""
    header, claims = (json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
                      for part in token.split(".")[:2])
    return header, claims


def unavailable_answer(answer: requests.Response) -> bool:
    """503 temporarily_unavailable, as JSON, with Retry-After."""
    if answer.status_code != 503 or "Retry-After" not in answer.headers:
        return False
    try:
        return answer.json().get("error") == "temporarily_unavailable"
    except ValueError:
        return False


class SteadyLoad:
    """:data:`CLIENTS` threads sending the mix of tests/test_faults.py's docstring to
    ``base`` (keep-alive, one connection each) until stopped; with
    ``refresh_tokens`` (one per client) each also refreshes its family,
    retrying the same token when an answer is lost."""

    def __init__(self, base: str, instance: Clients, tokens: Tokens,
                 refresh_tokens: list[str] | None = None) -> None:
        self.base = base
        self.instance = instance
        self.tokens = tokens
        self.refresh_tokens = refresh_tokens
        self.answers: list[Answer] = []
        self.retried_refreshes = 0  # a refresh answer lost, the same token sent again: 200
        self.nodes: Counter[str] = Counter()  # X-Node, behind HAProxy
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True,
                                         name=f"load-{n}") for n in range(CLIENTS)]

    def __enter__(self) -> SteadyLoad:
        self.started = time.monotonic()
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)
        self.stopped = time.monotonic()

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    # -- one client ------------------------------------------------------

    def _client(self, number: int) -> None:
        http = requests.Session()
        calls = [self._token_and_introspection, self._revoked_service_token,
                 self._forged_token, self._userinfo, self._revoked_userinfo]
        if self.refresh_tokens is not None:
            calls.append(self._refresh)
        while not self.stopping.is_set():
            for call in calls:
                if self.stopping.is_set():
                    break
                call(http, number)
                time.sleep(PACE)

    def _send(self, http: requests.Session, call: str, method: str, path: str, judge,
              **kwargs) -> tuple[str, requests.Response | None]:
        sent, started = time.monotonic(), time.perf_counter()
        try:
            answer = http.request(method, self.base + path, timeout=TIMEOUT, **kwargs)
        except requests.RequestException as error:
            took = time.perf_counter() - started
            self.answers.append(Answer(sent, took, call, "lost", type(error).__name__))
            return "lost", None
        took = time.perf_counter() - started
        if "X-Node" in answer.headers:
            self.nodes[answer.headers["X-Node"]] += 1
        if unavailable_answer(answer):
            kind, detail = "unavailable", ""
        else:
            try:
                detail = judge(answer)
            except ValueError as error:  # not JSON
                detail = f"not JSON: {error}"
            kind = "ok" if detail is None else "wrong"
            if detail is not None:
                detail = f"{answer.status_code} {detail} {answer.text[:200]!r}"
        self.answers.append(Answer(sent, took, call, kind, detail or ""))
        return kind, answer

    def _token_and_introspection(self, http, _number) -> None:
        def issued(answer):
            if answer.status_code != 200 or answer.json().get("token_type") != "Bearer":
                return "not a token"
            return None

        kind, answer = self._send(http, "token", "POST", "/token", issued,
                                  auth=self.instance.service,
                                  data={"grant_type": "client_credentials"})
        if kind != "ok":
            return
        token = answer.json()["access_token"]

        def active(answer):
            body = answer.json()
            if answer.status_code != 200 or body.get("active") is not True \
                    or body.get("client_id") != self.instance.service[0]:
                return "a live token not active"
            return None

        self._send(http, "introspect", "POST", "/introspect", active,
                   auth=self.instance.service, data={"token": token})

    def _inactive(self, answer) -> str | None:
        if answer.status_code == 200 and answer.json() == {"active": False}:
            return None
        return "not {active: false}"

    def _revoked_service_token(self, http, _number) -> None:
        self._send(http, "introspect revoked", "POST", "/introspect", self._inactive,
                   auth=self.instance.service, data={"token": self.tokens.service_revoked})

    def _forged_token(self, http, _number) -> None:
        self._send(http, "introspect forged", "POST", "/introspect", self._inactive,
                   auth=self.instance.web, data={"token": self.tokens.forged})

    def _userinfo(self, http, _number) -> None:
        def mary(answer):
            if answer.status_code != 200 or answer.json().get("sub") != self.tokens.subject:
                return "not Mary's claims"
            return None

        self._send(http, "userinfo", "GET", "/userinfo", mary,
                   headers={"Authorization": f"Bearer {self.tokens.person}"})

    def _revoked_userinfo(self, http, _number) -> None:
        def refused(answer):
            if answer.status_code == 401 and 'error="invalid_token"' in \
                    answer.headers.get("WWW-Authenticate", ""):
                return None
            return "a revoked token not refused"

        self._send(http, "userinfo revoked", "GET", "/userinfo", refused,
                   headers={"Authorization": f"Bearer {self.tokens.person_revoked}"})

    def _refresh(self, http, number) -> None:
        """One rotation of this client's family. A lost answer is retried
        with the same token, as a client does (within the retry grace)."""
        def rotated(answer):
            body = answer.json()
            if answer.status_code != 200 or "refresh_token" not in body:
                return "no new refresh token"
            return None

        for attempt in range(20):
            kind, answer = self._send(
                http, "refresh" if attempt == 0 else "refresh retried", "POST", "/token",
                rotated, auth=self.instance.web,
                data={"grant_type": "refresh_token",
                      "refresh_token": self.refresh_tokens[number]})
            if kind == "ok":
                self.refresh_tokens[number] = answer.json()["refresh_token"]
                self.retried_refreshes += attempt > 0
                return
            if kind == "wrong":
                return  # counted; the family is lost, which the test reports
            time.sleep(0.2)  # lost or unavailable: the same token again

    # -- figures ---------------------------------------------------------

    def between(self, start: float = 0.0, end: float = float("inf")) -> list[Answer]:
        return [a for a in self.answers if start <= a.sent < end]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def figures(answers: list[Answer]) -> str:
    kinds = Counter(a.kind for a in answers)
    took = [a.took * 1000 for a in answers]
    shown = ", ".join(f"{kinds[k]} {k}" for k in ("ok", "unavailable", "lost", "wrong"))
    return (f"{len(answers)} requests ({shown}); p50 {percentile(took, 0.5):.0f} ms, "
            f"p99 {percentile(took, 0.99):.0f} ms, max {max(took, default=0):.0f} ms")


def report(title: str, *lines: str) -> None:
    print(f"\n[fault] {title}")
    for line in lines:
        print(f"[fault]   {line}")


def wrong(answers: list[Answer]) -> list[Answer]:
    return [a for a in answers if a.kind == "wrong"]


class CpuWaits:
    """How long the threads of some processes waited for a CPU: the second
    field of Linux's ``/proc/PID/task/TID/schedstat`` (nanoseconds spent on
    a run queue), read every 50 ms while in use. A request can be slow
    because the machine is busy, not because of the fault: this says by
    how much."""

    def __init__(self, pids) -> None:
        self.pids = pids  # () -> the process ids to watch now
        self.samples: dict[tuple[int, int], list[tuple[float, int]]] = {}
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="cpu-waits")

    def __enter__(self) -> CpuWaits:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self.stopping.is_set():
            now = time.monotonic()
            for pid in self.pids():
                for task in Path(f"/proc/{pid}/task").glob("*"):
                    try:
                        waited = int((task / "schedstat").read_text().split()[1])
                    except (OSError, IndexError, ValueError):
                        continue
                    self.samples.setdefault((pid, int(task.name)), []).append((now, waited))
            self.stopping.wait(0.05)

    def longest(self, start: float, end: float, window: float = 2.0) -> float:
        """The most one thread waited for a CPU within ``window`` seconds,
        between ``start`` and ``end`` (seconds)."""
        worst = 0
        for series in self.samples.values():
            inside = [(t, w) for t, w in series if start - window <= t <= end + window]
            first = 0
            for t, waited in inside:
                while inside[first][0] < t - window:
                    first += 1
                worst = max(worst, waited - inside[first][1])
        return worst / 1e9
