"""Keyholder side by side with node oidc-provider (OpenID-certified) on the hot paths.

    .venv/bin/python bench/peer.py [--seconds 10] [--connections 32,64] [--runs 2]
                                   [--pool 4000] [--server "{keyholder} serve ..."]
                                   [--only NAME] [--quick]

Keyholder runs on a scratch PostgreSQL database (KEYHOLDER_TEST_POSTGRES_URL,
by default 127.0.0.1:5432, dropped at the end) under the command of --server.
node oidc-provider 9 is installed with npm into ~/.cache/keyholder-bench/node
(KEYHOLDER_BENCH_CACHE) when missing, configured by bench/peer_node.mjs, and
runs twice: on 1 process and on 2 (node's cluster module). Everything listens
on 127.0.0.1 and is stopped at the end, also on Ctrl-C.

For each scenario and connection count, wrk (bench/peer.lua, one thread)
runs Keyholder, node, Keyholder, node (A B A B), --seconds each, after a
warm-up of each; the table gives the medians and the ratio Keyholder / node
with its range over the pairs. Errors are counted and shown: non-2xx answers,
and for introspection an answer without "active": true, for refresh one
without an ID token and a refresh token. "other CPU" is the largest share of
the machine that processes outside the benchmark took during a run: the
ratios hold only when it is near 0. A pair of runs during which they took
more than 10% is run again once the machine is quiet (--retries in all).

The stateless scenarios (client_credentials, JWKS, discovery) are compared
with node on 2 processes; the ones that read stored tokens (refresh,
introspection, UserInfo) with node on 1 process, as node's in-memory store
is per process. node introspects only opaque tokens and its UserInfo takes
only tokens without a resource, so those are opaque at node (JWTs at
Keyholder); its client_credentials and refresh_token answers carry an ES256
JWT access token (RFC 9068) for a resource, as Keyholder's do, and refresh an
RS256 ID token on both. Refresh tokens rotate at every use on both: each
connection follows its own chain (one authorization each, by the code flow),
sending the refresh token of the previous answer. "New each time" cycles
through --pool tokens issued just before the scenario: it measures tokens
never seen before only as long as the pool is larger than any cache of
verified tokens.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import requests
from peer_targets import (
    HERE,
    Processes,
    Target,
    cpu_mark,
    ensure_node_provider,
    others_since,
    start_keyholder,
    start_node,
)
from provider import ensure_wrk, parse_wrk

# --- scenarios --------------------------------------------------------------------------------

ACTIVE = '"active"%s*:%s*true'


@dataclass
class Load:
    """One wrk load: see peer.lua for the modes."""

    mode: str
    url: str
    auth: str = "-"
    body: str = "-"
    tokens: list[str] | None = None  # the pool of "cycle"
    check: str = "-"
    seeds: callable = None  # chain: n -> n refresh tokens, fresh for each run


def scenarios(pool: int):
    """(name, node processes, prepare(target) -> Load)."""

    def client_credentials(t: Target) -> Load:
        return Load("post", t.url("token"), t.service,
                    urlencode({"grant_type": "client_credentials", **t.extra}))

    def refresh(t: Target) -> Load:
        return Load("chain", t.url("token"), t.web,
                    urlencode({"grant_type": "refresh_token", "refresh_token": "TOKEN",
                               **t.extra}),
                    check='"id_token"', seeds=t.refresh_tokens)

    def introspect(who: str, repeated: bool):
        def prepare(t: Target) -> Load:
            n = 1 if repeated else pool
            tokens = t.service_tokens(n) if who == "service" else t.person_tokens(n)
            auth = t.service if who == "service" else t.web
            if repeated:
                return Load("post", t.url("introspect"), auth, f"token={tokens[0]}",
                            check=ACTIVE)
            return Load("cycle", t.url("introspect"), auth, "token=TOKEN", tokens, ACTIVE)
        return prepare

    def userinfo(t: Target) -> Load:
        return Load("get", t.url("userinfo"), "Bearer " + t.code_flow()["access_token"])

    return [
        ("token: client_credentials", 2, client_credentials),
        ("token: refresh_token", 1, refresh),
        ("introspection: service token, repeated", 1, introspect("service", True)),
        ("introspection: service token, new each time", 1, introspect("service", False)),
        ("introspection: person token, repeated", 1, introspect("person", True)),
        ("introspection: person token, new each time", 1, introspect("person", False)),
        ("UserInfo", 1, userinfo),
        ("JWKS", 2, lambda t: Load("get", t.url("jwks"))),
        ("discovery", 2, lambda t: Load("get", t.url("discovery"))),
    ]


def run_wrk(binary: str, load: Load, connections: int, seconds: int, threads: int,
            work: Path, ours: Processes) -> dict:
    tokens = load.tokens
    if load.seeds is not None:
        tokens = load.seeds(connections + threads)  # wrk calls request() once more, to check
    path = "-"
    if tokens is not None:
        path = str(work / "tokens.txt")
        Path(path).write_text("\n".join(tokens) + "\n")
    cmd = [binary, "--latency", "-t", str(threads), "-c", str(connections),
           "-d", f"{seconds}s", "--timeout", "5s", "-s", str(HERE / "peer.lua"), load.url,
           "--", load.mode, load.auth, load.body, path, load.check, str(threads)]
    mark = cpu_mark(ours)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         timeout=seconds + 60).stdout
    result = parse_wrk(out)
    result["other"] = others_since(ours, mark)
    bad = re.search(r"bench-bad: (\d+)", out)
    result["bad"] = int(bad.group(1)) if bad else 0
    result["requests"] = int(re.search(r"(\d+) requests in", out).group(1))
    return result


def check_once(target: Target, load: Load) -> None:
    """One request of the load with requests, so that a broken setup stops the run early."""
    headers = {} if load.auth == "-" else {"Authorization": load.auth}
    body = load.body
    if load.mode == "cycle":
        body = body.replace("TOKEN", load.tokens[-1])
    if load.mode == "chain":
        body = body.replace("TOKEN", load.seeds(1)[0])
    if load.mode == "get":
        response = requests.get(load.url, headers=headers, timeout=30)
    else:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        response = requests.post(load.url, data=body, headers=headers, timeout=30)
    check = load.check.replace("%s*", r"\s*") if load.check != "-" else ""
    if response.status_code != 200 or not re.search(check, response.text):
        sys.exit(f"{target.name} {load.url}: {response.status_code} {response.text[:500]}")


# --- the run ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="per run (default 10)")
    parser.add_argument("--connections", default="32,64", help="comma-separated (32,64)")
    parser.add_argument("--runs", type=int, default=2, help="A B pairs per row (default 2)")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per provider (2)")
    parser.add_argument("--pool", type=int, default=4000,
                        help='tokens cycled by "new each time" (default 4000)')
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (default 1)")
    parser.add_argument("--retries", type=int, default=6,
                        help="pairs that may be run again in the whole run, each after waiting "
                             "(2 min at most) for other processes to leave the CPU (default 6)")
    parser.add_argument("--only", help="run only the scenarios whose name contains this")
    parser.add_argument("--server", default="{keyholder} serve --host 127.0.0.1 --port {port}",
                        help="the command that serves Keyholder; {keyholder} is the "
                             "keyholder script, {port} the port")
    parser.add_argument("--quick", action="store_true",
                        help="a check that it works in about a minute: 1 s runs, 32 "
                             "connections, pool 500")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.connections, args.warmup, args.pool, args.retries = 1, "32", 1, 500, 0
    connections = [int(c) for c in args.connections.split(",")]
    started = time.monotonic()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    binary = ensure_wrk()
    folder = ensure_node_provider()
    work = Path(tempfile.mkdtemp(prefix="keyholder-peer-"))
    processes = Processes(work)
    drop = None
    rows = []
    try:
        keyholder, drop = start_keyholder(processes, work, args.server)
        nodes = {n: start_node(processes, folder, n) for n in (1, 2)}
        for target in (keyholder, *nodes.values()):
            target.discover()
        print(f"set up in {time.monotonic() - started:.0f} s; {os.cpu_count()} CPUs, load "
              f"average {os.getloadavg()[0]:.2f} (other work on the machine skews the "
              f"ratios); Keyholder: {args.server}", flush=True)
        for name, node_processes, prepare in scenarios(args.pool):
            if not args.only or args.only in name:
                rows += bench_scenario(name, keyholder, nodes[node_processes], prepare,
                                       connections, binary, work, processes, args)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
    finally:
        processes.stop()
        if drop is not None:
            drop()
        shutil.rmtree(work, ignore_errors=True)
    if rows:
        print_table(rows, args)
    print(f"\ntotal run time: {time.monotonic() - started:.0f} s")


NOISE = 0.1  # the share of the machine other processes may take during a run
TOKEN_AGE = 180  # s; Keyholder's access tokens live 300 s: older pools are issued again


def wait_until_quiet(ours: Processes, limit: float = 120) -> None:
    """Wait until processes outside the benchmark leave the machine alone for 3 s."""
    deadline, quiet = time.monotonic() + limit, 0
    while quiet < 3 and time.monotonic() < deadline:
        mark = cpu_mark(ours)
        time.sleep(1)
        quiet = quiet + 1 if others_since(ours, mark) < NOISE else 0


def bench_scenario(name: str, keyholder: Target, node: Target, prepare, connections: list[int],
                   binary: str, work: Path, ours: Processes, args) -> list[dict]:
    """Issue what the scenario needs on both, then A B A B at each connection count. A pair
    during which other processes took more than NOISE of the machine is run again once the
    machine is quiet, while the run's budget of --retries lasts."""
    loads, issued = {}, -TOKEN_AGE

    def pair(c: int, seconds: int) -> dict:
        nonlocal issued
        if time.monotonic() - issued >= TOKEN_AGE:
            begun = time.monotonic()
            for target in (keyholder, node):
                loads[target.name] = prepare(target)
                check_once(target, loads[target.name])
            issued = time.monotonic()
            print(f"{name}: tokens issued in {issued - begun:.0f} s", flush=True)
        return {t.name: run_wrk(binary, loads[t.name], c, seconds, args.threads, work, ours)
                for t in (keyholder, node)}

    rows = []
    for c in connections:
        pair(c, args.warmup)
        runs, retried = {keyholder.name: [], node.name: []}, 0
        while len(runs[keyholder.name]) < args.runs:
            results = pair(c, args.seconds)
            if max(r["other"] for r in results.values()) > NOISE and args.retries > 0:
                args.retries -= 1
                retried += 1
                wait_until_quiet(ours)
                continue
            for who, result in results.items():
                runs[who].append(result)
        rows.append(row(name, c, keyholder.name, node.name, runs, args.pool) | {
            "retried": retried})
        print_row(rows[-1])
    return rows


def row(name: str, c: int, a: str, b: str, runs: dict, pool: int) -> dict:
    def median(key: str, who: str) -> float:
        return statistics.median(r[key] for r in runs[who])

    def errors(who: str) -> int:  # "bad" counts the non-2xx too when Lua reads the answers
        return sum(max(r["non2xx"], r["bad"]) for r in runs[who])

    pairs = [x["rps"] / y["rps"] for x, y in zip(runs[a], runs[b], strict=True)]
    passes = "" if "new each time" not in name else " / ".join(
        f"{median('requests', who) / pool:.0f}" for who in (a, b))
    return {"name": name, "c": c, "node": b,
            "a": {k: median(k, a) for k in ("rps", "p50", "p99")},
            "b": {k: median(k, b) for k in ("rps", "p50", "p99")},
            "ratio": median("rps", a) / median("rps", b), "low": min(pairs), "high": max(pairs),
            "errors": f"{errors(a)} / {errors(b)}",
            "socket": "; ".join(filter(None, (r["socket_errors"] for w in (a, b)
                                              for r in runs[w]))),
            "passes": passes,
            "other": max(r["other"] for w in (a, b) for r in runs[w])}


def print_row(r: dict) -> None:
    print(f"{r['name']} c={r['c']}: Keyholder {r['a']['rps']:.0f}/s, {r['node']} "
          f"{r['b']['rps']:.0f}/s, ratio {r['ratio']:.2f} (errors {r['errors']}, other "
          f"processes up to {r['other']:.0%} of the CPU"
          + (f", {r['retried']} noisy pair(s) run again" if r["retried"] else "") + ")"
          + (f" socket errors: {r['socket']}" if r["socket"] else ""), flush=True)


def print_table(rows: list[dict], args) -> None:
    print(f"\nwrk -t{args.threads}, {args.seconds:g} s per run, A B A B ({args.runs} pairs), "
          f"medians; ratio = Keyholder / node requests/s (range over the pairs); "
          f"errors = non-2xx or failed checks, Keyholder / node; other CPU = the largest "
          f"share of the machine that processes outside the benchmark took during a run\n")
    print("| scenario | conn. | Keyholder req/s | p50 ms | p99 ms | node | node req/s | p50 ms "
          "| p99 ms | ratio | errors | other CPU |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---:|")
    for r in rows:
        a, b = r["a"], r["b"]
        print(f"| {r['name']} | {r['c']} | {a['rps']:,.0f} | {a['p50']:.1f} | {a['p99']:.1f} "
              f"| {r['node']} | {b['rps']:,.0f} | {b['p50']:.1f} | {b['p99']:.1f} "
              f"| **{r['ratio']:.2f}x** ({r['low']:.2f}-{r['high']:.2f}) | {r['errors']} "
              f"| {r['other']:.0%} |")
    passes = [f"{r['name']} c={r['c']}: {r['passes']}" for r in rows if r["passes"]]
    if passes:
        print(f"\nPasses over the pool of {args.pool} tokens per run (Keyholder / node): "
              + "; ".join(passes))
    if any(r["other"] > 0.1 for r in rows):
        print("\nWARNING: other processes took more than 10% of the CPU during some runs; "
              "those ratios are not the providers' alone. Run again on a quiet machine.")
    sockets = [f"{r['name']} c={r['c']}: {r['socket']}" for r in rows if r["socket"]]
    if sockets:
        print("\nSocket errors: " + "; ".join(sockets))


if __name__ == "__main__":
    main()
