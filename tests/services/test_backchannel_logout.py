"""Back-channel logout at the services (OpenID Connect Back-Channel Logout
1.0): a logout token signed with the provider's own key ends the service's
sessions of that provider session or person; anything else is refused with
400 and ends nothing. Tokens are signed here with the provider's key store
and joserfc; the last tests let the provider send them. Each rule of the
toolkit's verification, with its error class, is in
tests/claims/test_logout_tokens.py."""

from __future__ import annotations

import secrets
import time
from urllib.parse import urlsplit

import jwt as pyjwt
import pytest
import requests
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from claims import LogoutToken
from idp.keys import key_store
from services import logout_receiver
from services.logout_receiver import LogoutReceiver
from services.rp_session import PROVIDER_SID, SUBJECT, SessionStore
from tests.services.browser import Browser
from tests.support.people import MARY, PHILIP

EVENT = "http://schemas.openid.net/event/backchannel-logout"


def signed(provider, claims: dict, *, alg: str = "RS256", typ: str | None = "logout+jwt",
           key=None, **header) -> str:
    signing = key_store(provider.app).signing_key(alg)
    head = {"alg": alg, "kid": signing.kid, **header}
    if typ is not None:
        head["typ"] = typ
    # default_type=None: without a typ of ours, joserfc would write typ: JWT.
    return jwt.encode(head, claims, key or signing, algorithms=[alg], default_type=None)


def logout_claims(provider, service, *, sid=None, sub=None, **changes) -> dict:
    now = int(time.time())
    claims = {"iss": provider.url, "aud": service.config.client_id, "iat": now,
              "exp": now + 120, "jti": secrets.token_urlsafe(16), "sid": sid, "sub": sub,
              "events": {EVENT: {}}, **changes}
    return {name: value for name, value in claims.items() if value is not None}


def provider_session(provider, browser: Browser) -> dict:
    """The ``sid`` and ``sub`` of this browser's provider session, as another
    client of the provider sees them in its ID token."""
    probe = provider.clients.get("Probe") or provider.register("Probe", "web")
    authorization = probe.authorization(scope="openid")
    code = browser.code_for(probe, authorization)
    id_token = probe.redeem(code, authorization.verifier).json()["id_token"]
    claims = pyjwt.decode(id_token, options={"verify_signature": False})
    return {"sid": claims["sid"], "sub": claims["sub"], "id_token": id_token}


def deliver(service, token) -> requests.Response:
    return requests.post(service.config.backchannel_logout_uri, data={"logout_token": token},
                         timeout=10)


def signed_in(browser: Browser, service) -> bool:
    """True: the service's page (200); False: told it was signed out (a logout
    ended the session: 303 to /signed-out, once), or sent to its sign-in (302
    to /login)."""
    response = browser.get(service.url + "/")
    if response.status_code == 200:
        return True
    went = (response.status_code, urlsplit(response.headers["Location"]).path)
    assert went in {(303, "/signed-out"), (302, "/login")}, went
    return False


@pytest.fixture
def philip(provider, english_people, the_cloud, foot_11) -> tuple[Browser, dict]:
    """Philip signed in at the Cloud and at Foot 11, and his provider session
    (pages in English)."""
    browser = Browser(provider.url)
    assert browser.open(the_cloud.url + "/", person=PHILIP).status_code == 200
    assert browser.open(foot_11.url + "/").status_code == 200
    return browser, provider_session(provider, browser)


@pytest.mark.parametrize("names", [("sid", "sub"), ("sid",), ("sub",)])
def test_a_logout_token_ends_the_session(provider, the_cloud, foot_11, philip, names):
    browser, session = philip
    token = signed(provider, logout_claims(provider, the_cloud,
                                           **{n: session[n] for n in names}))
    answer = deliver(the_cloud, token)
    assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store"
    assert not signed_in(browser, the_cloud)
    assert signed_in(browser, foot_11)  # the token was for the Cloud only


def test_a_token_for_one_session_leaves_the_others(provider, the_cloud, philip):
    browser, session = philip
    elsewhere = Browser(provider.url)  # Philip on another computer: another provider session
    elsewhere.open(the_cloud.url + "/", person=PHILIP)
    mary = Browser(provider.url)
    mary.open(the_cloud.url + "/", person=MARY)  # refused: a session to sign out from
    assert len(the_cloud.sessions) == 3
    deliver(the_cloud, signed(provider, logout_claims(provider, the_cloud, sid=session["sid"])))
    assert not signed_in(browser, the_cloud) and signed_in(elsewhere, the_cloud)
    # A token naming only the person ends all of his sessions, and only his.
    deliver(the_cloud, signed(provider, logout_claims(provider, the_cloud, sub=session["sub"])))
    assert not signed_in(elsewhere, the_cloud)
    assert the_cloud.sessions.load(mary.cookie("cloud_session")) is not None  # hers stays


def test_an_audience_list_and_es256_are_accepted(provider, the_cloud, philip):
    browser, session = philip
    claims = logout_claims(provider, the_cloud, sid=session["sid"],
                           aud=["someone-else", the_cloud.config.client_id])
    assert deliver(the_cloud, signed(provider, claims, alg="ES256")).status_code == 200
    assert not signed_in(browser, the_cloud)


def test_a_replayed_token_ends_nothing_new(provider, the_cloud, philip):
    browser, session = philip
    token = signed(provider, logout_claims(provider, the_cloud, sub=session["sub"]))
    assert deliver(the_cloud, token).status_code == 200
    assert not signed_in(browser, the_cloud)
    browser.open(the_cloud.url + "/")  # signs in again (single sign-on)
    assert signed_in(browser, the_cloud)
    assert deliver(the_cloud, token).status_code == 200  # a retried delivery is acknowledged
    assert signed_in(browser, the_cloud)


def _forged(provider, service, session, case: str) -> str:
    good = logout_claims(provider, service, sid=session["sid"], sub=session["sub"])

    def without(*names: str) -> dict:
        return {k: v for k, v in good.items() if k not in names}

    other_rsa = RSAKey.generate_key(2048, parameters={"kid": "x"})
    real_kid = key_store(provider.app).signing_key("RS256").kid
    cases = {
        "another key, same kid": lambda: signed(provider, good, key=other_rsa),
        "no events": lambda: signed(provider, without("events")),
        "another event": lambda: signed(provider, {**good, "events": {"urn:other": {}}}),
        "event not an object": lambda: signed(provider, {**good, "events": {EVENT: "yes"}}),
        "a nonce": lambda: signed(provider, {**good, "nonce": "n"}),
        "another audience": lambda: signed(provider, {**good, "aud": "another-client"}),
        "audience of the provider": lambda: signed(provider, {**good, "aud": provider.url}),
        "another issuer": lambda: signed(provider, {**good, "iss": "https://evil.example"}),
        "expired": lambda: signed(provider, {**good, "iat": good["iat"] - 900,
                                             "exp": good["iat"] - 600}),
        "issued in the future": lambda: signed(provider, {**good, "iat": good["iat"] + 900}),
        "no exp": lambda: signed(provider, without("exp")),
        "no jti": lambda: signed(provider, without("jti")),
        "neither sid nor sub": lambda: signed(provider, without("sid", "sub")),
        "typ JWT (an ID token's)": lambda: signed(provider, good, typ="JWT"),
        "no typ": lambda: signed(provider, good, typ=None),
        "the ID token itself": lambda: session["id_token"],
        "HS256": lambda: jwt.encode({"alg": "HS256", "kid": real_kid, "typ": "logout+jwt"},
                                    good, OctKey.import_key(secrets.token_bytes(32)),
                                    ["HS256"]),
        "alg none": lambda: "eyJhbGciOiJub25lIiwidHlwIjoibG9nb3V0K2p3dCJ9."
                            + pyjwt.encode(good, None, algorithm="none").split(".")[1] + ".",
        "a key in the header": lambda: signed(provider, good, key=other_rsa,
                                              jwk=other_rsa.as_dict(private=False)),
        "an unknown kid": lambda: jwt.encode(
            {"alg": "ES256", "kid": "unknown", "typ": "logout+jwt"}, good,
            ECKey.generate_key("P-256"), ["ES256"]),
        "garbage": lambda: "not.a.token",
        "empty": lambda: "",
    }
    return cases[case]()


FORGERIES = {  # case -> what the refusal says
    "another key, same kid": "signature does not verify",
    "no events": "back-channel logout event",
    "another event": "back-channel logout event",
    "event not an object": "back-channel logout event",
    "a nonce": "never carries a nonce",
    "another audience": "not meant for this service",
    "audience of the provider": "not meant for this service",
    "another issuer": "not issued by the expected provider",
    "expired": "expired",
    "issued in the future": "not valid yet",
    "no exp": "'exp' is missing",
    "no jti": "no 'jti'",
    "neither sid nor sub": "neither a session nor a person",
    "typ JWT (an ID token's)": "typ logout+jwt",
    "no typ": "typ logout+jwt",
    "the ID token itself": "typ logout+jwt",
    "HS256": "algorithm is not accepted",
    "alg none": "algorithm is not accepted",
    "a key in the header": "names its own key",
    "an unknown kid": "key the provider does not publish",
    "garbage": "not base64url",
    "empty": "A logout token is needed",
}


@pytest.mark.parametrize(("case", "reason"), FORGERIES.items())
def test_a_forged_or_wrong_token_is_refused_and_ends_nothing(provider, the_cloud, philip, case,
                                                             reason):
    browser, session = philip
    answer = deliver(the_cloud, _forged(provider, the_cloud, session, case))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_request"
    assert reason in answer.json()["error_description"]
    assert answer.headers["Cache-Control"] == "no-store"
    assert signed_in(browser, the_cloud)
    assert len(the_cloud.sessions) == 1


class _Verified:
    """The toolkit's verifier, as the receiver sees it: here the "token" is
    already the LogoutToken (the verification is tested in tests/claims)."""

    leeway = 60

    @staticmethod
    def verify(token: LogoutToken) -> LogoutToken:
        return token


def test_the_replay_memory_forgets_expired_jtis_first_then_the_oldest(monkeypatch):
    monkeypatch.setattr(logout_receiver, "MAX_REMEMBERED", 3)
    now = [1000.0]
    sessions = SessionStore()
    receiver = LogoutReceiver(_Verified(), sessions, clock=lambda: now[0])

    def acted_on(jti: str, expires_at: float) -> bool:
        """Whether a token for Philip ended his session (one is there each time)."""
        sessions.save(sessions.new_cookie_value(), {SUBJECT: "philip", PROVIDER_SID: "s"},
                      create=True)
        ended = receiver.receive(LogoutToken("s", "philip", jti, 990.0, expires_at))
        assert len(sessions) == (0 if ended else 1)
        sessions.end(subject="philip")
        return ended > 0

    assert acted_on("a", 1010) and acted_on("b", 5000) and acted_on("c", 5000)
    assert not acted_on("b", 5000)  # a replay ends nothing
    now[0] = 1071  # "a" is past its exp and the leeway
    assert acted_on("d", 5000)  # the memory was full: "a" was forgotten, not "b"
    assert not acted_on("b", 5000) and not acted_on("c", 5000)
    assert acted_on("e", 5000)  # full, none expired: the oldest ("b") goes
    assert acted_on("b", 5000) and not acted_on("d", 5000)


def test_without_a_token_or_as_a_browser_form(provider, the_cloud, philip):
    browser, _ = philip
    assert requests.post(the_cloud.config.backchannel_logout_uri, timeout=10).status_code == 400
    assert requests.get(the_cloud.config.backchannel_logout_uri, timeout=10).status_code == 405
    assert signed_in(browser, the_cloud)


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_signing_out_at_one_service_signs_out_of_the_others(provider, the_cloud, foot_11,
                                                            philip):
    """The provider sends the logout tokens (its back-channel logout)."""
    browser, _ = philip
    page = browser.get(the_cloud.url + "/")
    browser.follow_all(browser.post_form(page, "/logout", {}))
    assert wait_until(lambda: len(foot_11.sessions) == 0)
    told = browser.open(foot_11.url + "/")  # once: "You are signed out"
    assert urlsplit(told.url).path == "/signed-out" and "You are signed out" in told.text
    assert not signed_in(browser, foot_11)
    assert browser.is_sign_in(browser.open(foot_11.url + "/"))  # and the provider asks again


def test_signing_out_at_the_provider_signs_out_of_the_services(provider, the_cloud, foot_11,
                                                               philip):
    browser, _ = philip
    page = browser.get(provider.url + "/")
    browser.submit(page, {}, action="/logout")
    assert wait_until(lambda: len(the_cloud.sessions) == 0 and len(foot_11.sessions) == 0)
    assert not signed_in(browser, the_cloud) and not signed_in(browser, foot_11)
