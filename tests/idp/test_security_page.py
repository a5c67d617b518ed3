"""The Security page (/account/security) over real HTTP, on both databases:
the sign-ins (browser, when, where from, this browser), the connected
devices and services, the recent activity from the audit trail; "Sign out
there" and "Disconnect" end exactly what they name, and a foreign, made-up
or malformed id, a missing CSRF token or a cross-site post changes nothing."""

from __future__ import annotations

import html
import re

import pytest
import requests
from sqlalchemy import select, update

from claims.security_event_types import SESSION_REVOKED
from idp.account.security_views import (
    CLIENT_DISCONNECTED,
    SESSION_ENDED,
    describe_browser,
)
from idp.directory.models import AuditEvent, Person, utcnow
from idp.infrastructure import database
from idp.login.models import SsoSession
from idp.login.sessions import SIGNED_IN
from idp.protocol.backchannel_logout import EVENT as LOGOUT_EVENT
from idp.protocol.tokens.models import TokenGrant
from idp.security_events.models import DeliveryKind, EventStream, PushDelivery
from tests.provider.agents import RelyingParty, UserAgent
from tests.snapshots import snapshot
from tests.support.people import MARY, PHILIP
from tests.support.saved_languages import in_english

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
PHONE = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/126.0.0.0 Mobile Safari/537.36")
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PAGE = "/account/security"
SIGN_OUT, DISCONNECT = "/account/security/sign-out", "/account/security/disconnect"


@pytest.fixture(autouse=True)
def _english(request):
    """These tests read the English wording (the demo's Mary reads French, Philip Dutch)."""
    in_english(request)


# -- helpers -------------------------------------------------------------------


def browser(provider, person, user_agent: str = FIREFOX) -> UserAgent:
    """A browser signed in to the provider as ``person``."""
    agent = UserAgent(provider.url)
    agent.http.headers["User-Agent"] = user_agent
    assert agent.login(person.email, person.password).status_code == 303
    return agent


def security(agent: UserAgent) -> requests.Response:
    page = agent.get(PAGE)
    assert page.status_code == 200, page.text[:500]
    return page


def sections(page: requests.Response) -> dict[str, str]:
    """The page's text by section: sign-ins, connected, activity."""
    text = page.text
    starts = {name: text.index(f'id="{name}"') for name in ("sign-ins", "connected", "activity")}
    order = sorted(starts, key=starts.get)
    return {name: text[starts[name]:starts[order[i + 1]] if i + 1 < len(order) else None]
            for i, name in enumerate(order)}


def offered(page: requests.Response, field: str) -> list[str]:
    """The ids the page's forms offer in ``field``."""
    return re.findall(rf'name="{field}" value="([^"]+)"', page.text)


def post(agent: UserAgent, page: requests.Response, url: str, **fields) -> requests.Response:
    return agent.post(url, {"csrf_token": agent.csrf(page), **fields})


def done(agent: UserAgent, response: requests.Response) -> requests.Response:
    """The page a successful post leads to (303, then the page with its notice)."""
    assert response.status_code == 303, response.text[:500]
    assert response.headers["Location"] == PAGE
    return security(agent)


def session_of(provider, user_agent: str, email: str = PHILIP.email) -> SsoSession:
    with database.new_session(provider.app) as session:
        return session.scalar(select(SsoSession).join(SsoSession.person).where(
            SsoSession.user_agent == user_agent, Person.email == email)
            .order_by(SsoSession.id.desc()).limit(1))


def family_of(provider, client_id: str, email: str = PHILIP.email) -> TokenGrant:
    with database.new_session(provider.app) as session:
        return session.scalar(select(TokenGrant).join(TokenGrant.person).where(
            TokenGrant.client_id == client_id, Person.email == email)
            .order_by(TokenGrant.created_at.desc()).limit(1))


def code_flow(rp: RelyingParty, agent: UserAgent) -> dict:
    """``rp``'s tokens, from a code flow in ``agent`` (already signed in)."""
    authorization = rp.authorization()
    code = agent.code_for(rp, authorization)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return response.json()


def paired_tv(provider, tv: RelyingParty, agent: UserAgent) -> dict:
    """A TV box's tokens (RFC 8628), approved in ``agent`` (already signed in)."""
    data = {"scope": "openid profile"} if tv.auth else {"client_id": tv.client_id,
                                                        "scope": "openid profile"}
    started = requests.post(f"{provider.url}/device_authorization", auth=tv.auth, data=data,
                            timeout=10).json()
    page = agent.follow(agent.get(started["verification_uri_complete"]))
    assert "Connect your TV" in page.text, page.text[:300]
    confirm = agent.submit(page, {"user_code": started["user_code"]})
    assert f"Allow {tv_name(provider, tv)}?" in html.unescape(confirm.text)
    allowed = agent.submit(confirm, {"user_code": started["user_code"], "decision": "allow"})
    assert "Your TV is connected" in allowed.text
    tokens = tv.token(grant_type=DEVICE_GRANT, device_code=started["device_code"])
    assert tokens.status_code == 200, tokens.text
    return tokens.json()


def tv_name(provider, rp: RelyingParty) -> str:
    return next(name for name, client in provider.clients.items() if client is rp)


def refused(rp: RelyingParty, refresh_token: str) -> bool:
    response = rp.refresh(refresh_token)
    assert response.status_code in (200, 400), response.text
    return response.status_code == 400 and response.json()["error"] == "invalid_grant"


def stream_for(provider, client_id: str) -> str:
    """A polled event stream of ``client_id`` (security events are queued, not pushed)."""
    with database.new_session(provider.app) as session:
        stream = EventStream(id=f"s-{client_id[:20]}", client_id=client_id,
                             method="urn:ietf:rfc:8936", events_requested=[SESSION_REVOKED])
        session.add(stream)
        session.commit()
        return stream.id


def queued(provider) -> list[PushDelivery]:
    with database.new_session(provider.app) as session:
        return list(session.scalars(select(PushDelivery).order_by(PushDelivery.id)))


def unchanged_state(app) -> dict[str, list[tuple]]:
    """Every row of every table, but what the worker's attempts to push a
    queued token change meanwhile (a logout token to a port where nothing
    listens is tried again): the rows of the push outbox stay, as queued."""
    state = snapshot(app)
    kept = [i for i, column in enumerate(PushDelivery.__table__.columns)
            if column.name not in {"attempts", "next_attempt_at", "delivered_at", "outcome",
                                   "last_error"}]
    state["push_delivery"] = sorted((tuple(row[i] for i in kept)
                                     for row in state["push_delivery"]), key=repr)
    return state


def audited(provider, action: str) -> list[AuditEvent]:
    with database.new_session(provider.app) as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                    .order_by(AuditEvent.id)))


# -- the page --------------------------------------------------------------------


def test_the_page_needs_a_sign_in(provider):
    agent = UserAgent(provider.url)
    page = agent.get(PAGE)
    assert page.status_code == 303
    assert page.headers["Location"].endswith("/login?next=/account/security")
    before = snapshot(provider.app)
    posted = agent.post(SIGN_OUT, {"sid": "x"})
    assert posted.status_code == 303 and "/login?next=" in posted.headers["Location"]
    assert snapshot(provider.app) == before
    # The login page brings the person back to it.
    login = agent.get(page.headers["Location"])
    back = agent.login(PHILIP.email, PHILIP.password, login)
    assert back.headers["Location"] == PAGE
    assert "Where you are signed in" in security(agent).text


def test_sign_ins_connections_and_activity_are_listed(provider, web):
    app_client = provider.register("Keyholder app", "native",
                                   redirect_uris=["http://127.0.0.1/callback"])
    tv = provider.register("Living room TV", "device", redirect_uris=[], confidential=True)
    laptop, phone = browser(provider, PHILIP, FIREFOX), browser(provider, PHILIP, PHONE)
    browser(provider, MARY, FIREFOX)  # someone else's sign-in: not on Philip's page
    code_flow(web, phone)          # the Cloud, signed in in the phone's browser
    code_flow(app_client, laptop)  # the app, signed in through the laptop's browser
    paired_tv(provider, tv, phone)  # the TV, approved on the phone

    page = security(laptop)
    parts = sections(page)
    rows = parts["sign-ins"].split("<tr")[2:]
    assert len(rows) == 2  # Philip's two browsers, newest first; Mary's is not there
    assert "Chrome on Android" in rows[0] and "(this browser)" not in rows[0]
    assert "Firefox on Linux" in rows[1] and "(this browser)" in rows[1]
    assert "127.0.0.1" in rows[0] and "127.0.0.1" in rows[1]
    assert "Signed in there: Cloud, Living room TV" in rows[0]
    assert "Signed in there: Keyholder app" in rows[1]
    assert "Sign out there" in rows[0] and ">Sign out<" in rows[1]
    assert offered(page, "sid") == [session_of(provider, PHONE).sid,
                                    session_of(provider, FIREFOX).sid]

    # The app and the TV are connected; the Cloud is the phone's sign-in.
    connected = parts["connected"]
    assert "Keyholder app" in connected and "<td>App</td>" in connected
    assert "Living room TV" in connected and "<td>TV box or device</td>" in connected
    assert "Cloud" not in connected
    assert sorted(offered(page, "family")) == sorted(
        [family_of(provider, app_client.client_id).id, family_of(provider, tv.client_id).id])

    # The activity, in sentences to Philip: both sign-ins (and his login's
    # creation), newest first, with how he signed in.
    activity = parts["activity"]
    assert activity.count("You signed in.") == 2
    assert activity.index("Chrome on Android, on the web") < activity.index(
        "Firefox on Linux, on the web")
    assert "Firefox on Linux, on the web, with password, from network 127.0.0.0/24" in activity
    assert "Your login was created." in activity and "Mary" not in activity
    assert "person.signed_in" not in activity  # never an action's code

    # What the database keeps: the agent and the address on the session, the
    # network (never the address) in the audit trail.
    phone_session = session_of(provider, PHONE)
    assert (phone_session.user_agent, phone_session.ip_address) == (PHONE, "127.0.0.1")
    sign_in = next(e for e in audited(provider, SIGNED_IN) if e.details["sid"] ==
                   phone_session.sid)
    assert sign_in.actor == f"person:{phone_session.person_id}"
    assert sign_in.details == {"channel": "web", "amr": ["pwd"], "sid": phone_session.sid,
                               "network": "127.0.0.0/24"}
    assert "127.0.0.1" not in repr([e.details for e in audited(provider, SIGNED_IN)])


def test_a_user_agent_is_kept_printable_and_bounded(provider):
    agent = browser(provider, PHILIP, "Weird\u0085Agent/1.0 " + "x" * 500)
    kept = session_of(provider, "WeirdAgent/1.0 " + "x" * 285)
    assert kept is not None and len(kept.user_agent) == 300
    assert "WeirdAgent" in security(agent).text


def test_sign_out_there_ends_exactly_that_session(provider):
    cloud = provider.register("Cloud", "web", backchannel_logout_uri="http://127.0.0.1:9/bc")
    other = provider.register("Foot 11", "web")
    stream_for(provider, cloud.client_id)
    laptop, phone = browser(provider, PHILIP, FIREFOX), browser(provider, PHILIP, PHONE)
    on_phone, on_laptop = code_flow(cloud, phone), code_flow(other, laptop)
    phone_sid = session_of(provider, PHONE).sid

    page = security(laptop)
    after = done(laptop, post(laptop, page, SIGN_OUT, sid=phone_sid))
    assert "Signed out there: Chrome on Android" in after.text
    assert phone_sid not in offered(after, "sid")
    # The phone's session and its tokens are over; the laptop's are not.
    assert phone.get("/").status_code == 302  # back to the login page
    assert refused(cloud, on_phone["refresh_token"])
    assert cloud.introspect(on_phone["access_token"]).json() == {"active": False}
    assert not refused(other, on_laptop["refresh_token"])
    assert security(laptop).status_code == 200
    # Its client was told: a logout token and a session-revoked event, with its sid.
    logout = [d for d in queued(provider) if d.kind == DeliveryKind.LOGOUT.value]
    assert [(d.client_id, d.claims["sid"], list(d.claims["events"])) for d in logout] == [
        (cloud.client_id, phone_sid, [LOGOUT_EVENT])]
    events = [d for d in queued(provider) if d.kind == DeliveryKind.SET.value]
    assert [(d.client_id, list(d.claims["events"]), d.claims["sub_id"]["session"]["id"])
            for d in events] == [(cloud.client_id, [SESSION_REVOKED], phone_sid)]
    [ended] = audited(provider, SESSION_ENDED)
    assert ended.details == {"sid": phone_sid}
    assert "You ended a sign-in.<br><span class=\"detail\">Chrome on Android</span>" in \
        sections(after)["activity"]

    # Twice: it had ended already, and nothing more happens.
    before = unchanged_state(provider.app)
    again = done(laptop, post(laptop, after, SIGN_OUT, sid=phone_sid))
    assert "had ended already" in again.text
    assert unchanged_state(provider.app) == before


def test_signing_out_this_browser(provider, web):
    laptop = browser(provider, PHILIP, FIREFOX)
    tokens = code_flow(web, laptop)
    page = security(laptop)
    response = post(laptop, page, SIGN_OUT, sid=session_of(provider, FIREFOX).sid)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert "keyholder_sso=;" in response.headers["Set-Cookie"]
    assert laptop.get(PAGE).status_code == 303  # signed out: to the login page
    assert refused(web, tokens["refresh_token"])


def test_disconnect_ends_exactly_that_family(provider):
    tv = provider.register("Living room TV", "device", redirect_uris=[], confidential=True)
    bedroom = provider.register("Bedroom TV", "device", redirect_uris=[], confidential=True)
    tv_stream, bedroom_stream = stream_for(provider, tv.client_id), stream_for(
        provider, bedroom.client_id)
    laptop = browser(provider, PHILIP, FIREFOX)
    living, other = paired_tv(provider, tv, laptop), paired_tv(provider, bedroom, laptop)
    family = family_of(provider, tv.client_id)

    page = security(laptop)
    assert family.id in offered(page, "family")
    after = done(laptop, post(laptop, page, DISCONNECT, family=family.id))
    assert "Living room TV is disconnected" in after.text
    assert family.id not in offered(after, "family")
    assert "Bedroom TV" in sections(after)["connected"]

    # That family is over: its refresh token refused, its access token inactive.
    assert refused(tv, living["refresh_token"])
    assert tv.introspect(living["access_token"]).json() == {"active": False}
    with database.new_session(provider.app) as session:
        assert session.get(TokenGrant, family.id).revoked_reason == "disconnected"
    # Nothing else is: the other TV, the browser's session.
    assert bedroom.introspect(other["access_token"]).json()["active"] is True
    assert not refused(bedroom, other["refresh_token"])
    assert "(this browser)" in security(laptop).text
    # One session-revoked event, to that TV's stream only, naming the session
    # it was approved in; no logout token (it has no back-channel logout URI).
    events = queued(provider)
    assert [(d.kind, d.stream_id, list(d.claims["events"])) for d in events] == [
        (DeliveryKind.SET.value, tv_stream, [SESSION_REVOKED])]
    assert events[0].claims["sub_id"]["session"]["id"] == family.sid
    assert bedroom_stream not in {d.stream_id for d in events}
    [disconnected] = audited(provider, CLIENT_DISCONNECTED)
    assert disconnected.details == {"client": tv.client_id, "client_name": "Living room TV"}
    assert "You disconnected Living room TV." in sections(after)["activity"]

    # Twice: disconnected already, nothing more happens.
    before = snapshot(provider.app)
    again = done(laptop, post(laptop, after, DISCONNECT, family=family.id))
    assert "was disconnected already" in again.text
    assert snapshot(provider.app) == before


def test_disconnecting_a_service_whose_sign_in_has_ended(provider):
    """A web service keeps its refresh token after the browser session
    expired: it is listed, and its disconnection sends it a logout token."""
    cloud = provider.register("Cloud", "web", backchannel_logout_uri="http://127.0.0.1:9/bc")
    phone = browser(provider, PHILIP, PHONE)
    tokens = code_flow(cloud, phone)
    with database.new_session(provider.app) as session:
        session.execute(update(SsoSession).where(SsoSession.user_agent == PHONE)
                        .values(expires_at=utcnow()))
        session.commit()
    laptop = browser(provider, PHILIP, FIREFOX)
    page = security(laptop)
    family = family_of(provider, cloud.client_id)
    assert "Chrome on Android" not in sections(page)["sign-ins"]
    assert "Cloud" in sections(page)["connected"] and "<td>Web service</td>" in page.text
    done(laptop, post(laptop, page, DISCONNECT, family=family.id))
    assert refused(cloud, tokens["refresh_token"])
    assert cloud.introspect(tokens["access_token"]).json() == {"active": False}
    logout = [d for d in queued(provider) if d.kind == DeliveryKind.LOGOUT.value]
    assert [(d.client_id, d.claims["sid"], d.claims["sub"]) for d in logout] == [
        (cloud.client_id, family.sid, family.person_id)]


# -- refusals --------------------------------------------------------------------


@pytest.fixture
def two_people(provider):
    """Philip on his laptop and Mary, each with a sign-in and a TV box."""
    tv = provider.register("Living room TV", "device", redirect_uris=[], confidential=True)
    philip, mary = browser(provider, PHILIP, FIREFOX), browser(provider, MARY, PHONE)
    philips, marys = paired_tv(provider, tv, philip), paired_tv(provider, tv, mary)
    return philip, mary, tv, philips, marys


def bad_ids(provider, field: str) -> list[str]:
    mary = session_of(provider, PHONE, MARY.email) if field == "sid" else None
    foreign = mary.sid if mary else family_of(provider, provider.clients["Living room TV"]
                                              .client_id, MARY.email).id
    return [foreign, "A" * 32, "", "x" * 10_000, "' OR 1=1 --", "١٢٣", "é" * 22, "a\u200bb"]


@pytest.mark.parametrize(("url", "field"), [(SIGN_OUT, "sid"), (DISCONNECT, "family")])
def test_foreign_made_up_and_malformed_ids_change_nothing(provider, two_people, url, field):
    philip, mary, tv, philips, marys = two_people
    page = security(philip)
    before = snapshot(provider.app)
    for bad in bad_ids(provider, field):
        response = post(philip, page, url, **{field: bad})
        assert response.status_code == 404, (bad[:20], response.status_code)
        assert ("There is no such sign-in on your account" if field == "sid" else
                "There is no such device or service on your account") in response.text
        assert "Nothing was changed" in response.text
    # NUL never reaches the view: the edge refuses it.
    nul = post(philip, page, url, **{field: "a\x00b"})
    assert nul.status_code == 400 and "control character" in nul.text
    assert snapshot(provider.app) == before
    # Mary is still signed in, her TV still works, and so does Philip's.
    assert security(mary).status_code == 200
    assert not refused(tv, marys["refresh_token"])
    assert not refused(tv, philips["refresh_token"])


@pytest.mark.parametrize(("url", "field"), [(SIGN_OUT, "sid"), (DISCONNECT, "family")])
def test_without_csrf_token_or_from_another_site_nothing_changes(provider, two_people, url,
                                                                 field):
    philip, mary, tv, philips, _ = two_people
    page = security(philip)
    target = session_of(provider, FIREFOX).sid if field == "sid" else \
        family_of(provider, tv.client_id).id
    before = snapshot(provider.app)
    no_token = philip.post(url, {field: target})
    assert no_token.status_code == 400 and "open too long" in no_token.text
    wrong_token = philip.post(url, {field: target, "csrf_token": "forged"})
    assert wrong_token.status_code == 400
    other_session = mary.post(url, {field: target, "csrf_token": philip.csrf(page)})
    assert other_session.status_code == 400  # a token of another browser's session
    for headers in ({"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}):
        cross = philip.post(url, {field: target, "csrf_token": philip.csrf(page)},
                            headers=headers)
        assert cross.status_code == 403 and "sent from another site" in cross.text
    assert snapshot(provider.app) == before
    assert not refused(tv, philips["refresh_token"])


# -- the browser in words (no database) ------------------------------------------


@pytest.mark.parametrize(("agent", "words"), [
    (FIREFOX, "Firefox on Linux"),
    (PHONE, "Chrome on Android"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", "Safari on macOS"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "HeadlessChrome/126.0.0.0 Safari/537.36", "Chrome on Linux"),
    ("python-requests/2.32.3", "python-requests"),
    ("Mozilla/5.0", "Unknown browser"),
    (None, "Unknown browser"),
])
def test_the_browser_in_words(agent, words):
    assert describe_browser(agent) == words
