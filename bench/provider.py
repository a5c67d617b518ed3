"""Throughput of the provider's hot endpoints under `keyholder serve`, with wrk on loopback.

    .venv/bin/python bench/provider.py [--database sqlite|postgresql|both]
                                       [--seconds 10] [--connections 16] [--workers 4]

For each database: a fresh instance (SQLite file, or a PostgreSQL database
created for the run and dropped after), `keyholder init`, one service client,
then `keyholder serve` and wrk (Debian's `wrk`; installed with apt-get when
missing) against:
  - POST /token        grant_type=client_credentials (client_secret_basic)
  - POST /introspect   an access token of that client
  - GET  /jwks.json
Prints requests per second and latency percentiles as a Markdown table.
Every load is bounded (duration and connections) and stays on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
KEYHOLDER = Path(sys.executable).with_name("keyholder")
POSTGRES = os.environ.get("KEYHOLDER_TEST_POSTGRES_URL",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                   stdout=subprocess.DEVNULL)
    return shutil.which("wrk") or sys.exit("wrk is needed: apt-get install wrk")


def postgres_database() -> tuple[str, callable]:
    import psycopg
    from sqlalchemy import make_url

    server = make_url(POSTGRES)
    conninfo = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"keyholder_bench_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return server.set(database=name).render_as_string(hide_password=False), drop


def run(cmd: list[str], env: dict, **kwargs) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True,
                          timeout=120, **kwargs).stdout


def wrk(binary: str, url: str, seconds: int, connections: int, body=None, basic=None) -> dict:
    cmd = [binary, "--latency", "-t", "2", "-c", str(connections), "-d", f"{seconds}s",
           "--timeout", "5s"]
    if body is not None:
        cmd += ["-s", str(HERE / "post.lua"), url, "--", body, basic]
    else:
        cmd.append(url)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    return parse_wrk(out)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out: str) -> dict:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    pct = {p: _ms(v, u) for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$",
                                                   out, re.M)}
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": pct.get("50"), "p99": pct.get("99"),
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1).strip() if socket_errors else ""}


def bench_database(kind: str, args, binary: str) -> list[dict]:
    work = Path(tempfile.mkdtemp(prefix="keyholder-bench-"))
    drop = None
    if kind == "postgresql":
        url, drop = postgres_database()
    else:
        url = f"sqlite:///{work / 'keyholder.db'}"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update(KEYHOLDER_DATABASE_URL=url, KEYHOLDER_INSTANCE_PATH=str(work),
               KEYHOLDER_KEYS_DIR=str(work / "keys"), KEYHOLDER_ISSUER=f"http://127.0.0.1:{port}",
               KEYHOLDER_SECRET_KEY=secrets.token_urlsafe(32),
               KEYHOLDER_KEYS_PASSPHRASE=secrets.token_urlsafe(32),
               KEYHOLDER_SMTP_URL="smtp://127.0.0.1:8025", KEYHOLDER_MAIL_FROM="bench@localhost",
               KEYHOLDER_LOG_LEVEL="WARNING")
    server = None
    try:
        run([str(KEYHOLDER), "init"], env)
        client = json.loads(run([str(KEYHOLDER), "client", "add", "Bench service",
                                 "--type", "service"], env))
        basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()
                                 ).decode()
        server = subprocess.Popen([str(KEYHOLDER), "serve", "--port", str(port), "--workers",
                                   str(args.workers)], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        token = requests.post(f"{base}/token", data={"grant_type": "client_credentials"},
                              headers={"Authorization": f"Basic {basic}"},
                              timeout=10).json()["access_token"]
        results = []
        for name, path, body in [
            ("token (client_credentials)", "/token", "grant_type=client_credentials"),
            ("introspection", "/introspect", f"token={token}"),
            ("JWKS", "/jwks.json", None),
        ]:
            wrk(binary, base + path, 2, args.connections, body, basic)  # warm-up
            result = wrk(binary, base + path, args.seconds, args.connections, body, basic)
            results.append({"database": kind, "endpoint": name, **result})
        return results
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        if drop is not None:
            drop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    binary = ensure_wrk()
    kinds = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    rows = [row for kind in kinds for row in bench_database(kind, args, binary)]
    print(f"\nwrk: 2 threads, {args.connections} connections, {args.seconds} s per endpoint; "
          f"keyholder serve: {args.workers} workers; {os.cpu_count()} CPUs\n")
    print("| database | endpoint | requests/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['database']} | {r['endpoint']} | {r['rps']:.0f} | {r['p50']:.2f} | "
              f"{r['p99']:.2f} | {r['non2xx']} |")


if __name__ == "__main__":
    main()
