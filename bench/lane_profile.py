"""Where a hot path's time goes: each scenario of bench/peer.py, in-process, under cProfile.

    .venv/bin/python bench/lane_profile.py [--requests 2000] [--only NAME] [--top 8]

bench/peer.py measures throughput against node oidc-provider; this script
says where Keyholder's share of it goes. It sets up Keyholder as peer.py does
(a scratch PostgreSQL database, a service, a web client, a person; tokens
issued over HTTP by a `keyholder serve` process, stopped before measuring),
then builds the app in this process with the same settings and calls its
WSGI callable (the fast lane in front of Flask, as a granian worker does)
--requests times per scenario, without the HTTP server:

  - first unprofiled: wall time and this process's CPU per request (the
    difference is mostly waiting on PostgreSQL, whose own CPU is not here);
  - then under cProfile: the CPU per request by where it is spent (the
    signature library, joserfc, the database driver, JSON, Flask and
    Werkzeug, the lane, ...), and the functions that take most.

cProfile adds its own cost to every Python call, so the profiled total is
larger than the plain one; the shares between the parts are what it is for.
"New each time" builds a fresh app so that every token misses the memo.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from peer_targets import Processes, start_keyholder

# Where a function's file lives says which part of the stack it belongs to; the first match wins.
PARTS = [
    ("cryptography (sign/verify)", ("/cryptography/",)),
    ("joserfc", ("/joserfc/",)),
    ("database driver (psycopg, waiting included)", ("/psycopg/", "/psycopg_c/", "/psycopg_pool/")),
    ("SQLAlchemy", ("/sqlalchemy/",)),
    ("Authlib", ("/authlib/",)),
    ("Flask, Werkzeug, Jinja", ("/flask/", "/werkzeug/", "/jinja2/", "/itsdangerous/")),
    ("JSON", ("/json/",)),
    ("the lane (idp/protocol/lane)", ("/idp/protocol/lane/",)),
    ("tokens and claims (idp/protocol)", ("/idp/protocol/", "/claims/")),
    ("rest of Keyholder", ("/idp/", "/admin_console/", "/services/", "/keyholder/")),
]


def part_of(filename: str) -> str:
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C: hashing, base64, str, ...)"
    for name, needles in PARTS:
        if any(needle in filename for needle in needles):
            return name
    return "other Python (stdlib, ...)"


class InProcess:
    """The app built in this process, called as its WSGI server would."""

    def __init__(self, env: dict[str, str]) -> None:
        os.environ.update(env)
        from keyholder.provider import create_app  # after the settings are in the environment

        self.app = create_app()
        issuer = urlsplit(env["KEYHOLDER_ISSUER"])
        self.host = issuer.netloc

    def environ(self, method: str, path: str, auth: str | None, body: bytes) -> dict:
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "",
                   "SERVER_NAME": self.host.split(":")[0], "SERVER_PORT": self.host.split(":")[1],
                   "SERVER_PROTOCOL": "HTTP/1.1", "HTTP_HOST": self.host,
                   "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
                   "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
                   "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
                   "wsgi.version": (1, 0)}
        if body:  # a GET without a body has neither header, as from wrk
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
            environ["CONTENT_LENGTH"] = str(len(body))
        if auth:
            environ["HTTP_AUTHORIZATION"] = auth
        return environ

    def call(self, method: str, path: str, auth: str | None = None,
             body: bytes = b"") -> tuple[str, bytes]:
        status = []
        chunks = self.app.wsgi_app(self.environ(method, path, auth, body),
                                   lambda s, h, e=None: status.append(s))
        try:
            content = b"".join(chunks)
        finally:
            close = getattr(chunks, "close", None)
            if close:
                close()
        return status[0], content


def scenarios(target, pool: int):
    """(name, needs a fresh app, make(n) -> n request callables on an InProcess).
    Every token is issued here, while the server runs."""

    def form(**fields) -> bytes:
        return urlencode(fields).encode()

    def same(method, path, auth=None, body=b""):
        return lambda n: [lambda k: k.call(method, path, auth, body)] * n

    def cycle(path, auth, tokens):
        def one(token):
            return lambda k: k.call("POST", path, auth, form(token=token))
        return lambda n: [one(tokens[i % len(tokens)]) for i in range(n)]

    seeds = target.refresh_tokens(3)  # one chain for each call of make: warm, plain, profiled

    def refresh_chain(n):
        state = {"token": seeds.pop()}

        def one(k):
            status, content = k.call("POST", "/token", target.web,
                                     form(grant_type="refresh_token",
                                          refresh_token=state["token"]))
            state["token"] = json.loads(content)["refresh_token"]
            return status, content
        return [one] * n

    service = target.service_tokens(1)[0]
    person = target.person_tokens(1)[0]
    return [
        ("token: client_credentials", False,
         same("POST", "/token", target.service, form(grant_type="client_credentials"))),
        ("token: refresh_token", False, refresh_chain),
        ("introspection: service token, repeated", False,
         same("POST", "/introspect", target.service, form(token=service))),
        ("introspection: service token, new each time", True,
         cycle("/introspect", target.service, target.service_tokens(pool))),
        ("introspection: person token, repeated", False,
         same("POST", "/introspect", target.web, form(token=person))),
        ("introspection: person token, new each time", True,
         cycle("/introspect", target.web, target.person_tokens(pool))),
        ("UserInfo", False, same("GET", "/userinfo", "Bearer " + person)),
        ("JWKS", False, same("GET", "/jwks.json")),
        ("discovery", False, same("GET", "/.well-known/openid-configuration")),
    ]


def run(requests_, keyholder: InProcess) -> None:
    for request in requests_:
        status, content = request(keyholder)
        if not status.startswith("200") or b'"active":false' in content.replace(b" ", b""):
            sys.exit(f"not a success: {status} {content[:300]!r}")


def warmed(keyholder: InProcess, warm) -> InProcess:
    """Connections opened and caches filled, with requests that are not measured."""
    run(warm, keyholder)
    return keyholder


def profile(name: str, fresh: bool, make, env: dict, n: int, top: int,
            shared: InProcess) -> None:
    if fresh:  # a new app for each pass, so that every token of the pool misses the memo
        warm = [lambda k: k.call("GET", "/jwks.json")]
        plain, profiled = warmed(InProcess(env), warm), warmed(InProcess(env), warm)
    else:
        plain = profiled = warmed(shared, make(min(n, 50)))
    requests_ = make(n)
    wall, cpu = time.perf_counter(), time.process_time()
    run(requests_, plain)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    requests_ = make(n)
    profiler = cProfile.Profile()
    profiler.enable()
    run(requests_, profiled)
    profiler.disable()
    stats = pstats.Stats(profiler)
    parts: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        parts[part_of(filename)] += tottime
    total = sum(parts.values())
    print(f"\n## {name}\n\n{n} requests in-process: {wall / n * 1e6:.0f} µs wall, "
          f"{cpu / n * 1e6:.0f} µs of this process's CPU per request "
          f"(profiled: {total / n * 1e6:.0f} µs)\n")
    print("| part | µs per request (profiled) | share |\n|---|---:|---:|")
    for part, seconds in sorted(parts.items(), key=lambda item: -item[1]):
        print(f"| {part} | {seconds / n * 1e6:.1f} | {seconds / total:.0%} |")
    print(f"\nThe {top} functions that take most (own time):\n")
    print("| function | calls per request | µs per request |\n|---|---:|---:|")
    ranked = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:top]
    for (filename, line, function), (_, calls, tottime, _, _) in ranked:
        where = filename.rsplit("site-packages/", 1)[-1].rsplit("/work/", 1)[-1]
        print(f"| `{function}` ({where}:{line}) | {calls / n:.1f} | {tottime / n * 1e6:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--only", help="only the scenarios whose name contains this")
    parser.add_argument("--top", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="keyholder-profile-"))
    processes = Processes(work)
    drop = None
    try:
        server = "{keyholder} serve --host 127.0.0.1 --port {port} --workers 2"
        target, drop = start_keyholder(processes, work, server)
        target.discover()
        chosen = [s for s in scenarios(target, args.requests)
                  if not args.only or args.only in s[0]]
        processes.stop()  # the tokens are issued; what is measured runs in this process
        shared = InProcess(target.environment)
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, PostgreSQL, "
              f"{args.requests} requests per scenario")
        for name, fresh, make in chosen:
            profile(name, fresh, make, target.environment, args.requests, args.top, shared)
    finally:
        processes.stop()
        if drop is not None:
            drop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
