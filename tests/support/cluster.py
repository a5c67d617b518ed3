"""Several ``keyholder serve`` nodes behind Debian's HAProxy on loopback, for
the cluster test (``tests/test_cluster.py``): one PostgreSQL database, the
signing keys in it (``KEYHOLDER_KEYS_STORE=database``), each node a process
of its own with an instance folder of its own, so that nothing but the
database is shared.

HAProxy balances round robin without stickiness, checks each node's
``/health/ready`` every quarter second, and stamps every answer with the
node that gave it (``X-Node: node2``). The issuer is the balancer,
``http://127.0.0.1:<port>``; a request sent straight to a node carries the
issuer's ``Host`` (:meth:`Cluster.direct`), as the provider answers at its
issuer's origin only."""

from __future__ import annotations

import contextlib
import itertools
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import requests

from tests.support.databases import unavailable
from tests.support.ports import free_range
from tests.support.serve_command import KEYHOLDER, ROOT, environment, kill, launch, output

HAPROXY_CONFIG = """\
global
    maxconn 256
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 10s
    # A loaded machine may answer a check slowly: that is not a node down.
    timeout check 2s
frontend balancer
    bind 127.0.0.1:{front}
    option forwardfor
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk
    # With the issuer's Host: the provider refuses /health/ready at any other
    # origin (only /health is exempt from its origin check).
    http-check send meth GET uri /health/ready ver HTTP/1.1 hdr Host {host}
    http-check expect status 200
    default-server check inter 250ms fastinter 250ms downinter 250ms fall 8 rise 1
    http-response set-header X-Node %s
{servers}
"""
STARTUP_SECONDS = 90  # a loaded CI machine starts Python slowly


def haproxy() -> str:
    """Debian's HAProxy (``/usr/sbin`` is not on every user's PATH)."""
    found = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if found is None:
        unavailable("HAProxy is not installed (apt-get install haproxy)")
    return found


def command(env: dict, *args: str, stdin: str | None = None) -> str:
    """``keyholder ARGS`` with ``env``; its output (the test fails if it fails)."""
    result = subprocess.run([str(KEYHOLDER), *args], env=env, input=stdin, cwd=ROOT,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, f"keyholder {' '.join(args)}:\n{result.stderr}"
    return result.stdout


@dataclass
class Node:
    name: str
    port: int
    env: dict
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    issuer: str
    nodes: list[Node]
    folder: Path
    proxy: subprocess.Popen | None = None
    logs: dict[str, str] = field(default_factory=dict)

    @property
    def host(self) -> str:
        return self.issuer.removeprefix("http://")

    @property
    def env(self) -> dict:
        """The first node's environment, for operator commands."""
        return self.nodes[0].env

    def node(self, name: str) -> Node:
        (node,) = (n for n in self.nodes if n.name == name)
        return node

    def direct(self, node: Node | str, method: str, path: str, *,
               session: requests.Session | None = None, **kwargs) -> requests.Response:
        """A request straight to ``node``, past the balancer, at the issuer's origin."""
        node = self.node(node) if isinstance(node, str) else node
        headers = {"Host": self.host, **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 10)
        kwargs.setdefault("allow_redirects", False)
        return (session or requests).request(method, node.url + path, headers=headers,
                                             **kwargs)

    def following(self, name: str) -> str:
        """The node round robin sends the request after one that ``name`` served."""
        names = [n.name for n in self.nodes]
        return names[(names.index(name) + 1) % len(names)]

    def ping(self, session: requests.Session | None = None) -> str:
        """One request through the balancer; the node that answered it."""
        answer = (session or requests).get(f"{self.issuer}/health/live", timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.headers["X-Node"]

    def steer(self, away_from: set[str]) -> str:
        """Send requests through the balancer until the next one will reach a
        node not in ``away_from``; that node (the caller checks it did)."""
        for _ in range(len(self.nodes) + 1):
            upcoming = self.following(self.ping())
            if upcoming not in away_from:
                return upcoming
        raise AssertionError(f"every node is one of {away_from}")

    def start(self) -> None:
        """Start the nodes and the balancer; return once the balancer has sent
        a request to every node, in the order round robin promises."""
        for node in self.nodes:
            node.process = launch([str(KEYHOLDER), "serve", "--host", "127.0.0.1", "--port",
                                   str(node.port), "--workers", "1"], node.env)
        for node in self.nodes:
            _wait_until_ready(self, node)
        front = int(self.issuer.rsplit(":", 1)[1])
        servers = "\n".join(f"    server {n.name} 127.0.0.1:{n.port}" for n in self.nodes)
        config = self.folder / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(front=front, host=self.host, servers=servers))
        log = (self.folder / "haproxy.log").open("w")
        with log:
            self.proxy = subprocess.Popen([haproxy(), "-db", "-f", str(config)], stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
        self._wait_for_rotation()

    def _wait_for_rotation(self) -> None:
        names = [n.name for n in self.nodes]
        deadline = time.monotonic() + STARTUP_SECONDS
        seen: list[str] = []
        while time.monotonic() < deadline:
            assert self.proxy.poll() is None, (self.folder / "haproxy.log").read_text()
            try:
                seen.append(self.ping())
            except (requests.ConnectionError, AssertionError, KeyError):
                seen.clear()
                time.sleep(0.1)
                continue
            if len(seen) >= 2 * len(names):
                last = seen[-2 * len(names):]
                if all(self.following(a) == b for a, b in itertools.pairwise(last)):
                    return
            if len(seen) > 20 * len(names):
                raise AssertionError(f"round robin does not follow {names}: {seen}")
        raise AssertionError(f"the balancer never reached every node: {seen[-10:]}")

    def stop(self) -> dict[str, str]:
        """SIGTERM to the balancer, then to every node; their output by name.
        Each node must stop cleanly (exit status 0)."""
        if self.proxy is not None and "haproxy" not in self.logs:
            self.proxy.send_signal(signal.SIGTERM)
            try:
                self.proxy.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proxy.kill()
                self.proxy.wait(timeout=30)
            self.logs["haproxy"] = (self.folder / "haproxy.log").read_text()
        running = [n for n in self.nodes if n.process is not None and n.name not in self.logs]
        for node in running:
            node.process.send_signal(signal.SIGTERM)
        for node in running:
            try:
                node.process.wait(timeout=30)
            finally:
                kill(node.process)
            self.logs[node.name] = output(node.process)
        failed = {n.name: n.process.returncode for n in self.nodes
                  if n.process is not None and n.process.returncode != 0}
        assert not failed, (failed, {name: self.logs[name] for name in failed})
        return self.logs

    def kill(self) -> None:
        """SIGKILL to whatever still runs (a test failed with it running)."""
        for node in self.nodes:
            if node.process is not None:
                kill(node.process)
        if self.proxy is not None and self.proxy.poll() is None:
            self.proxy.kill()
            self.proxy.wait(timeout=30)


def _wait_until_ready(cluster: Cluster, node: Node) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if node.process.poll() is not None:
            break
        with contextlib.suppress(requests.ConnectionError, requests.Timeout):
            if cluster.direct(node, "GET", "/health/ready", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{node.name} never got ready:\n{output(node.process)}")


def plan(folder: Path, database_url: str, count: int = 3, **settings: str) -> Cluster:
    """``count`` nodes on ``database_url``, not started: each with a port and
    an instance folder of its own, the keys in the database, the balancer
    (127.0.0.1) their trusted proxy, and ``settings`` (``KEYHOLDER_`` left out)."""
    first = free_range(count + 1)  # the balancer's, then the nodes'
    issuer = f"http://127.0.0.1:{first}"
    nodes = []
    for number in range(1, count + 1):
        name = f"node{number}"
        (folder / name).mkdir(parents=True)
        env = environment(folder / name, database_url, issuer)
        env.update(KEYHOLDER_KEYS_STORE="database", KEYHOLDER_TRUSTED_PROXIES="127.0.0.1")
        env.update({f"KEYHOLDER_{k}": str(v) for k, v in settings.items()})
        nodes.append(Node(name, first + number, env))
    return Cluster(issuer, nodes, folder)


@contextlib.contextmanager
def running(cluster: Cluster) -> Iterator[Cluster]:
    """``cluster`` started; stopped afterwards (killed if a test failed with it up)."""
    try:
        cluster.start()
        yield cluster
        cluster.stop()
    finally:
        cluster.kill()
