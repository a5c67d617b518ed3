"""A soak of `keyholder serve` on PostgreSQL: errors and worker memory under steady mixed load.

    .venv/bin/python bench/soak.py [--seconds 60] [--connections 32] [--workers 2]
                                   [--sample 5] [--warmup 5] [--server "{keyholder} serve ..."]

Keyholder is set up as bench/peer.py sets it up (bench/peer_targets.py: a
scratch database on the PostgreSQL server at KEYHOLDER_TEST_POSTGRES_URL,
by default 127.0.0.1:5432, dropped at the end; `keyholder init`, a person,
a service client and a web client), then served by --server. Every
connection is a keep-alive HTTP/1.1 connection of an asyncio client in this
process (wrk is not needed), sending in turn:

  - POST /token       grant_type=client_credentials (client_secret_basic);
  - POST /introspect  the token it was just given (a token never seen before:
                      the verification memo fills up to its bound);
  - GET  /userinfo    one of a pool of the person's access tokens, cycled.

Every answer is checked: 200, and a token, ``"active": true`` or the
person's ``sub``. Errors are the answers that are not, plus connections
that broke or timed out (5 s); they must stay under 0.1% of the requests.
Every --sample seconds the RSS of each worker process (the server's
children, from /proc) is read: memory is "flat" when no worker grows by
more than 5% (and 8 MiB) over the second half of the run, after the caches
filled. A worker replaced meanwhile (a new pid) is reported. Prints a
Markdown table with the command that made it; exits 1 when a check fails.
Everything listens on 127.0.0.1 and is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import html
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests
from peer_targets import FORM, REDIRECT_URI, SCOPE, Processes, Target, start_keyholder

ERROR_BUDGET = 0.001  # errors / requests
GROWTH_SHARE, GROWTH_FLOOR = 0.05, 8 * 1024 * 1024  # "flat": at most both over the 2nd half
PERSON_TOKENS = 64
TIMEOUT = 5.0


# --- the load ---------------------------------------------------------------------------------

@dataclass
class Endpoint:
    name: str
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


class BrokenConnection(Exception):
    pass


class Connection:
    """One keep-alive connection, one request at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            body = await self.reader.readexactly(length) if length else b""
            if headers.get("connection", "").lower() == "close":
                self.close()
            return status, body
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError, IndexError) as error:
            self.close()
            raise BrokenConnection(type(error).__name__) from error

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


def request(method: str, target: str, host: str, authorization: str,
            form: dict | None = None) -> bytes:
    body = urlencode(form).encode() if form is not None else b""
    head = [f"{method} {target} HTTP/1.1", f"Host: {host}",
            f"Authorization: {authorization}"]
    if form is not None:
        head += ["Content-Type: application/x-www-form-urlencoded",
                 f"Content-Length: {len(body)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


@dataclass
class Mix:
    base: str
    service: str  # Authorization header of the service client
    person_tokens: list[str]
    subject: str
    endpoints: dict[str, Endpoint] = field(default_factory=lambda: {
        name: Endpoint(name) for name in ("token (client_credentials)", "introspection",
                                          "UserInfo")})
    counting: bool = False  # False during the warm-up

    async def connection(self, number: int, stop_at: float) -> None:
        parts = urlsplit(self.base)
        host = parts.netloc
        connection = Connection(parts.hostname, parts.port)
        token_request = request("POST", "/token", host, self.service,
                                {"grant_type": "client_credentials"})
        cursor = number
        try:
            while time.monotonic() < stop_at:
                answer = await self.call("token (client_credentials)", connection,
                                         token_request, lambda b: "access_token" in b)
                if answer is not None:
                    fresh = answer["access_token"]
                    await self.call("introspection", connection,
                                    request("POST", "/introspect", host, self.service,
                                            {"token": fresh}),
                                    lambda b: b.get("active") is True)
                cursor = (cursor + 1) % len(self.person_tokens)
                await self.call("UserInfo", connection,
                                request("GET", "/userinfo", host,
                                        f"Bearer {self.person_tokens[cursor]}"),
                                lambda b: b.get("sub") == self.subject)
        finally:
            connection.close()

    async def call(self, name: str, connection: Connection, raw: bytes, check) -> dict | None:
        endpoint = self.endpoints[name]
        started = time.perf_counter()
        try:
            status, body = await asyncio.wait_for(connection.request(raw), TIMEOUT)
        except (TimeoutError, BrokenConnection) as error:
            connection.close()
            if self.counting:
                endpoint.requests += 1
                endpoint.error(f"connection: {error or type(error).__name__}")
            await asyncio.sleep(0.05)
            return None
        took = time.perf_counter() - started
        try:
            parsed = json.loads(body)
            good = status == 200 and check(parsed)
        except (ValueError, TypeError, AttributeError):
            parsed, good = None, False
        if self.counting:
            endpoint.requests += 1
            endpoint.latencies.append(took)
            if not good:
                endpoint.error(f"{status}: {body[:80]!r}")
        return parsed if good else None


# --- the person's tokens -----------------------------------------------------------------------

FIELD = re.compile(r"<input\b([^>]*)>")
ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')


def code_flow(target: Target) -> dict:
    """The web client's code flow, signing in with the login form: the token
    answer. The page's other forms (the language switcher) are left alone."""
    browser = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = {"response_type": "code", "client_id": target.web_id, "scope": SCOPE,
              "redirect_uri": REDIRECT_URI, "state": "soak", "nonce": secrets.token_urlsafe(8),
              "code_challenge": challenge.rstrip(b"=").decode(),
              "code_challenge_method": "S256"}
    response = browser.get(target.url("authorize"), params=params, allow_redirects=False,
                           timeout=30)
    for _ in range(12):
        if response.is_redirect:
            location = urljoin(response.url, response.headers["Location"])
            if location.startswith(REDIRECT_URI):
                code = parse_qs(urlsplit(location).query)["code"][0]
                return target.post("token", {
                    "grant_type": "authorization_code", "code": code,
                    "code_verifier": verifier, "redirect_uri": REDIRECT_URI}, target.web)
            response = browser.get(location, allow_redirects=False, timeout=30)
            continue
        forms = [f for f in FORM.finditer(response.text)
                 if 'name="password"' in f.group(2) or 'name="decision"' in f.group(2)]
        if response.status_code != 200 or not forms:
            raise RuntimeError(f"code flow stopped at {response.status_code} {response.url}")
        fields = {}
        for tag in FIELD.findall(forms[0].group(2)):
            attributes = dict(ATTRIBUTE.findall(tag))
            if attributes.get("name"):
                fields[attributes["name"]] = target.login.get(
                    attributes["name"], html.unescape(attributes.get("value", "")))
        response = browser.post(urljoin(response.url, html.unescape(forms[0].group(1))),
                                data=fields, allow_redirects=False, timeout=30)
    raise RuntimeError("code flow: too many steps")


def person_tokens(target: Target, count: int) -> list[str]:
    """``count`` access tokens of the person: one sign-in, then refreshes."""
    refresh_token = code_flow(target)["refresh_token"]
    tokens = []
    for _ in range(count):
        answer = target.post("token", {"grant_type": "refresh_token",
                                       "refresh_token": refresh_token}, target.web)
        tokens.append(answer["access_token"])
        refresh_token = answer["refresh_token"]
    return tokens


# --- memory -----------------------------------------------------------------------------------

def children(pid: int) -> set[int]:
    found = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.update(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


async def sample_memory(server_pid: int, every: float, stop_at: float,
                        samples: dict[int, list[tuple[float, int]]]) -> None:
    begun = time.monotonic()
    while True:
        now = time.monotonic()
        for pid in sorted(children(server_pid)):
            value = rss(pid)
            if value is not None:
                samples.setdefault(pid, []).append((now - begun, value))
        if now >= stop_at:
            return
        await asyncio.sleep(min(every, max(0.0, stop_at - now)))


# --- the run ----------------------------------------------------------------------------------

async def soak(mix: Mix, server_pid: int, args) -> dict[int, list[tuple[float, int]]]:
    warm_until = time.monotonic() + args.warmup
    clients = [asyncio.create_task(mix.connection(n, warm_until))
               for n in range(args.connections)]
    await asyncio.gather(*clients)
    mix.counting = True
    stop_at = time.monotonic() + args.seconds
    samples: dict[int, list[tuple[float, int]]] = {}
    clients = [asyncio.create_task(mix.connection(n, stop_at))
               for n in range(args.connections)]
    await asyncio.gather(sample_memory(server_pid, args.sample, stop_at, samples), *clients)
    return samples


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def mib(value: int) -> str:
    return f"{value / 1024 / 1024:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="measured (default 60)")
    parser.add_argument("--connections", type=int, default=32, help="default 32")
    parser.add_argument("--workers", type=int, default=2, help="keyholder serve --workers (2)")
    parser.add_argument("--sample", type=float, default=5.0,
                        help="seconds between two RSS samples (default 5)")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds of the same load before measuring (default 5)")
    parser.add_argument("--server",
                        default="{keyholder} serve --host 127.0.0.1 --port {port} "
                                "--workers {workers}",
                        help="the command that serves Keyholder; {keyholder} is the keyholder "
                             "script, {port} the port, {workers} --workers")
    args = parser.parse_args()
    command = "bench/soak.py " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "bench/soak.py"
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    work = Path(tempfile.mkdtemp(prefix="keyholder-soak-"))
    processes = Processes(work)
    drop = None
    try:
        server = args.server.replace("{workers}", str(args.workers))
        keyholder, drop = start_keyholder(processes, work, server)
        keyholder.discover()
        [(_, server_process, _)] = processes.started
        tokens = person_tokens(keyholder, PERSON_TOKENS)
        subject = keyholder.post("introspect", {"token": tokens[0]}, keyholder.web)["sub"]
        mix = Mix(keyholder.base, keyholder.service, tokens, subject)
        pids_before = children(server_process.pid)
        print(f"set up in {time.monotonic() - started:.0f} s; {os.cpu_count()} CPUs, load "
              f"average {os.getloadavg()[0]:.2f}; {args.connections} connections for "
              f"{args.seconds} s after {args.warmup:g} s of warm-up", flush=True)
        samples = asyncio.run(soak(mix, server_process.pid, args))
        pids_after = children(server_process.pid)
        alive = server_process.poll() is None
    finally:
        processes.stop()
        if drop is not None:
            drop()
        log = (work / "keyholder.log").read_text(errors="replace") \
            if (work / "keyholder.log").exists() else ""
        shutil.rmtree(work, ignore_errors=True)

    ok = report(command, server, args, mix, samples, pids_before, pids_after, alive, log)
    print(f"\ntotal run time: {time.monotonic() - started:.0f} s")
    sys.exit(0 if ok else 1)


def report(command: str, server: str, args, mix: Mix, samples, pids_before, pids_after,
           alive: bool, log: str) -> bool:
    endpoints = list(mix.endpoints.values())
    total = sum(e.requests for e in endpoints)
    failed = sum(e.failed for e in endpoints)
    rate = failed / total if total else 1.0
    shown = server.replace("{keyholder} ", "keyholder ").replace("{port}", "PORT")
    print(f"\n`.venv/bin/python {command}`: `{shown}` "
          f"on PostgreSQL, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at "
          f"the end; the client (asyncio, keep-alive) runs on the same machine\n")
    print("| endpoint | requests | requests/s | errors | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for e in endpoints:
        print(f"| {e.name} | {e.requests:,} | {e.requests / args.seconds:,.0f} | {e.failed} "
              f"| {percentile(e.latencies, 0.5) * 1000:.1f} "
              f"| {percentile(e.latencies, 0.99) * 1000:.1f} |")
    every = [t for e in endpoints for t in e.latencies]
    print(f"| **all** | **{total:,}** | **{total / args.seconds:,.0f}** | **{failed} "
          f"({rate:.3%})** | {percentile(every, 0.5) * 1000:.1f} "
          f"| {percentile(every, 0.99) * 1000:.1f} |")

    half = args.seconds / 2
    flat = True
    print(f"\n| worker pid | RSS MiB first | at {half:g} s | last | max | growth over the "
          f"2nd half | samples |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for pid, series in sorted(samples.items()):
        values = [v for _, v in series]
        middle = min(series, key=lambda s: abs(s[0] - half))[1]
        growth = values[-1] - middle
        grows = growth > max(GROWTH_SHARE * middle, GROWTH_FLOOR)
        flat = flat and not grows
        print(f"| {pid} | {mib(values[0])} | {mib(middle)} | {mib(values[-1])} "
              f"| {mib(max(values))} | {'+' if growth >= 0 else ''}{mib(growth)}"
              f"{' (grows)' if grows else ''} | {len(values)} |")
    for pid, series in sorted(samples.items()):
        print(f"\nworker {pid}, RSS MiB every {args.sample:g} s: "
              + " ".join(mib(v) for _, v in series))
    for e in endpoints:
        for kind, count in sorted(e.errors.items(), key=lambda x: -x[1])[:5]:
            print(f"\n{e.name}: {count} x {kind}")
    replaced = pids_before != pids_after
    tracebacks = log.count("Traceback")
    verdicts = [
        (rate < ERROR_BUDGET, f"errors {rate:.3%} (under {ERROR_BUDGET:.1%})"),
        (flat, "worker memory flat over the second half"),
        (not replaced and alive, "no worker replaced, the server still up"
         if not replaced and alive else f"workers {sorted(pids_before)} -> "
                                        f"{sorted(pids_after)}, server up: {alive}"),
        (tracebacks == 0, f"{tracebacks} tracebacks in the server's log"),
    ]
    print("\n" + "; ".join(f"{'PASS' if good else 'FAIL'}: {what}" for good, what in verdicts))
    return all(good for good, _ in verdicts)


if __name__ == "__main__":
    main()
