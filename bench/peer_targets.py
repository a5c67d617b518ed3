r"""The two sides of bench/peer.py: Keyholder (``keyholder serve`` on a scratch
PostgreSQL database, with its clients, a person and her tokens) and node
oidc-provider (installed with npm into a cache), as :class:`Target`\ s the load
is aimed at; and the accounting of the CPU that processes outside the
benchmark take."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from provider import KEYHOLDER, free_port, postgres_database

HERE = Path(__file__).resolve().parent
CACHE = Path(os.environ.get("KEYHOLDER_BENCH_CACHE",
                            Path.home() / ".cache" / "keyholder-bench" / "node"))
NODE_PACKAGE = "oidc-provider@9"
RESOURCE = "urn:keyholder-bench:api"  # as in peer_node.mjs
REDIRECT_URI = "http://127.0.0.1:9/callback"  # never fetched: the code is read off the redirect
SCOPE = "openid profile email phone customer"
EMAIL, PASSWORD = "bench@example.com", secrets.token_urlsafe(16)
INPUT = re.compile(r"<input\b([^>]*)>")
ATTRIBUTE = re.compile(r'(\w+)="([^"]*)"')
FORM = re.compile(r'<form\b[^>]*\baction="([^"]*)"[^>]*>(.*?)</form>', re.S)


def _page_form(text: str):
    """The page's own form (the login, the consent), not the header's language switcher."""
    return next((m for m in FORM.finditer(text) if "/language" not in m.group(1)), None)


# --- processes --------------------------------------------------------------------------------

class Processes:
    """Every server this run starts, each in its own process group, stopped at the end."""

    def __init__(self, work: Path) -> None:
        self.work, self.started = work, []
        self.database = None  # Keyholder's: its PostgreSQL backends count as the benchmark's

    def start(self, name: str, cmd: list[str], **kwargs) -> subprocess.Popen:
        log = open(self.work / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True, **kwargs)
        self.started.append((name, process, log))
        return process

    @property
    def groups(self) -> set[int]:
        return {process.pid for _, process, _ in self.started}

    def log(self, name: str) -> str:
        return (self.work / f"{name}.log").read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        for _, process, _ in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process, log in self.started:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            log.close()


def cpu_seconds(ours: Processes) -> tuple[float, float]:
    """CPU seconds so far: the machine's busy time, and the benchmark's (this
    process, its children such as wrk once waited for, the servers' process
    groups, and the PostgreSQL backends serving Keyholder's database)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = [int(v) for v in Path("/proc/stat").read_text().split()[1:9]]
    busy = (sum(total) - total[3] - total[4]) / tick  # all but idle and iowait
    mine = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    groups = ours.groups
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            comm, rest = stat.read_text().rsplit(")", 1)
            fields = rest.split()  # state, ppid, pgrp, ...; utime and stime are 11 and 12
            if int(fields[2]) in groups or (
                    comm.endswith("(postgres") and ours.database
                    and ours.database in (stat.parent / "cmdline").read_text()):
                mine += (int(fields[11]) + int(fields[12])) / tick
        except OSError:  # gone meanwhile
            continue
    return busy, mine


def cpu_mark(ours: Processes) -> tuple[float, float, float]:
    return (*cpu_seconds(ours), time.monotonic())


def others_since(ours: Processes, mark: tuple[float, float, float]) -> float:
    """The share of the machine that processes outside the benchmark took since ``mark``."""
    busy, mine, now = cpu_mark(ours)
    return max(0.0, (busy - mark[0]) - (mine - mark[1])) / ((now - mark[2]) * os.cpu_count())


def wait_until_up(url: str, process: subprocess.Popen, processes: Processes, name: str) -> None:
    for _ in range(150):
        if process.poll() is not None:
            sys.exit(f"{name} stopped:\n{processes.log(name)}")
        try:
            if requests.get(url, timeout=5).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    sys.exit(f"{name} did not answer at {url}:\n{processes.log(name)}")


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


# --- the two providers ------------------------------------------------------------------------

_local = threading.local()


def http() -> requests.Session:
    """A keep-alive session per thread, for issuing tokens in parallel."""
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


@dataclass
class Target:
    """One provider as the benchmark sees it: endpoints, clients, a signed-in browser."""

    name: str
    base: str
    service: str  # Authorization header of the client_credentials client
    web_id: str  # the web client (code flow, refresh tokens)
    web: str  # its Authorization header
    login: dict  # what its login form wants
    extra: dict = field(default_factory=dict)  # added to token requests for a JWT access token
    authorize_extra: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    browser: requests.Session = field(default_factory=requests.Session)
    environment: dict = field(default_factory=dict)  # Keyholder's settings (bench/lane_profile.py)

    def discover(self) -> None:
        self.meta = requests.get(self.url("discovery"), timeout=10).json()

    def url(self, endpoint: str) -> str:
        if endpoint == "discovery":
            return self.base + "/.well-known/openid-configuration"
        return self.meta[{"token": "token_endpoint", "introspect": "introspection_endpoint",
                          "userinfo": "userinfo_endpoint", "jwks": "jwks_uri",
                          "authorize": "authorization_endpoint"}[endpoint]]

    def post(self, endpoint: str, data: dict, auth: str) -> dict:
        response = http().post(self.url(endpoint), data=data,
                               headers={"Authorization": auth}, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"{self.name} {endpoint}: {response.status_code} {response.text}")
        return response.json()

    def code_flow(self) -> dict:
        """Authorize in the browser (signing in and consenting the first time); the tokens."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state = secrets.token_urlsafe(8)
        params = {"response_type": "code", "client_id": self.web_id,
                  "redirect_uri": REDIRECT_URI, "scope": SCOPE, "state": state,
                  "nonce": secrets.token_urlsafe(8), "code_challenge_method": "S256",
                  "code_challenge": challenge.rstrip(b"=").decode(), **self.authorize_extra}
        response = self.browser.get(self.url("authorize"), params=params, allow_redirects=False,
                                    timeout=30)
        for _ in range(12):
            if response.is_redirect:
                location = urljoin(response.url, response.headers["Location"])
                if location.startswith(REDIRECT_URI):
                    answer = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                    if answer.get("state") != state or "code" not in answer:
                        raise RuntimeError(f"{self.name} /authorize: {location}")
                    return self.post("token", {"grant_type": "authorization_code",
                                               "code": answer["code"], "code_verifier": verifier,
                                               "redirect_uri": REDIRECT_URI}, self.web)
                response = self.browser.get(location, allow_redirects=False, timeout=30)
            elif response.status_code == 200 and (form := _page_form(response.text)):
                fields = {}
                for tag in INPUT.findall(form.group(2)):
                    attributes = dict(ATTRIBUTE.findall(tag))
                    name = attributes.get("name")
                    if name:
                        fields[name] = self.login.get(name, html.unescape(
                            attributes.get("value", "")))
                response = self.browser.post(urljoin(response.url, html.unescape(form.group(1))),
                                             data=fields, allow_redirects=False, timeout=30)
            else:
                raise RuntimeError(f"{self.name} code flow stopped at {response.status_code} "
                                   f"{response.url}: {response.text[:300]}")
        raise RuntimeError(f"{self.name} code flow: too many steps")

    def refresh_tokens(self, n: int) -> list[str]:
        """``n`` refresh tokens, each of its own authorization (one browser: in turn)."""
        return [self.code_flow()["refresh_token"] for _ in range(n)]

    def service_tokens(self, n: int) -> list[str]:
        data = {"grant_type": "client_credentials"}  # opaque at node: it introspects only those
        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(lambda _: self.post("token", data, self.service)["access_token"],
                                 range(n)))

    def person_tokens(self, n: int, chains: int = 8) -> list[str]:
        """``n`` access tokens of the person, issued by refreshing ``chains`` authorizations."""

        def chain(refresh_token: str) -> list[str]:
            tokens = []
            for _ in range(-(-n // chains)):
                answer = self.post("token", {"grant_type": "refresh_token",
                                             "refresh_token": refresh_token}, self.web)
                tokens.append(answer["access_token"])
                refresh_token = answer["refresh_token"]
            return tokens

        chains = min(chains, n)
        with ThreadPoolExecutor(chains) as pool:
            issued = pool.map(chain, self.refresh_tokens(chains))
            return [token for tokens in issued for token in tokens][:n]


def start_keyholder(processes: Processes, work: Path, server: str) -> tuple[Target, callable]:
    database, drop = postgres_database()
    processes.database = database.rsplit("/", 1)[1]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update(KEYHOLDER_DATABASE_URL=database, KEYHOLDER_INSTANCE_PATH=str(work / "keyholder"),
               KEYHOLDER_KEYS_DIR=str(work / "keyholder" / "keys"),
               KEYHOLDER_ISSUER=f"http://127.0.0.1:{port}",
               KEYHOLDER_SECRET_KEY=secrets.token_urlsafe(32),
               KEYHOLDER_KEYS_PASSPHRASE=secrets.token_urlsafe(32),
               KEYHOLDER_SMTP_URL="smtp://127.0.0.1:8025", KEYHOLDER_MAIL_FROM="bench@localhost",
               KEYHOLDER_LOG_LEVEL="WARNING")

    def keyholder(*arguments: str, stdin: str | None = None) -> str:
        done = subprocess.run([str(KEYHOLDER), *arguments], env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)
        if done.returncode:
            sys.exit(f"keyholder {' '.join(arguments)}: {done.stderr[-2000:]}")
        return done.stdout

    try:
        keyholder("init")
        keyholder("customer", "add", "123456789", "--name", "Bench Ltd", "--type", "business")
        keyholder("person", "add", EMAIL, "--name", "Bench Person", "--customer", "123456789",
                  "--role", "administrator", "--mobile", "+32470000001", "--password-stdin",
                  stdin=PASSWORD + "\n")
        service = json.loads(keyholder("client", "add", "Bench service", "--type", "service"))
        web = json.loads(keyholder("client", "add", "Bench web", "--type", "web", "--first-party",
                                   "--redirect-uri", REDIRECT_URI))
        cmd = shlex.split(server.format(keyholder=KEYHOLDER, port=port))
        process = processes.start("keyholder", cmd, env=env)
        wait_until_up(f"http://127.0.0.1:{port}/health", process, processes, "keyholder")
    except BaseException:
        drop()
        raise
    target = Target("Keyholder", f"http://127.0.0.1:{port}",
                    basic(service["client_id"], service["client_secret"]), web["client_id"],
                    basic(web["client_id"], web["client_secret"]),
                    login={"email": EMAIL, "password": PASSWORD}, environment=env)
    return target, drop


def ensure_node_provider() -> Path:
    if not shutil.which("node") or not shutil.which("npm"):
        sys.exit("node and npm are needed (apt-get install nodejs npm)")
    installed = CACHE / "node_modules" / "oidc-provider" / "package.json"
    major = NODE_PACKAGE.rsplit("@", 1)[1]
    version = json.loads(installed.read_text())["version"] if installed.exists() else ""
    if version.split(".")[0] != major:
        CACHE.mkdir(parents=True, exist_ok=True)
        print(f"npm install {NODE_PACKAGE} into {CACHE}", flush=True)
        subprocess.run(["npm", "install", "--prefix", str(CACHE), "--no-audit", "--no-fund",
                        "--loglevel", "error", NODE_PACKAGE], check=True, timeout=600)
    shutil.copyfile(HERE / "peer_node.mjs", CACHE / "provider.mjs")
    return CACHE


def start_node(processes: Processes, folder: Path, workers: int) -> Target:
    port = free_port()
    service, web = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    config = json.dumps({"service": service, "web": web, "redirect_uri": REDIRECT_URI})
    name = f"node-{workers}"
    process = processes.start(name, ["node", "provider.mjs", str(port), str(workers), config],
                              cwd=folder)
    base = f"http://127.0.0.1:{port}"
    wait_until_up(base + "/.well-known/openid-configuration", process, processes, name)
    return Target(f"node x{workers}", base, basic("bench-service", service), "bench-web",
                  basic("bench-web", web), login={"login": "bench-person", "password": "-"},
                  extra={"resource": RESOURCE},
                  authorize_extra={"resource": RESOURCE, "scope": SCOPE + " api"})
