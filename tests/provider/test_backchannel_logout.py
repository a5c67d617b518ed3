"""OIDC Back-Channel Logout: when the provider session ends, each client that
got tokens in it and registered a back-channel URI receives a logout token."""

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import jwt as pyjwt
import pytest
import requests

from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent
from tests.snapshots import snapshot
from tests.support.serving import POLL_INTERVAL

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
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": POLL_INTERVAL},
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
    assert out.status_code == 200 and "Vous êtes déconnecté" in out.text  # Mary reads French


def test_only_an_id_token_is_a_logout_hint(provider, receiver):
    """Any JWT we sign carries our signature. Mary's access token, or a logout
    token a relying party received, given as id_token_hint must not sign
    Mary out (here and, through back-channel logout, everywhere): an error
    page, the session and its tokens alive, nothing sent, nothing changed."""
    base, received = receiver
    bye = "http://127.0.0.1:9/cloud/bye"
    cloud = provider.register("Cloud", "web", backchannel_logout_uri=f"{base}/cloud",
                              post_logout_redirect_uris=[bye])
    agent = UserAgent(provider.url)

    def signed_in() -> dict:
        authorization = cloud.authorization()
        code = agent.code_for(cloud, authorization, email=MARY.email, password=MARY.password)
        return cloud.redeem(code, authorization.verifier).json()

    def refused(hint: str, tokens: dict, deliveries: int) -> None:
        before = snapshot(provider.app)
        page = agent.get("/logout", params={"id_token_hint": hint, "state": "s",
                                            "post_logout_redirect_uri": bye})
        assert page.status_code == 400
        assert "The &#39;id_token_hint&#39; is not an ID token." in page.text
        assert "<code>invalid_request</code>" in page.text
        assert snapshot(provider.app) == before
        time.sleep(0.3)  # a back-channel POST would be on its way by now
        assert len(received) == deliveries
        assert agent.get("/").status_code == 200  # still signed in
        assert cloud.introspect(tokens["access_token"]).json()["active"] is True

    first = signed_in()
    assert pyjwt.get_unverified_header(first["access_token"])["typ"] == "at+jwt"
    refused(first["access_token"], first, 0)
    # The control: the ID token signs out at once, redirects, and tells Cloud.
    out = agent.get("/logout", params={"id_token_hint": first["id_token"], "state": "s",
                                       "post_logout_redirect_uri": bye})
    assert out.status_code == 302 and out.headers["Location"] == f"{bye}?state=s"
    ((path, logout_token),) = wait_for(received, 1)
    assert path == "/cloud" and agent.get("/").headers["Location"].endswith("/login")

    # A logout token names a registered client as audience, our issuer and Mary.
    second = signed_in()
    assert pyjwt.get_unverified_header(logout_token)["typ"] == "logout+jwt"
    refused(logout_token, second, 1)
