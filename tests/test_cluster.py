"""Three ``keyholder serve`` nodes (one worker each) behind Debian's HAProxy,
round robin and no sticky sessions, sharing one PostgreSQL database with the
signing keys in it (``KEYHOLDER_KEYS_STORE=database``): DESIGN's promise that
a node keeps nothing another node needs, tried from outside. Every answer
says which node gave it (``X-Node``).

- A person signs in through one node, the code is redeemed through another
  and refreshed through the third; the tokens verify with PyJWT against the
  JWKS fetched through the balancer.
- The login throttle counts across nodes: ten wrong passwords spread over
  the three, then the right one is refused everywhere.
- A promotion through one node ("Become administrator" in the console) shows
  at introspection through another at once.
- ``keyholder keys rotate`` then ``keys revoke`` of the retired key, run with
  one node's settings, reach every node's JWKS within the stated bound (a
  one-second reload, plus a round trip: 2 s here), while a relying party
  takes and verifies tokens through the balancer all along: not one fails,
  and no node signs with the revoked key afterwards.

One test, the four in turn, on one cluster: its start costs seconds of CPU,
and tests of one module may run on different xdist workers, each of which
would start a cluster of its own."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import jwt
import pytest
import requests
from sqlalchemy import create_engine, text

from tests.provider.agents import UserAgent, pkce_pair, query_of
from tests.support.cluster import Cluster, Node, command, haproxy, plan, running
from tests.support.databases import migrate_database, scratch_postgres_database
from tests.support.serve_command import KEYHOLDER, ROOT

pytestmark = pytest.mark.postgres

CUSTOMER = "123456789"
MARY = ("mary@smith-ltd.example", "mary-cluster-password")
TOM = ("tom@smith-ltd.example", "tom-cluster-password")
REDIRECT_URI = "https://cloud.example.test/callback"
API = "https://usage.example.test/api"
RELOAD_BOUND = 2.0  # the key store's 1 s reload interval, plus a round trip
PACE = 0.02  # the relying party's pause between tokens: room for the operator's command
KEY_LINE = re.compile(r"^(ES256|RS256) key (\S+) is now (\w+)", re.MULTILINE)


@dataclass
class Deployment:
    cluster: Cluster
    web: dict
    api: dict

    @property
    def issuer(self) -> str:
        return self.cluster.issuer

    @property
    def web_auth(self) -> tuple[str, str]:
        return self.web["client_id"], self.web["client_secret"]

    @property
    def api_auth(self) -> tuple[str, str]:
        return self.api["client_id"], self.api["client_secret"]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, keys_template) -> Iterator[Deployment]:
    haproxy()  # skips (fails in CI) before any work when it is missing
    with scratch_postgres_database("keyholder_test_cluster") as url:
        migrate_database(url)
        cluster = plan(tmp_path_factory.mktemp("cluster"), url,
                       # Nobody sends the e-mails (a promotion's): stay ready all the same.
                       READY_OUTBOX_LAG=3600)
        env = cluster.env

        def person(email: str, password: str, name: str) -> str:
            return command(env, "person", "add", email, "--name", name, "--customer", CUSTOMER,
                           "--verified", "--password-stdin", stdin=password + "\n")

        with ThreadPoolExecutor(4) as pool:
            # The session's key folder into the database: no RSA key is made here.
            imported = pool.submit(command, env, "keys", "import", str(keys_template))
            customer = pool.submit(command, env, "customer", "add", CUSTOMER, "--name",
                                   "Smith ltd", "--type", "business")
            web = pool.submit(command, env, "client", "add", "Cloud", "--type", "web",
                              "--first-party", "--redirect-uri", REDIRECT_URI)
            api = pool.submit(command, env, "client", "add", "Usage API", "--type", "service",
                              "--resource", API)
            customer.result()
            people = [pool.submit(person, *MARY, "Mary Jones"),
                      pool.submit(person, *TOM, "Tom Brown")]
            assert "4 keys are in the database now" in imported.result(), imported.result()
            web, api = json.loads(web.result()), json.loads(api.result())
            for added in people:
                added.result()
        with running(cluster):
            yield Deployment(cluster, web, api)
        # Stopped: no node wrote a traceback, whatever it was asked.
        for name, log in cluster.logs.items():
            assert "Traceback" not in log, f"{name}:\n{log}"


def sign_in(deployment: Deployment, agent: UserAgent, person: tuple[str, str], **extra
            ) -> tuple[requests.Response, dict, str]:
    """The code flow through the balancer, signing in with the login form:
    the login POST's answer, the redirect's query (code, state...) and the
    PKCE verifier."""
    verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": deployment.web["client_id"],
              "scope": "openid customer", "redirect_uri": REDIRECT_URI, "state": "s-1",
              "nonce": "n-1", "code_challenge": challenge, "code_challenge_method": "S256",
              **extra}
    asked = agent.get("/authorize", params=params)
    assert asked.status_code == 302, asked.text[:300]
    page = agent.get(asked.headers["Location"])
    posted = agent.login(*person, page)
    assert posted.status_code == 303, posted.text[:300]
    back = agent.follow(posted)
    assert back.status_code == 302 and back.headers["Location"].startswith(REDIRECT_URI + "?")
    answer = query_of(back.headers["Location"])
    assert answer["state"] == "s-1" and answer["iss"] == deployment.issuer
    return posted, answer, verifier


def sign_in_code_and_refresh_each_through_another_node(deployment: Deployment) -> None:
    cluster, issuer = deployment.cluster, deployment.issuer
    agent = UserAgent(issuer)
    posted, answer, verifier = sign_in(deployment, agent, MARY)
    login_node = posted.headers["X-Node"]

    expected = cluster.steer({login_node})
    redeemed = requests.post(f"{issuer}/token", auth=deployment.web_auth, timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert redeemed.status_code == 200, redeemed.text
    code_node = redeemed.headers["X-Node"]
    assert code_node == expected

    expected = cluster.steer({login_node, code_node})
    refreshed = requests.post(f"{issuer}/token", auth=deployment.web_auth, timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": redeemed.json()["refresh_token"]})
    assert refreshed.status_code == 200, refreshed.text
    refresh_node = refreshed.headers["X-Node"]
    assert refresh_node == expected
    assert len({login_node, code_node, refresh_node}) == 3, (login_node, code_node, refresh_node)

    # An independent JOSE library, the JWKS fetched through the balancer.
    keys = jwt.PyJWKClient(f"{issuer}/jwks.json", cache_jwk_set=False)
    first, second = redeemed.json(), refreshed.json()
    for tokens in (first, second):
        id_token = jwt.decode(tokens["id_token"],
                              keys.get_signing_key_from_jwt(tokens["id_token"]).key,
                              algorithms=["RS256", "ES256"], audience=deployment.web["client_id"],
                              issuer=issuer)
        assert id_token["customer_number"] == CUSTOMER
        access = jwt.decode(tokens["access_token"],
                            keys.get_signing_key_from_jwt(tokens["access_token"]).key,
                            algorithms=["ES256"], issuer=issuer,
                            options={"verify_aud": False})
        assert access["sub"] == id_token["sub"]
    assert jwt.decode(first["id_token"], options={"verify_signature": False})["nonce"] == "n-1"
    assert second["refresh_token"] != first["refresh_token"]


def the_login_throttle_counts_across_nodes(deployment: Deployment) -> None:
    cluster = deployment.cluster
    agent = UserAgent(deployment.issuer)
    nodes = []
    for attempt in range(10):  # the account's limit: 10 failures in 15 minutes
        wrong = agent.login(TOM[0], f"not-the-password-{attempt}")
        assert wrong.status_code == 200 and "Too many attempts" not in wrong.text, wrong.text
        nodes.append(wrong.headers["X-Node"])
    assert set(nodes) == {n.name for n in cluster.nodes}, nodes  # spread over the three

    refused = agent.login(*TOM)
    assert refused.status_code == 429 and "Too many attempts" in refused.text, refused.text
    # And at every node, straight: the count is the database's, not a process's.
    for node in cluster.nodes:
        session = requests.Session()
        page = cluster.direct(node, "GET", "/login", session=session)
        refused = cluster.direct(node, "POST", "/login", session=session, data={
            "csrf_token": UserAgent.csrf(page), "email": TOM[0], "password": TOM[1],
            "next": ""})
        assert refused.status_code == 429 and "Too many attempts" in refused.text, node.name


def a_promotion_through_one_node_shows_at_introspection_through_another(
        deployment: Deployment) -> None:
    cluster, issuer = deployment.cluster, deployment.issuer
    agent = UserAgent(issuer)
    _, answer, verifier = sign_in(deployment, agent, MARY, resource=API)
    tokens = requests.post(f"{issuer}/token", auth=deployment.web_auth, timeout=10, data={
        "grant_type": "authorization_code", "code": answer["code"],
        "redirect_uri": REDIRECT_URI, "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.text
    access_token = tokens.json()["access_token"]

    def introspect(node=None) -> requests.Response:
        data = {"token": access_token}
        if node is None:
            return requests.post(f"{issuer}/introspect", data=data, timeout=10,
                                 auth=deployment.api_auth)
        return cluster.direct(node, "POST", "/introspect", data=data, auth=deployment.api_auth)

    before = introspect().json()
    assert before["active"] is True and before["role"] == "user", before

    # Mary becomes administrator in the console, through the balancer.
    page = agent.get("/console/become-administrator")
    assert page.status_code == 200 and 'name="customer_number"' in page.text, page.text[:300]
    promoted = agent.submit(page, {"customer_number": CUSTOMER})
    assert promoted.status_code == 303, promoted.text[:500]
    assert promoted.headers["Location"].rstrip("/") == "/console", promoted.headers["Location"]
    promoting_node = promoted.headers["X-Node"]
    started = time.monotonic()
    seen = introspect()  # the very next request: round robin sends it elsewhere
    elapsed = time.monotonic() - started
    assert seen.headers["X-Node"] != promoting_node
    assert seen.json()["active"] is True and seen.json()["role"] == "administrator", seen.json()
    print(f"\npromotion via {promoting_node}, introspection via {seen.headers['X-Node']} "
          f"{elapsed * 1000:.0f} ms later says administrator")
    for node in cluster.nodes:  # and every node, asked straight
        assert introspect(node).json()["role"] == "administrator", node.name


@dataclass
class Taken:
    """One token the relying party took through the balancer."""

    asked_at: float  # time.time() when the request left
    node: str
    kid: str | None
    error: str | None = None


@dataclass
class RelyingPartyLoop:
    """Takes client_credentials tokens through the balancer, one every few
    milliseconds, and verifies each with PyJWT against the JWKS it fetched
    through the balancer, fetching it again when it meets a kid it does not
    know (as a relying party does: PyJWKClient's own rule)."""

    issuer: str
    auth: tuple[str, str]
    taken: list[Taken] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def run(self) -> None:
        keys = jwt.PyJWKClient(f"{self.issuer}/jwks.json")
        session = requests.Session()
        while not self.stopping.wait(PACE):
            asked_at = time.time()
            try:
                answer = session.post(f"{self.issuer}/token", auth=self.auth, timeout=10,
                                      data={"grant_type": "client_credentials"})
            except requests.RequestException as error:
                self.taken.append(Taken(asked_at, "?", None, f"no answer: {error!r}"))
                continue
            node = answer.headers.get("X-Node", "?")
            if answer.status_code != 200:
                self.taken.append(Taken(asked_at, node, None,
                                        f"{answer.status_code} {answer.text[:200]}"))
                continue
            token = answer.json()["access_token"]
            kid = jwt.get_unverified_header(token).get("kid")
            try:
                jwt.decode(token, keys.get_signing_key_from_jwt(token).key,
                           algorithms=["ES256"], issuer=self.issuer,
                           options={"verify_aud": False})
            except (jwt.PyJWTError, jwt.PyJWKClientError) as error:
                self.taken.append(Taken(asked_at, node, kid, f"not verified: {error!r}"))
            else:
                self.taken.append(Taken(asked_at, node, kid))

    def __enter__(self) -> RelyingPartyLoop:
        self.thread = threading.Thread(target=self.run, name="relying-party", daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(timeout=30)


def published_at(cluster: Cluster, node: Node) -> set[str]:
    """The kids ``node``'s JWKS holds, asked straight."""
    answer = cluster.direct(node, "GET", "/jwks.json", timeout=5)
    assert answer.status_code == 200, answer.text
    return {key["kid"] for key in answer.json()["keys"]}


def published(cluster: Cluster) -> dict[str, set[str]]:
    return {node.name: published_at(cluster, node) for node in cluster.nodes}


def changed_at(cluster: Cluster) -> float:
    """When the signing keys last changed in the database (the newest row's
    ``updated_at``, written just before the change commits), as ``time.time()``."""
    engine = create_engine(cluster.env["KEYHOLDER_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT max(updated_at) FROM signing_key")).timestamp()
    finally:
        engine.dispose()


def operator_command(cluster: Cluster, condition, *args: str) -> tuple[str, float, dict]:
    """``keyholder ARGS`` with the first node's settings, every node's JWKS
    polled while it runs and after, until ``condition(kids)`` holds at every
    node: its output, when it changed the keys, and how long after that each
    node first showed the change (seconds)."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + 120
    with subprocess.Popen([str(KEYHOLDER), *args], env=cluster.env, cwd=ROOT,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        while len(seen) < len(cluster.nodes) or process.poll() is None:
            assert time.monotonic() < deadline, ("never seen everywhere", seen)
            for node in cluster.nodes:
                if node.name not in seen and condition(published_at(cluster, node)):
                    seen[node.name] = time.time()
            time.sleep(0.02)
        out, err = process.communicate()
    assert process.returncode == 0, err
    changed = changed_at(cluster)
    return out, changed, {name: round(at - changed, 3) for name, at in seen.items()}


def a_rotation_and_a_revocation_reach_every_node_while_tokens_verify(
        deployment: Deployment) -> None:
    cluster, issuer = deployment.cluster, deployment.issuer
    before = published(cluster)
    assert len({frozenset(kids) for kids in before.values()}) == 1, before
    (kids_before,) = {frozenset(kids) for kids in before.values()}
    # A token of the key about to be retired, and then revoked.
    old = requests.post(f"{issuer}/token", auth=deployment.api_auth, timeout=10,
                        data={"grant_type": "client_credentials"}).json()["access_token"]
    old_kid = jwt.get_unverified_header(old)["kid"]

    with RelyingPartyLoop(issuer, deployment.api_auth) as rp:
        time.sleep(1.0)  # tokens flowing before anything changes
        out, rotated_at, rotation_seen = operator_command(
            cluster, lambda kids: kids > kids_before, "keys", "rotate")
        states = {kid: (alg, state) for alg, kid, state in KEY_LINE.findall(out)}
        assert states[old_kid] == ("ES256", "retired"), out
        (active,) = [kid for kid, (alg, state) in states.items()
                     if (alg, state) == ("ES256", "active")]
        new_next = {kid for kid, (_, state) in states.items() if state == "next"}
        assert len(new_next) == 2 and not new_next & kids_before, out
        # Tokens for a while after every node must sign with the new key.
        time.sleep(max(0.0, rotated_at + RELOAD_BOUND + 1.0 - time.time()))

        out, revoked_at, revocation_seen = operator_command(
            cluster, lambda kids: old_kid not in kids, "keys", "revoke", old_kid)
        assert f"ES256 key {old_kid} is now revoked" in out, out
        time.sleep(max(0.0, revoked_at + RELOAD_BOUND + 1.0 - time.time()))

    # Every node saw each change within the bound.
    for what, late in (("rotation", rotation_seen), ("revocation", revocation_seen)):
        print(f"\n{what}: seen by each node (s after the change): {late}")
        assert max(late.values()) <= RELOAD_BOUND, (what, late)
    assert published(cluster) == {n.name: (kids_before | new_next) - {old_kid}
                                  for n in cluster.nodes}

    # The relying party verified every token, from every node.
    assert rp.taken, "the relying party took no token"
    failures = [t for t in rp.taken if t.error]
    assert not failures, failures[:5]
    assert {t.node for t in rp.taken} == {n.name for n in cluster.nodes}
    after_rotation = [t for t in rp.taken if t.asked_at > rotated_at + RELOAD_BOUND]
    after_revocation = [t for t in rp.taken if t.asked_at > revoked_at]
    assert after_rotation and after_revocation
    assert {t.kid for t in after_rotation} == {active}, {t.kid for t in after_rotation}
    assert {t.node for t in after_rotation} == {n.name for n in cluster.nodes}
    assert all(t.kid != old_kid for t in after_revocation)
    by_kid = {kid: sum(t.kid == kid for t in rp.taken) for kid in {t.kid for t in rp.taken}}
    print(f"relying party: {len(rp.taken)} tokens verified, none failed; by kid: {by_kid}")

    # What the revoked key signed is trusted by no node any more.
    for node in cluster.nodes:
        seen = cluster.direct(node, "POST", "/introspect", auth=deployment.api_auth,
                              data={"token": old})
        assert seen.json() == {"active": False}, (node.name, seen.text)


def test_three_nodes_behind_haproxy_keep_nothing_of_their_own(deployment):
    sign_in_code_and_refresh_each_through_another_node(deployment)
    the_login_throttle_counts_across_nodes(deployment)
    a_promotion_through_one_node_shows_at_introspection_through_another(deployment)
    a_rotation_and_a_revocation_reach_every_node_while_tokens_verify(deployment)
