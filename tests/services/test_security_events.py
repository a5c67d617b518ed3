"""The services as receivers of the provider's security events (Shared
Signals, docs/security-events.md), with real SETs: each service has a stream
created through the provider's management API, the provider's outbox worker
pushes to ``/security-events``, and the change shows at the person's next
request without a new sign-in.

The web services here are registered without a back-channel logout URI:
whatever ends one of their sessions is a security event."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import func, select, update

from admin_console.administration import step_down
from admin_console.promotion import become_administrator
from claims.errors import InvalidToken
from claims.security_event_types import (
    SESSION_REVOKED,
    SET_MEDIA_TYPE,
    TOKEN_CLAIMS_CHANGE,
)
from idp.clients.models import Client
from idp.clients.registry import register_client
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.keys import key_store
from idp.protocol.tokens.models import DeviceAuthorization, RefreshToken, TokenGrant
from idp.security_events import queue, sets
from idp.security_events.cli import add_stream
from idp.security_events.models import EventStream, PushDelivery
from services import cloud, foot11, security_events
from services.relying_party import WebServiceConfig
from services.rp_session import SUBJECT
from services.tv import TvConfig
from services.tv import create_app as create_tv
from services.usage_api import INTROSPECTOR, UsageApiConfig
from services.usage_api import create_app as create_usage_api
from tests.provider.agents import RelyingParty, UserAgent
from tests.services.browser import Browser
from tests.services.rp_support import operator_store, served
from tests.support.databases import ONE_DATABASE
from tests.support.people import MARY, PHILIP, THOMAS
from tests.support.serving import listen, serve
from tests.support.set_receiver import PUSH, StreamManager

SECRET_KEY = "services-test-secret-key-0123456789abcdef"
SMITH, TAYLORS = "123456789", "987654321"
ROLE = re.compile(r"<dt>Role</dt><dd>([^<]*)</dd>")

pytestmark = pytest.mark.usefixtures("english_people")


def push_stream(provider, client: RelyingParty, push_url: str, authorization: str) -> str:
    """The receiver's stream, created as a receiver does: the management API
    with its own ``ssf`` token (client_credentials)."""
    manager = StreamManager(provider.url, client.client_id, client.client_secret)
    created = manager.create({"delivery": {"method": PUSH, "endpoint_url": push_url,
                                           "authorization_header": authorization}})
    assert created.status_code == 201, created.text
    return created.json()["stream_id"]


@dataclass
class Receiving:
    """A service served beside the provider, with its stream."""

    app: Flask
    url: str
    config: object
    client: RelyingParty
    stream_id: str
    authorization: str

    @property
    def events_url(self) -> str:
        return self.url + security_events.PATH

    @property
    def sessions(self):
        return self.app.extensions["services.rp"].sessions


@pytest.fixture
def start_web(provider) -> Callable[..., Receiving]:
    running = []

    def start(factory, name: str, title: str) -> Receiving:
        listener, url = listen()
        authorization = "Bearer " + secrets.token_urlsafe(32)
        config = WebServiceConfig(name=name, title=title, issuer=provider.url,
                                  client_id="to-be-registered", client_secret="-", base_url=url,
                                  cookie_name=f"{name}_session", secret_key=SECRET_KEY,
                                  security_events_authorization=authorization)
        client = provider.register(title, "web", redirect_uris=[config.redirect_uri],
                                   post_logout_redirect_uris=[config.post_logout_redirect_uri])
        config = replace(config, client_id=client.client_id, client_secret=client.client_secret)
        app = factory(config)
        running.append(serve(app, listener))
        stream_id = push_stream(provider, client, config.security_events_uri, authorization)
        return Receiving(app, url, config, client, stream_id, authorization)

    yield start
    for served_app in running:
        served_app.stop()


@pytest.fixture
def the_cloud(start_web) -> Receiving:
    return start_web(cloud.create_app, "cloud", "The Cloud")


@pytest.fixture
def foot_11(start_web) -> Receiving:
    return start_web(foot11.create_app, "foot11", "Foot 11")


# -- the provider's side, as the tests drive it ------------------------------------------

def person_id(provider, email: str) -> str:
    with database.new_session(provider.app) as session:
        return Directory(session).person(email).id


def customer_id(provider, number: str) -> int:
    with database.new_session(provider.app) as session:
        return Directory(session).customer(number).id


def promote(provider, person) -> None:
    """Self-promotion, as the console's "Become administrator" does it."""
    with provider.app.app_context():
        result = become_administrator(provider.app, person_id(provider, person.email), SMITH,
                                      address="127.0.0.1", channel="web")
    assert result, result


def steps_down(provider, person, number: str = SMITH) -> None:
    with provider.app.app_context():
        result = step_down(provider.app, person_id(provider, person.email),
                           customer_id(provider, number))
    assert result, result


def delivered(provider, stream_id: str, count: int, timeout: float = 10.0
              ) -> list[tuple[str, str]]:
    """Wait until the stream has ``count`` SETs and none waits; their (event
    type, outcome), oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        with database.new_session(provider.app) as session:
            rows = session.scalars(select(PushDelivery).where(PushDelivery.stream_id == stream_id)
                                   .order_by(PushDelivery.id)).all()
            done = [(next(iter(row.claims["events"])), row.outcome) for row in rows
                    if row.delivered_at is not None]
        if len(rows) >= count and len(done) == len(rows):
            return done
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(done)} of {len(rows)} SET(s) delivered, {count} expected")
        time.sleep(0.05)


def last_set(provider, stream_id: str) -> str:
    """The stream's latest SET, signed again as the worker signs a retry (same jti)."""
    with provider.app.app_context(), database.new_session(provider.app) as session:
        row = session.scalars(select(PushDelivery).where(PushDelivery.stream_id == stream_id)
                              .order_by(PushDelivery.id.desc())).first()
        return sets.signed(provider.app, row)


def role_on(page: requests.Response) -> str:
    return ROLE.search(page.text).group(1)


def to_sign_in(response: requests.Response) -> bool:
    return response.status_code == 302 and \
        urlsplit(response.headers["Location"]).path == "/login"


def told_signed_out(response: requests.Response) -> bool:
    """The first visit after a logout elsewhere: "You are signed out"."""
    return response.status_code == 303 and \
        urlsplit(response.headers["Location"]).path == "/signed-out"


# -- the web services ---------------------------------------------------------------------

def test_a_promotion_shows_at_the_next_request(provider, the_cloud, foot_11):
    mary = Browser(provider.url)
    refused = mary.open(the_cloud.url + "/", person=MARY)
    assert refused.status_code == 403 and role_on(refused) == "user"
    assert mary.open(foot_11.url + "/").status_code == 403
    promote(provider, MARY)
    for service in (the_cloud, foot_11):
        assert delivered(provider, service.stream_id, 1) == [(TOKEN_CLAIMS_CHANGE, "delivered")]
        page = mary.get(service.url + "/")  # one request: no redirect through the provider
        assert page.status_code == 200, page.text[:300]
        assert role_on(page) == "administrator"
    assert mary.passwords_typed == 1
    assert not any(url.startswith(provider.url + "/authorize") for url in mary.visited[-2:])


def test_simultaneous_requests_refresh_once(provider, the_cloud):
    """A refresh token is used once: requests of one stale session at the same
    moment wait for one refresh (a second use would make the provider revoke
    the whole family, and end the session)."""
    mary = Browser(provider.url)
    mary.open(the_cloud.url + "/", person=MARY)
    cookie = {"cloud_session": mary.http.cookies.get("cloud_session")}
    promote(provider, MARY)
    delivered(provider, the_cloud.stream_id, 1)
    with ThreadPoolExecutor(6) as pool:
        pages = list(pool.map(lambda _: requests.get(the_cloud.url + "/", cookies=cookie,
                                                     timeout=10, allow_redirects=False),
                              range(6)))
    assert [page.status_code for page in pages] == [200] * 6
    with database.new_session(provider.app) as session:
        families = session.scalars(select(TokenGrant).where(
            TokenGrant.client_id == the_cloud.config.client_id)).all()
        assert [family.revoked_at for family in families] == [None]
        assert session.scalar(select(func.count()).select_from(RefreshToken).where(
            RefreshToken.grant_id == families[0].id)) == 2  # the sign-in's and one refresh's
    assert mary.get(the_cloud.url + "/").status_code == 200


def test_a_step_down_takes_it_away(provider, the_cloud):
    philip = Browser(provider.url)
    assert role_on(philip.open(the_cloud.url + "/", person=PHILIP)) == "administrator"
    steps_down(provider, PHILIP)
    assert delivered(provider, the_cloud.stream_id, 1) == [(TOKEN_CLAIMS_CHANGE, "delivered")]
    page = philip.get(the_cloud.url + "/")
    assert page.status_code == 403 and role_on(page) == "user"
    assert "available to administrators" in page.text
    assert len(the_cloud.sessions) == 1  # still signed in, as a user


def test_a_removal_ends_the_session_of_that_customer_only(provider, the_cloud):
    """Thomas is a user of Smith ltd and the administrator of the Taylor
    household: removed from Smith ltd, his session for it ends (its refresh
    is refused), and his session for the household is not even refreshed."""
    at_work, at_home = Browser(provider.url), Browser(provider.url)
    assert at_work.open(the_cloud.url + f"/login?customer_number={SMITH}",
                        person=THOMAS).status_code == 403
    home = at_home.open(the_cloud.url + f"/login?customer_number={TAYLORS}", person=THOMAS)
    assert home.status_code == 200 and TAYLORS in home.text
    removed = provider.command("member", "remove", THOMAS.email, "--customer", SMITH)
    assert removed.returncode == 0, removed.stderr
    assert delivered(provider, the_cloud.stream_id, 1) == [(TOKEN_CLAIMS_CHANGE, "delivered")]
    home_cookie = at_home.http.cookies.get("cloud_session")
    assert the_cloud.sessions.open(home_cookie).stale is None  # another tenant
    ended = at_work.get(the_cloud.url + "/")
    assert ended.status_code == 401 and "Please sign in again" in ended.text
    assert "cloud_session" not in at_work.http.cookies
    assert to_sign_in(at_work.get(the_cloud.url + "/"))
    assert at_home.get(the_cloud.url + "/").status_code == 200
    assert len(the_cloud.sessions) == 1


def test_a_logout_elsewhere_ends_that_session(provider, the_cloud, foot_11):
    """Philip signs out at the provider in one browser: the services' sessions
    of that provider session end; his other browser stays signed in."""
    here, elsewhere = Browser(provider.url), Browser(provider.url)
    for browser in (here, elsewhere):
        assert browser.open(the_cloud.url + "/", person=PHILIP).status_code == 200
    assert here.open(foot_11.url + "/").status_code == 200
    here.submit(here.get(provider.url + "/"), {}, action="/logout")
    assert delivered(provider, the_cloud.stream_id, 1) == [(SESSION_REVOKED, "delivered")]
    assert delivered(provider, foot_11.stream_id, 1) == [(SESSION_REVOKED, "delivered")]
    assert told_signed_out(here.get(the_cloud.url + "/"))
    assert told_signed_out(here.get(foot_11.url + "/"))
    assert to_sign_in(here.get(the_cloud.url + "/")) and to_sign_in(here.get(foot_11.url + "/"))
    assert elsewhere.get(the_cloud.url + "/").status_code == 200
    assert len(the_cloud.sessions) == 1 and len(foot_11.sessions) == 0


def test_a_refused_refresh_ends_the_session(provider, the_cloud):
    """The refresh token was revoked meanwhile (its family): the stale session
    cannot be renewed, so it ends, and the person is asked to sign in again."""
    philip = Browser(provider.url)
    philip.open(the_cloud.url + "/", person=PHILIP)
    cookie = philip.http.cookies.get("cloud_session")
    refresh_token = the_cloud.sessions.load(cookie)["refresh_token"]
    assert the_cloud.client.revoke(refresh_token).status_code == 200
    the_cloud.sessions.mark_stale(subject=the_cloud.sessions.load(cookie)[SUBJECT])
    ended = philip.get(the_cloud.url + "/")
    assert ended.status_code == 401 and "Please sign in again" in ended.text
    assert len(the_cloud.sessions) == 0


def sign_set(provider, claims: dict, *, key=None, kid: str | None = None) -> str:
    signing = key_store(provider.app).signing_key("ES256")
    header = {"alg": "ES256", "kid": kid or signing.kid, "typ": "secevent+jwt"}
    return jwt.encode(header, claims, key or signing, algorithms=["ES256"])


def set_claims(provider, service: Receiving, event: str, subject: dict, **changes) -> dict:
    return {"iss": provider.url, "aud": service.config.client_id, "iat": int(time.time()),
            "jti": secrets.token_urlsafe(16), "sub_id": subject,
            "events": {event: {"event_timestamp": int(time.time())}}, **changes}


def push(service: Receiving, token: str, authorization: str | None = None) -> requests.Response:
    return requests.post(service.events_url, data=token, timeout=10,
                         headers={"Content-Type": SET_MEDIA_TYPE,
                                  "Authorization": authorization or service.authorization})


def test_a_forged_or_misdirected_set_is_refused_and_changes_nothing(provider, the_cloud):
    philip = Browser(provider.url)
    philip.open(the_cloud.url + "/", person=PHILIP)
    cookie = philip.http.cookies.get("cloud_session")
    sub = the_cloud.sessions.load(cookie)[SUBJECT]
    revoked = queue.subject(provider.url, sub)
    changed = queue.subject(provider.url, sub, SMITH)
    cases = {
        "another key, our kid": (sign_set(provider, set_claims(
            provider, the_cloud, SESSION_REVOKED, revoked), key=ECKey.generate_key("P-256")),
            "invalid_key"),
        "another audience": (sign_set(provider, set_claims(
            provider, the_cloud, TOKEN_CLAIMS_CHANGE, changed, aud="someone-else")),
            "invalid_audience"),
        "another issuer": (sign_set(provider, set_claims(
            provider, the_cloud, SESSION_REVOKED, revoked, iss="https://id.example")),
            "invalid_issuer"),
    }
    for case, (token, err) in cases.items():
        answer = push(the_cloud, token)
        assert answer.status_code == 400, case
        assert answer.json()["err"] == err, case
    stranger = push(the_cloud, sign_set(provider, set_claims(
        provider, the_cloud, SESSION_REVOKED, revoked)), authorization="Bearer not-the-secret")
    assert stranger.status_code == 401
    assert the_cloud.sessions.open(cookie).stale is None
    assert philip.get(the_cloud.url + "/").status_code == 200
    assert len(the_cloud.sessions) == 1


def test_a_repeated_set_is_acted_on_once(provider, the_cloud, monkeypatch):
    philip = Browser(provider.url)
    philip.open(the_cloud.url + "/", person=PHILIP)
    marked = []
    sessions = the_cloud.sessions
    original = sessions.mark_stale
    monkeypatch.setattr(sessions, "mark_stale",
                        lambda **kwargs: marked.append(kwargs) or original(**kwargs))
    steps_down(provider, PHILIP)
    delivered(provider, the_cloud.stream_id, 1)
    assert len(marked) == 1
    again = push(the_cloud, last_set(provider, the_cloud.stream_id))  # a retry: same jti
    assert again.status_code == 202
    assert len(marked) == 1
    assert role_on(philip.get(the_cloud.url + "/")) == "user"


# -- the Usage API -------------------------------------------------------------------------

@pytest.fixture
def usage_api(provider, tmp_path):
    data_url = operator_store(tmp_path)
    authorization = "Bearer " + secrets.token_urlsafe(32)
    registered: list[RelyingParty] = []

    def make(url: str) -> Flask:
        # In one write transaction: provider.register reads (the resource URI is
        # free) before it writes, which SQLite can refuse while the worker writes.
        with database.write_session(provider.app) as session:
            registration = register_client(session, provider.app, "Usage API", "service",
                                           resource_uri=url)
        registered.append(RelyingParty(provider.url, registration.client.id,
                                       registration.client_secret, []))
        return create_usage_api(UsageApiConfig(
            provider.url, registration.client.id, registration.client_secret, url, data_url,
            security_events_authorization=authorization))

    with served(make) as (url, app):
        stream_id = push_stream(provider, registered[0], url + security_events.PATH,
                                authorization)
        yield Receiving(app, url, None, registered[0], stream_id, authorization)


def usage(api: Receiving, token: str) -> dict:
    answer = requests.get(api.url + "/usage", headers={"Authorization": f"Bearer {token}"},
                          timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def access_token_for(provider, api: Receiving, person) -> str:
    native = provider.register("Keyholder app", "native",
                               redirect_uris=["http://127.0.0.1:8765/callback"])
    authorization = native.authorization(scope="openid profile customer phone",
                                         resource=api.url)
    code = UserAgent(provider.url).code_for(native, authorization, email=person.email,
                                            password=person.password)
    response = native.redeem(code, authorization.verifier, resource=api.url)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def queue_to(provider, stream_id: str, event: str, person, **body) -> None:
    """A SET about ``person`` queued to the stream by the provider's own
    outbox (signed and pushed by its worker), as its sources queue them."""
    with provider.app.app_context(), database.write_session(provider.app) as session:
        stream = session.get(EventStream, stream_id)
        queue.queue_event(session, stream, event, {"event_timestamp": int(time.time()), **body},
                          queue.subject(provider.url, person_id(provider, person.email), SMITH),
                          queue.new_jti())


def test_the_usage_api_forgets_its_cached_answers(provider, usage_api):
    token = access_token_for(provider, usage_api, MARY)
    assert usage(usage_api, token)["visibility"] == "own_mobile"
    assert usage(usage_api, token)["visibility"] == "own_mobile"  # now cached (30 s)
    introspector = usage_api.app.extensions[INTROSPECTOR]
    forgotten = []
    original = introspector.forget
    introspector.forget = lambda subject: forgotten.append(subject) or original(subject)
    promote(provider, MARY)  # the API heard of Mary: she holds a token for it
    assert delivered(provider, usage_api.stream_id, 1) == [(TOKEN_CLAIMS_CHANGE, "delivered")]
    assert forgotten == [person_id(provider, MARY.email)]
    assert usage(usage_api, token)["visibility"] == "all"  # the provider asked again
    queue_to(provider, usage_api.stream_id, SESSION_REVOKED, MARY)
    assert delivered(provider, usage_api.stream_id, 2)[-1] == (SESSION_REVOKED, "delivered")
    assert len(forgotten) == 2


def test_the_usage_api_hears_of_the_people_whose_tokens_it_serves(provider, usage_api):
    token = access_token_for(provider, usage_api, MARY)
    assert usage(usage_api, token)["visibility"] == "own_mobile"
    promote(provider, MARY)
    assert delivered(provider, usage_api.stream_id, 1, timeout=1.5) == [
        (TOKEN_CLAIMS_CHANGE, "delivered")]


# -- the TV ----------------------------------------------------------------------------------

USER_CODE = re.compile(r'class="user-code"[^>]*>([A-Z]{4}-[A-Z]{4})<')


@dataclass
class Tv:
    url: str
    app: Flask
    stream_id: str
    screen: requests.Session

    def look(self) -> requests.Response:
        return self.screen.get(self.url + "/", timeout=10, allow_redirects=False)

    def may_poll_now(self, provider) -> None:
        """The interval has passed (the clock, faked) for the box and the provider."""
        for box in self.app.extensions["tv"]._boxes.values():
            if box.authorization is not None:
                box.authorization.next_poll = 0
        with database.new_session(provider.app) as session:
            session.execute(update(DeviceAuthorization).values(last_polled_at=None))
            session.commit()


@pytest.fixture
def tv(provider):
    """The TV box, a public device client: its stream is the operator's
    (``keyholder ssf add``), since it has no secret to manage one itself."""
    client = provider.register("Proximus TV", "device", redirect_uris=[])
    authorization = "Bearer " + secrets.token_urlsafe(32)
    with served(lambda url: create_tv(TvConfig(
            provider.url, client.client_id, base_url=url, cookie_name="tv_box",
            secret_key="tv-test-secret-key-0123456789abcdef",
            security_events_authorization=authorization))) as (url, app):
        with provider.app.app_context(), database.write_session(provider.app) as session:
            stream = add_stream(session, session.get(Client, client.client_id),
                                url + security_events.PATH, authorization, (), "TV")
            stream_id = stream.id
        yield Tv(url, app, stream_id, requests.Session())


def pair(provider, tv: Tv, person) -> UserAgent:
    """The box shows a code, the person approves it in a browser (returned,
    signed in at the provider), the box takes the tokens."""
    code = USER_CODE.search(tv.look().text).group(1)
    agent = UserAgent(provider.url)
    page = agent.follow(agent.get(f"{provider.url}/device?user_code={code}"),
                        email=person.email, password=person.password)
    confirm = agent.submit(page, {"user_code": code})
    user_code = re.search(r'name="user_code" value="([^"]+)"', confirm.text).group(1)
    assert "Your TV is connected" in agent.submit(confirm, {"user_code": user_code,
                                                            "decision": "allow"}).text
    tv.may_poll_now(provider)
    return agent


def test_the_tv_refreshes_on_a_change_and_pairs_again_after_a_logout(provider, tv):
    approver = pair(provider, tv, PHILIP)
    assert "Channels" in tv.look().text
    steps_down(provider, PHILIP)
    assert delivered(provider, tv.stream_id, 1) == [(TOKEN_CLAIMS_CHANGE, "delivered")]
    refused = tv.look()  # its tokens refreshed: the new role
    assert refused.status_code == 403 and "not available to you" in refused.text
    promote(provider, PHILIP)
    assert delivered(provider, tv.stream_id, 2)[-1] == (TOKEN_CLAIMS_CHANGE, "delivered")
    assert "Channels" in tv.look().text
    # Philip signs out in the browser he approved the box in: its session ends.
    approver.submit(approver.get(provider.url + "/"), {}, action="/logout")
    assert delivered(provider, tv.stream_id, 3)[-1] == (SESSION_REVOKED, "delivered")
    again = tv.look()
    assert again.status_code == 200 and USER_CODE.search(again.text), again.text[:300]


def test_the_tv_signs_out_when_the_membership_is_removed(provider, tv):
    pair(provider, tv, PHILIP)
    assert "Channels" in tv.look().text
    removed = provider.command("member", "remove", PHILIP.email, "--customer", SMITH)
    assert removed.returncode == 0, removed.stderr
    assert delivered(provider, tv.stream_id, 1) == [(TOKEN_CLAIMS_CHANGE, "delivered")]
    assert USER_CODE.search(tv.look().text)  # the refresh was refused: pair again


# -- the renewed ID token, held to the sign-in's (OIDC Core §12.2) -------------------------

def id_token(provider, claims: dict) -> str:
    signing = key_store(provider.app).signing_key("RS256")
    return jwt.encode({"alg": "RS256", "kid": signing.kid, "typ": "JWT"}, claims, signing,
                      algorithms=["RS256"])


RENEWED = {  # what differs from the sign-in's (given the client_id), and why it is refused
    "another person": (lambda client: {"sub": "someone-else"}, "'sub' differs"),
    "another provider session": (lambda client: {"sid": "another-sid"}, "'sid' differs"),
    "no provider session": (lambda client: {"sid": None}, "'sid' differs"),
    "another audience too": (lambda client: {"aud": [client, "another-client"]},
                             "'aud' differs"),
    "another authorized party": (lambda client: {"azp": "another-client"}, "another client"),
    "a later sign-in": (lambda client: {"auth_time": 1_700_000_999}, "time of the sign-in"),
    "another nonce": (lambda client: {"nonce": "not-the-sign-in-nonce"}, "nonce"),
    "expired": (lambda client: {"exp": 1_700_000_000}, "expired"),
}


@ONE_DATABASE
@pytest.mark.parametrize(("change", "refusal"), RENEWED.values(), ids=RENEWED.keys())
def test_a_renewed_id_token_must_be_of_the_same_sign_in(provider, the_cloud, change, refusal):
    """Signed with the provider's key, checked against its JWKS: nothing here
    reaches a query (the database cannot matter)."""
    rp = the_cloud.app.extensions["services.rp"]
    client_id = the_cloud.config.client_id
    now = int(time.time())
    sign_in = {"iss": provider.url, "sub": "person-1", "aud": [client_id], "azp": client_id,
               "iat": now, "exp": now + 300, "auth_time": 1_700_000_000, "sid": "sid-1"}
    facts = {**{name: sign_in[name] for name in ("iss", "sub", "azp", "auth_time", "sid")},
             "aud": (client_id,), "nonce": "the-sign-in-nonce"}
    same = rp.provider.verify_refreshed_id_token(id_token(provider, sign_in), facts)
    assert same.subject == "person-1"
    assert rp.provider.verify_refreshed_id_token(  # the sign-in's own nonce may come back
        id_token(provider, {**sign_in, "nonce": "the-sign-in-nonce"}), facts)
    renewed = {name: value for name, value in {**sign_in, **change(client_id)}.items()
               if value is not None}
    with pytest.raises(InvalidToken) as refused:
        rp.provider.verify_refreshed_id_token(id_token(provider, renewed), facts)
    assert refusal in refused.value.message
