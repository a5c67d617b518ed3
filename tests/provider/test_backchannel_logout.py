"""OIDC Back-Channel Logout: when the provider session ends, each client that
got tokens in it and registered a back-channel URI receives a logout token."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt as pyjwt
import pytest
import requests

from idp.demo import PEOPLE
from tests.provider.agents import UserAgent

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
EVENT = "http://schemas.openid.net/event/backchannel-logout"


@pytest.fixture
def receiver():
    """A relying party's back-channel endpoint on loopback, keeping what it gets."""
    received: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((self.path, parse_qs(body)["logout_token"][0]))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def wait_for(received, count, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return received


def test_logout_tells_every_client_of_the_session(provider, receiver):
    base, received = receiver
    cloud = provider.register("Cloud", "web", backchannel_logout_uri=f"{base}/cloud")
    foot11 = provider.register("Foot 11", "web", backchannel_logout_uri=f"{base}/foot11")
    provider.register("Unused", "web", backchannel_logout_uri=f"{base}/unused")
    agent = UserAgent(provider.url)
    tokens = {}
    for rp in (cloud, foot11):
        authorization = rp.authorization()
        kwargs = {"email": MARY.email, "password": MARY.password} if not tokens else {}
        code = agent.code_for(rp, authorization, **kwargs)
        tokens[rp.client_id] = rp.redeem(code, authorization.verifier).json()

    page = agent.get("/")
    agent.submit(page, {}, action="/logout")
    wait_for(received, 2)
    time.sleep(0.3)
    assert sorted(path for path, _ in received) == ["/cloud", "/foot11"]  # not /unused

    jwks = requests.get(f"{provider.url}/jwks.json", timeout=10).json()
    keys = {k["kid"]: k for k in jwks["keys"]}
    sid = pyjwt.decode(tokens[cloud.client_id]["id_token"],
                       options={"verify_signature": False})["sid"]
    for path, token in received:
        rp = cloud if path == "/cloud" else foot11
        header = pyjwt.get_unverified_header(token)
        assert header["typ"] == "logout+jwt"
        claims = pyjwt.decode(token, pyjwt.PyJWK(keys[header["kid"]]), algorithms=["RS256"],
                              audience=rp.client_id, issuer=provider.url)
        assert claims["events"] == {EVENT: {}} and claims["sid"] == sid
        assert "nonce" not in claims and claims["sub"]
    # And the tokens of that session are revoked.
    assert cloud.introspect(tokens[cloud.client_id]["access_token"]).json() == {"active": False}


def test_an_unreachable_client_does_not_hold_up_the_logout(provider):
    rp = provider.register("Gone", "web", backchannel_logout_uri="http://127.0.0.1:9/gone")
    agent = UserAgent(provider.url)
    authorization = rp.authorization()
    agent.code_for(rp, authorization, email=MARY.email, password=MARY.password)
    out = agent.submit(agent.get("/"), {}, action="/logout")
    assert out.status_code == 200 and "You are signed out" in out.text
