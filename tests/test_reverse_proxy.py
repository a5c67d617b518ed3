"""The production deployment: ``keyholder serve`` behind a TLS-terminating
HAProxy (Debian's), issuer ``https://id.example.test:PORT``,
``KEYHOLDER_TRUSTED_PROXIES=127.0.0.1``.

Through the proxy: discovery, the code flow with the login form, the token
endpoint, UserInfo, introspection and logout, checked with PyJWT. The
client connects from 127.0.0.2, so the proxy (127.0.0.1) is the only
trusted peer: the access log shows the client's address, never the one it
forged. A request that bypasses the proxy is refused. ``id.example.test``
(RFC 6761's reserved ``.test``) resolves to the proxy for this test only."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests
from requests.adapters import HTTPAdapter

from tests.provider.agents import UserAgent, pkce_pair, query_of
from tests.support.certificates import make_certificates
from tests.support.databases import unavailable
from tests.support.ports import free_port
from tests.support.settings import TEST_SETTINGS

KEYHOLDER = Path(sys.executable).with_name("keyholder")
HOST = "id.example.test"
CLIENT_ADDRESS = "127.0.0.2"  # not a trusted proxy
REDIRECT_URI = "https://cloud.example.test/callback"
BYE_URI = "https://cloud.example.test/bye"
MARY = ("mary@smith-ltd.example", "mary-proxy-password")

HAPROXY_CONFIG = """\
global
    maxconn 64
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend tls
    bind 127.0.0.1:{front} ssl crt {pem}
    # The proxy says how the client came, and appends the client's address.
    http-request set-header X-Forwarded-Proto https
    option forwardfor
    default_backend keyholder
backend keyholder
    server node1 127.0.0.1:{back}
"""


class FromClientAddress(HTTPAdapter):
    """Connect from 127.0.0.2, as a client other than the proxy would."""

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (CLIENT_ADDRESS, 0)
        super().init_poolmanager(*args, **kwargs)


def http_session(ca_file: Path) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would win over verify
    session.verify = str(ca_file)
    session.mount("https://", FromClientAddress())
    session.mount("http://", FromClientAddress())
    return session


def keyholder(env, *args, stdin: str | None = None) -> str:
    result = subprocess.run([str(KEYHOLDER), *args], env=env, input=stdin, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def wait_for(url: str, session: requests.Session, **kwargs) -> None:
    for _ in range(150):
        try:
            if session.get(url, timeout=1, **kwargs).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer")


@pytest.fixture
def resolve_test_host(monkeypatch):
    """id.example.test is the proxy's address, in this process only."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        return real("127.0.0.1" if host == HOST else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def deployment(tmp_path, database_url, resolve_test_host):
    haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin")
    if haproxy is None:
        unavailable("HAProxy is not installed (apt-get install haproxy)")
    tls = make_certificates(tmp_path, HOST)
    front, back = free_port(), free_port()
    issuer = f"https://{HOST}:{front}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEYHOLDER_")}
    env.update({f"KEYHOLDER_{k}": str(v) for k, v in TEST_SETTINGS.items()})
    env.update(KEYHOLDER_DATABASE_URL=database_url, KEYHOLDER_INSTANCE_PATH=str(tmp_path),
               KEYHOLDER_KEYS_DIR=str(tmp_path / "keys"), KEYHOLDER_ISSUER=issuer,
               KEYHOLDER_TRUSTED_PROXIES="127.0.0.1")
    keyholder(env, "init")
    keyholder(env, "customer", "add", "123456789", "--name", "Smith ltd", "--type", "business")
    keyholder(env, "person", "add", MARY[0], "--name", "Mary Jones", "--customer", "123456789",
              "--role", "user", "--password-stdin", stdin=MARY[1] + "\n")
    web = json.loads(keyholder(env, "client", "add", "Cloud", "--type", "web", "--first-party",
                               "--redirect-uri", REDIRECT_URI,
                               "--post-logout-redirect-uri", BYE_URI))
    api = json.loads(keyholder(env, "client", "add", "Usage API", "--type", "service"))

    config = tmp_path / "haproxy.cfg"
    config.write_text(HAPROXY_CONFIG.format(front=front, back=back, pem=tls.chain_file))
    proxy = subprocess.Popen([haproxy, "-db", "-f", str(config)], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    server = subprocess.Popen([str(KEYHOLDER), "serve", "--host", "127.0.0.1", "--port",
                               str(back), "--workers", "2"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    session = http_session(tls.ca_file)
    logs: dict[str, str] = {}

    def stop() -> dict[str, str]:
        """Stop the node and the proxy (once); their output."""
        for process, name in ((server, "keyholder"), (proxy, "haproxy")):
            if name not in logs:
                os.killpg(process.pid, signal.SIGTERM)
                logs[name] = process.communicate(timeout=30)[0]
        assert server.returncode == 0, logs["keyholder"]
        return logs

    try:
        wait_for(f"http://127.0.0.1:{back}/health", requests.Session())
        wait_for(f"{issuer}/health", session)
        yield {"issuer": issuer, "back": back, "web": web, "api": api, "session": session,
               "ca_file": tls.ca_file, "stop": stop}
    finally:
        stop()


def test_the_whole_protocol_through_a_tls_reverse_proxy(deployment):
    issuer, session = deployment["issuer"], deployment["session"]
    web, api = deployment["web"], deployment["api"]

    meta = session.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    assert meta["issuer"] == issuer
    for name in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint",
                 "introspection_endpoint", "end_session_endpoint", "jwks_uri"):
        assert meta[name].startswith(issuer + "/"), (name, meta[name])

    # The code flow, signing in with the login form, as a browser would.
    agent = UserAgent(issuer)
    agent.http = http_session(deployment["ca_file"])
    agent.http.headers["X-Forwarded-For"] = "203.0.113.66"  # forged by the client
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": web["client_id"], "scope": "openid customer",
              "redirect_uri": REDIRECT_URI, "state": "s-1", "nonce": "n-1",
              "code_challenge": challenge, "code_challenge_method": "S256"}
    response = agent.follow(agent.get("/authorize", params=params), email=MARY[0],
                            password=MARY[1])
    assert response.status_code == 302, response.text[:300]
    assert response.headers["Location"].startswith(REDIRECT_URI + "?")
    answer = query_of(response.headers["Location"])
    assert answer["state"] == "s-1" and answer["iss"] == issuer
    cookies = {c.name: c for c in agent.http.cookies}
    assert cookies["__Host-keyholder_sso"].secure  # https as the browser sees it

    web_auth = (web["client_id"], web["client_secret"])
    tokens = session.post(meta["token_endpoint"], auth=web_auth, timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    tokens = tokens.json()
    keys = jwt.PyJWKClient(meta["jwks_uri"], ssl_context=_context(deployment["ca_file"]))
    id_token = jwt.decode(tokens["id_token"], keys.get_signing_key_from_jwt(
        tokens["id_token"]).key, algorithms=["RS256"], audience=web["client_id"], issuer=issuer)
    assert id_token["nonce"] == "n-1" and id_token["customer_number"] == "123456789"

    userinfo = session.get(meta["userinfo_endpoint"], timeout=10,
                           headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == id_token["sub"] and userinfo.json()["role"] == "user"

    seen = session.post(meta["introspection_endpoint"], auth=web_auth, timeout=10,
                        data={"token": tokens["access_token"]}).json()
    assert seen["active"] is True and seen["iss"] == issuer and seen["sub"] == id_token["sub"]
    # Another client is not told about a token that is not for it.
    other = session.post(meta["introspection_endpoint"], timeout=10,
                         auth=(api["client_id"], api["client_secret"]),
                         data={"token": tokens["access_token"]}).json()
    assert other == {"active": False}

    logout = agent.get("/logout", params={"id_token_hint": tokens["id_token"],
                                          "post_logout_redirect_uri": BYE_URI, "state": "bye"})
    assert logout.status_code == 302 and logout.headers["Location"] == f"{BYE_URI}?state=bye"
    silent = agent.get("/authorize", params={**params, "prompt": "none"})
    assert query_of(silent.headers["Location"])["error"] == "login_required"
    refreshed = session.post(meta["token_endpoint"], auth=web_auth, timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"

    # Bypassing the proxy, claiming to be it: plain http to the node is not the issuer's.
    direct = session.post(f"http://127.0.0.1:{deployment['back']}/token", auth=web_auth,
                          headers={"Host": issuer.removeprefix("https://"),
                                   "X-Forwarded-Proto": "https"}, timeout=10,
                          data={"grant_type": "client_credentials"})
    assert direct.status_code == 400 and direct.json()["error"] == "invalid_request"

    # The node logged the client's address (behind the trusted proxy), not the forged one,
    # and no token, code or secret.
    log = deployment["stop"]()["keyholder"]
    token_lines = [line for line in log.splitlines() if '"POST /token"' in line]
    assert token_lines and all(line.startswith(CLIENT_ADDRESS + " ") for line in token_lines)
    assert '"GET /authorize" 302' in log and "203.0.113.66" not in log
    for secret in (answer["code"], tokens["access_token"], tokens["refresh_token"],
                   tokens["id_token"], web["client_secret"], MARY[1]):
        assert secret not in log


def _context(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))
