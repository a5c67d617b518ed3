"""The second factor (RFC 6238) over real HTTP, on SQLite and PostgreSQL:
enrolment at /account/second-factor (QR code, secret, a right code, ten
recovery codes shown once), the sign-in's second step (``amr`` ``pwd otp``
in the ID token), wrong codes refused and counted like wrong passwords, no
code accepted twice, recovery codes single use, the pending sign-in that
opens nothing, CSRF and cross-site posts, NUL bytes, the rule that
administrators of a customer that requires it enrol before signing in,
turning it off and new recovery codes.

Codes come from ``pyotp`` with the secret the enrolment page shows, at the
time of a fake clock that the provider's :mod:`idp.account.totp` reads (the
provider is served in this process), so no test waits for the next step."""

from __future__ import annotations

import html
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pyotp
import pytest
import requests
from flask import Flask
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet
from sqlalchemy import select, update

from idp.account import totp
from idp.account.models import RecoveryCode
from idp.directory.models import AuditEvent, Customer, Person, utcnow
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from idp.login import login_limits, sessions
from idp.login import views as login_views
from idp.login.models import SsoSession, ThrottleCounter
from tests.provider.agents import UserAgent, query_of
from tests.snapshots import snapshot
from tests.support.people import MARY, PHILIP, THOMAS
from tests.support.saved_languages import in_english

PAGE = "/account/second-factor"
ENROL, DISABLE = f"{PAGE}/enrol", f"{PAGE}/disable"
RENEW = f"{PAGE}/recovery-codes"
STEP = "/login/second-factor"
SECRET = re.compile(r'id="totp-secret">([^<]+)<')
RECOVERY = re.compile(r"<li><code>([^<]+)</code></li>")
ALERT = re.compile(r'role="alert"[^>]*>([^<]+)<')


@pytest.fixture(autouse=True)
def _english(request):
    """These tests read the English wording (the demo's Mary reads French, Philip Dutch)."""
    in_english(request)


class Clock:
    """The time :mod:`idp.account.totp` sees: 5 s into a step of the real clock."""

    def __init__(self) -> None:
        self.now = float(int(time.time()) // 30 * 30 + 5)

    def time(self) -> float:
        return self.now

    def tick(self, seconds: float = 30) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(totp, "time", fake)
    return fake


# -- helpers ---------------------------------------------------------------------------


def code(secret: str, clock: Clock, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(clock.now + 30 * steps)


def alert(page: requests.Response) -> str:
    found = ALERT.search(page.text)
    return " ".join(found.group(1).split()) if found else ""


def signed_in_agent(provider, person) -> UserAgent:
    """A browser signed in with the password only (no second factor yet)."""
    agent = UserAgent(provider.url)
    assert agent.login(person.email, person.password).status_code == 303
    return agent


def enrol(agent: UserAgent, clock: Clock) -> tuple[str, list[str]]:
    """Set up the second factor on the account page: the secret and the codes."""
    page = agent.get(PAGE)
    assert page.status_code == 200 and "Set up two-step sign-in" in page.text, page.text[:300]
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    done = agent.submit(page, {"code": code(secret, clock)}, action=ENROL)
    assert done.status_code == 200 and "Your recovery codes" in done.text, done.text[:500]
    return secret, RECOVERY.findall(done.text)


def enrolled(provider, person, clock: Clock) -> tuple[str, list[str]]:
    """``person`` with a second factor (this step's code spent); the secret and codes."""
    return enrol(signed_in_agent(provider, person), clock)


def signed_in_with_code(provider, person, secret: str, clock: Clock) -> UserAgent:
    """A browser signed in with the password and the next step's code."""
    agent, step = password_step(provider, person)
    assert agent.submit(step, {"code": code(secret, clock, 1)}).status_code == 303
    return agent


def password_step(provider, person, agent: UserAgent | None = None,
                  next_url: str | None = None) -> tuple[UserAgent, requests.Response]:
    """The right password typed: the second step's page."""
    agent = agent or UserAgent(provider.url)
    page = agent.get("/login", params={"next": next_url} if next_url else None)
    response = agent.login(person.email, person.password, page)
    assert response.status_code == 303 and response.headers["Location"] == STEP, \
        (response.status_code, response.headers.get("Location"))
    step = agent.get(STEP)
    assert step.status_code == 200
    return agent, step


def row(provider, model, *where):
    with database.new_session(provider.app) as session:
        return session.scalar(select(model).where(*where))


def person_row(provider, person) -> Person:
    return row(provider, Person, Person.email == person.email)


def audit(provider, person) -> list[tuple[str, dict]]:
    with database.new_session(provider.app) as session:
        person_id = session.scalar(select(Person.id).where(Person.email == person.email))
        return [(e.action, e.details) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.person_id == person_id)
            .order_by(AuditEvent.id))]


def live_sessions(provider, person) -> list[SsoSession]:
    with database.new_session(provider.app) as session:
        return list(session.scalars(select(SsoSession).join(SsoSession.person).where(
            Person.email == person.email, SsoSession.ended_at.is_(None))
            .order_by(SsoSession.id)))


def failures(provider, key: str) -> int:
    counter = row(provider, ThrottleCounter, ThrottleCounter.key == key)
    return counter.failures if counter else 0


def jwt_claims(provider, token: str) -> dict:
    jwks = KeySet.import_key_set(requests.get(f"{provider.url}/jwks.json", timeout=10).json())
    return jose_jwt.decode(token, jwks, algorithms=["RS256"]).claims


def require_for_administrators(provider, number: str = "123456789") -> None:
    with database.new_session(provider.app) as session:
        session.execute(update(Customer).where(Customer.number == number)
                        .values(second_factor_required=True))
        session.commit()


def age_login(provider, person, minutes: int = 11) -> None:
    """The person's sessions signed in ``minutes`` ago."""
    with database.new_session(provider.app) as session:
        person_id = session.scalar(select(Person.id).where(Person.email == person.email))
        session.execute(update(SsoSession).where(SsoSession.person_id == person_id)
                        .values(auth_time=utcnow() - timedelta(minutes=minutes)))
        session.commit()


# -- enrolment ------------------------------------------------------------------------


def test_enrolment_shows_a_qr_code_and_completes_only_with_a_right_code(provider, clock):
    agent = signed_in_agent(provider, MARY)
    page = agent.get(PAGE)
    assert page.status_code == 200
    # The app files the code under the operator's name (KEYHOLDER_OPERATOR_NAME).
    assert "<svg" in page.text and f"QR code for MyProximus ({MARY.email})" in page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)  # 160 bits, base32
    uri = f"otpauth://totp/MyProximus:{MARY.email.replace('@', '%40')}?secret={secret}" \
          "&amp;issuer=MyProximus"
    assert uri in page.text and "Keyholder" not in uri
    reloaded = SECRET.search(agent.get(PAGE).text).group(1).replace(" ", "")
    assert reloaded == secret  # a reload shows the same secret

    wrong = agent.submit(page, {"code": "000000" if code(secret, clock) != "000000"
                                else "111111"}, action=ENROL)
    assert wrong.status_code == 400
    assert "This code is not right" in alert(wrong)
    assert person_row(provider, MARY).totp_secret is None
    assert failures(provider, login_limits.account_key(MARY.email)) == 1

    done = agent.submit(page, {"code": code(secret, clock)}, action=ENROL)
    assert done.status_code == 200 and "Two-step sign-in is on." in done.text
    codes = RECOVERY.findall(done.text)
    assert len(codes) == 10 == len(set(codes))
    assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
    assert done.headers["Cache-Control"] == "no-store"

    person = person_row(provider, MARY)
    assert person.totp_enabled_at is not None
    assert secret not in person.totp_secret and person.totp_secret.startswith("v1.")
    with database.new_session(provider.app) as session:
        stored = session.scalars(select(RecoveryCode.code_hash).where(
            RecoveryCode.person_id == person.id)).all()
    assert len(stored) == 10
    assert not {c.replace("-", "") for c in codes} & set(stored)
    assert ("person.second_factor_enabled", {"during": "account"}) in audit(provider, MARY)

    # Shown once: the page now says it is on, without the secret or the codes.
    again = agent.get(PAGE)
    assert "Two-step sign-in is <strong>on</strong>" in again.text
    assert secret not in again.text and not RECOVERY.findall(again.text)
    assert "10 recovery" in again.text


def test_the_secret_is_sealed_for_its_person_with_the_secret_key(provider, clock):
    secret, _ = enrolled(provider, MARY, clock)
    person = person_row(provider, MARY)
    other = person_row(provider, PHILIP)
    app = provider.app
    assert totp.unseal(app, person.id, person.totp_secret)[0] == secret
    with pytest.raises(totp.SecretUnreadable):  # moved to another person's row
        totp.unseal(app, other.id, person.totp_secret)
    elsewhere = Flask("elsewhere")
    elsewhere.config["SECRET_KEY"] = "another-secret-key-that-is-long-enough-0123"
    with pytest.raises(totp.SecretUnreadable):  # a copy of the database without the key
        totp.unseal(elsewhere, person.id, person.totp_secret)


def test_enrolment_after_ten_minutes_asks_for_the_password(provider, clock):
    agent = signed_in_agent(provider, MARY)
    age_login(provider, MARY)
    page = agent.get(PAGE)
    assert "Your password" in page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")
    refused = agent.submit(page, {"code": code(secret, clock)}, action=ENROL)
    assert refused.status_code == 400 and "This password is not right" in alert(refused)
    assert person_row(provider, MARY).totp_secret is None
    assert failures(provider, login_limits.account_key(MARY.email)) == 1
    done = agent.submit(page, {"code": code(secret, clock), "password": MARY.password},
                        action=ENROL)
    assert done.status_code == 200 and len(RECOVERY.findall(done.text)) == 10
    assert person_row(provider, MARY).totp_secret is not None


def test_the_account_page_needs_a_session(provider):
    agent = UserAgent(provider.url)
    response = agent.get(PAGE)
    assert response.status_code == 302
    assert query_of(response.headers["Location"])["next"] == PAGE


# -- signing in -----------------------------------------------------------------------


def test_sign_in_asks_for_the_code_and_the_id_token_says_otp(provider, web, clock):
    secret, _ = enrolled(provider, MARY, clock)
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    to_login = agent.follow(agent.get("/authorize", params=authorization.params))
    assert 'action="/login"' in to_login.text
    after_password = agent.login(MARY.email, MARY.password, to_login)
    assert after_password.status_code == 303 and after_password.headers["Location"] == STEP
    assert not agent.http.cookies.get("keyholder_sso")  # no SSO session yet
    step = agent.get(STEP)
    assert "type the 6-digit code" in step.text

    # The enrolment's code is spent; the next step's code works.
    spent = agent.submit(step, {"code": code(secret, clock)})
    assert spent.status_code == 200 and "This code is not right" in alert(spent)
    signed = agent.submit(step, {"code": code(secret, clock, 1)})
    assert signed.status_code == 303
    response = agent.follow(signed)
    params = query_of(response.headers["Location"])
    tokens = web.redeem(params["code"], authorization.verifier).json()
    assert jwt_claims(provider, tokens["id_token"])["amr"] == ["pwd", "otp"]
    enrolling, signed_in = live_sessions(provider, MARY)
    assert enrolling.amr == ["pwd"] and signed_in.amr == ["pwd", "otp"]


def test_a_wrong_code_is_refused_and_counted_like_a_wrong_password(provider, clock):
    secret, _ = enrolled(provider, MARY, clock)
    account = login_limits.account_key(MARY.email)
    address = login_limits.address_key("127.0.0.1")
    before_address = failures(provider, address)
    agent, step = password_step(provider, MARY)
    wrong = agent.submit(step, {"code": "123456" if code(secret, clock, 1) != "123456"
                                else "654321"})
    assert wrong.status_code == 200 and "This code is not right" in alert(wrong)
    assert failures(provider, account) == 1
    assert failures(provider, address) == before_address + 1
    assert not live_sessions(provider, MARY)[1:]  # only the enrolling browser's
    assert agent.get("/").status_code == 302

    # A right password again does not clear the count (no fresh guesses at the code).
    agent, step = password_step(provider, MARY)
    assert failures(provider, account) == 1
    for _ in range(login_limits.ACCOUNT_LIMIT - 1):
        agent.submit(step, {"code": "not-a-code"})
    blocked = agent.submit(step, {"code": code(secret, clock, 1)})
    assert blocked.status_code == 429 and "Too many attempts" in alert(blocked)
    assert len(live_sessions(provider, MARY)) == 1
    # The password step is blocked too: the same counter.
    again = UserAgent(provider.url).login(MARY.email, MARY.password)
    assert again.status_code == 429


def test_the_same_code_is_not_accepted_twice(provider, clock):
    secret, _ = enrolled(provider, MARY, clock)
    used = code(secret, clock, 1)
    first, step = password_step(provider, MARY)
    assert first.submit(step, {"code": used}).status_code == 303
    second, step = password_step(provider, MARY)
    replay = second.submit(step, {"code": used})
    assert replay.status_code == 200 and "This code is not right" in alert(replay)
    # Nor an older step's code, once a later one was used.
    older = second.submit(step, {"code": code(secret, clock)})
    assert older.status_code == 200
    assert len(live_sessions(provider, MARY)) == 2  # the enrolling browser and the first
    clock.tick()  # the next step: its own code works
    assert second.submit(step, {"code": code(secret, clock, 1)}).status_code == 303


def test_one_code_sent_four_times_at_once_signs_in_once(provider, clock):
    """One winner: the person's row is locked while a code is checked, and a
    recovery code is spent by a conditional UPDATE."""
    secret, codes = enrolled(provider, MARY, clock)
    for typed in (code(secret, clock, 1), codes[0]):
        steps = [password_step(provider, MARY) for _ in range(4)]
        barrier = threading.Barrier(len(steps))

        def send(pending, typed=typed, barrier=barrier):
            agent, step = pending
            barrier.wait()
            response = agent.submit(step, {"code": typed})
            return response.status_code == 303 or "You used a recovery code" in response.text

        with ThreadPoolExecutor(max_workers=len(steps)) as pool:
            signed_in = list(pool.map(send, steps))
        assert signed_in.count(True) == 1, signed_in
    assert len(live_sessions(provider, MARY)) == 3  # the enrolling browser and two winners


def test_a_recovery_code_works_once(provider, clock):
    _, codes = enrolled(provider, MARY, clock)
    agent, step = password_step(provider, MARY)
    page = agent.submit(step, {"code": codes[0]})
    assert page.status_code == 200 and "You used a recovery code" in page.text
    assert "You have 9 recovery codes left." in " ".join(page.text.split())
    assert agent.get("/").status_code == 200  # signed in
    assert live_sessions(provider, MARY)[-1].amr == ["pwd", "otp"]
    assert ("person.recovery_code_used", {"left": 9}) in audit(provider, MARY)

    other, step = password_step(provider, MARY)
    again = other.submit(step, {"code": codes[0]})
    assert again.status_code == 200 and "This code is not right" in alert(again)
    # Typed as people type: capitals, spaces, no dash.
    typed = " ".join(codes[1].replace("-", "").upper()[i:i + 2] for i in range(0, 10, 2))
    assert other.submit(step, {"code": typed}).status_code == 200
    assert other.get("/").status_code == 200
    with database.new_session(provider.app) as session:
        left = session.scalars(select(RecoveryCode).where(RecoveryCode.used_at.is_(None))).all()
    assert len(left) == 8


def test_the_pending_sign_in_opens_nothing(provider, web, clock):
    secret, _ = enrolled(provider, MARY, clock)
    authorization = web.authorization()
    agent = UserAgent(provider.url)
    agent, _ = password_step(provider, MARY, agent)
    before = snapshot(provider.app)

    # Straight to /authorize, the account pages, the signed-in page: a login.
    response = agent.get("/authorize", params=authorization.params)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?")
    assert agent.get(PAGE).headers["Location"].startswith("/login?")
    assert agent.get("/").headers["Location"] == "/login"
    assert snapshot(provider.app) == before

    # The code then finishes the sign-in (the pending state was not lost).
    step = agent.get(STEP)
    assert agent.submit(step, {"code": code(secret, clock, 1)}).status_code == 303


def test_the_pending_sign_in_expires(provider, clock, monkeypatch):
    secret, _ = enrolled(provider, MARY, clock)
    agent, step = password_step(provider, MARY)
    monkeypatch.setitem(login_views.PENDING_SECONDS, "code", -1)
    late = agent.submit(step, {"code": code(secret, clock, 1)})
    assert late.status_code == 200 and "Your sign-in took too long" in late.text
    assert len(live_sessions(provider, MARY)) == 1
    assert agent.get(STEP).headers["Location"].startswith("/login")  # the marker is gone


def test_a_new_password_ends_the_pending_sign_in(provider, clock):
    secret, _ = enrolled(provider, MARY, clock)
    agent, step = password_step(provider, MARY)
    new_hash = provider.app.extensions[PASSWORDS].hash("a-new-password-for-mary")
    with database.new_session(provider.app) as session:
        session.execute(update(Person).where(Person.email == MARY.email)
                        .values(password_hash=new_hash))
        session.commit()
    late = agent.submit(step, {"code": code(secret, clock, 1)})
    assert "Your sign-in took too long" in late.text
    assert len(live_sessions(provider, MARY)) == 1


def test_the_second_step_without_a_password_is_the_login_page(provider):
    agent = UserAgent(provider.url)
    assert agent.get(STEP).headers["Location"].startswith("/login")
    page = agent.get("/login")
    response = agent.post(STEP, {"csrf_token": agent.csrf(page), "code": "123456"})
    assert response.status_code == 303 and response.headers["Location"].startswith("/login")


def test_no_session_starts_without_the_second_factor(provider, clock):
    """Fail closed: a flow that would skip the second step gets no session."""
    enrolled(provider, MARY, clock)
    with provider.app.test_request_context("/"):
        session = database.session()
        person = session.scalar(select(Person).where(Person.email == MARY.email))
        with pytest.raises(sessions.SecondFactorMissing):
            sessions.start(session, person, ["pwd"])
        session.rollback()


# -- refusals: CSRF, other sites, NUL ----------------------------------------------------


def test_forms_without_their_csrf_token_change_nothing(provider, clock):
    secret, codes = enrolled(provider, MARY, clock)
    mary = signed_in_with_code(provider, MARY, secret, clock)
    thomas = signed_in_agent(provider, THOMAS)
    thomas_secret = SECRET.search(thomas.get(PAGE).text).group(1).replace(" ", "")
    pending, _ = password_step(provider, MARY)
    before = snapshot(provider.app)

    for token in ({}, {"csrf_token": "forged"}):
        response = pending.post(STEP, {**token, "code": code(secret, clock, 2)})
        assert response.status_code == 400 and "open too long" in alert(response)
        response = thomas.post(ENROL, {**token, "code": code(thomas_secret, clock)})
        assert response.status_code == 400 and "open too long" in alert(response)
        response = mary.post(DISABLE, {**token, "password": MARY.password, "code": codes[0]})
        assert response.status_code == 400 and "open too long" in alert(response)
        response = mary.post(RENEW, {**token, "password": MARY.password})
        assert response.status_code == 400 and "open too long" in alert(response)
    assert snapshot(provider.app) == before
    assert pending.get("/").status_code == 302


def test_a_post_from_another_site_is_refused(provider, clock):
    _, codes = enrolled(provider, MARY, clock)
    agent = signed_in_agent(provider, THOMAS)
    page = agent.get(PAGE)
    before = snapshot(provider.app)
    response = agent.post(ENROL, {"csrf_token": agent.csrf(page), "code": "123456"},
                          headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403 and "from another site" in response.text
    response = agent.post(DISABLE, {"csrf_token": agent.csrf(page), "password": "x",
                                    "code": codes[0]}, headers={"Origin": "https://evil.example"})
    assert response.status_code == 403
    assert snapshot(provider.app) == before


def test_nul_bytes_are_refused_and_change_nothing(provider, clock):
    secret, _ = enrolled(provider, MARY, clock)
    mary = signed_in_with_code(provider, MARY, secret, clock)
    thomas = signed_in_agent(provider, THOMAS)
    enrol_page = thomas.get(PAGE)
    pending, step = password_step(provider, MARY)
    status_page = mary.get(PAGE)
    before = snapshot(provider.app)
    for typed in ("\x00", "12\x003456", "123456\x00", "abcde\x00fghjk"):
        for response in (pending.submit(step, {"code": typed}),
                         thomas.submit(enrol_page, {"code": typed}, action=ENROL),
                         mary.submit(status_page, {"password": MARY.password, "code": typed},
                                     action=DISABLE)):
            assert response.status_code == 400 and "control character" in response.text
    assert snapshot(provider.app) == before


def test_malformed_codes_are_refused_with_a_sentence(provider, clock):
    enrolled(provider, MARY, clock)
    agent, step = password_step(provider, MARY)
    for typed in ("", " ", "1" * 65, "x" * 10_000):  # no code at all: not counted
        response = agent.submit(step, {"code": typed})
        assert response.status_code == 400 and "Please type the code" in alert(response)
    assert failures(provider, login_limits.account_key(MARY.email)) == 0
    wrong = ("12345", "1234567", "١٢٣٤٥٦", "abcde-fghj", "' OR 1=1 --", "é" * 6)
    for typed in wrong:  # a code, but not a right one: counted
        response = agent.submit(step, {"code": typed})
        assert response.status_code == 200 and "This code is not right" in alert(response)
    assert failures(provider, login_limits.account_key(MARY.email)) == len(wrong)
    assert len(live_sessions(provider, MARY)) == 1


# -- administrators of a customer that requires it ----------------------------------------


def test_an_administrator_without_a_second_factor_enrols_before_signing_in(provider, web,
                                                                          clock):
    require_for_administrators(provider)
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    to_login = agent.follow(agent.get("/authorize", params=authorization.params))
    after_password = agent.login(PHILIP.email, PHILIP.password, to_login)
    assert after_password.headers["Location"] == STEP
    page = agent.get(STEP)
    text = " ".join(page.text.split())
    assert "Set up two-step sign-in" in text
    assert "Smith ltd requires two-step sign-in of its administrators" in text
    assert not live_sessions(provider, PHILIP)
    # Nothing opens meanwhile.
    assert agent.get("/authorize", params=authorization.params).status_code == 302
    assert not live_sessions(provider, PHILIP)

    secret = SECRET.search(page.text).group(1).replace(" ", "")
    wrong = agent.submit(page, {"code": "12345x"})
    assert "This code is not right" in alert(wrong)
    assert person_row(provider, PHILIP).totp_secret is None
    done = agent.submit(page, {"code": code(secret, clock)})
    assert done.status_code == 200 and len(RECOVERY.findall(done.text)) == 10
    assert "you are signed in" in done.text
    continue_url = re.search(r'class="button" href="([^"]+)"', done.text).group(1)
    response = agent.follow(agent.get(html.unescape(continue_url)))
    params = query_of(response.headers["Location"])
    tokens = web.redeem(params["code"], authorization.verifier).json()
    assert jwt_claims(provider, tokens["id_token"])["amr"] == ["pwd", "otp"]
    assert ("person.second_factor_enabled", {"during": "sign-in"}) in audit(provider, PHILIP)

    # The next sign-in asks for a code.
    agent, step = password_step(provider, PHILIP)
    assert "type the 6-digit code" in step.text


def test_users_and_administrators_of_other_customers_are_not_asked(provider):
    require_for_administrators(provider)
    for person in (MARY, THOMAS):  # users of Smith ltd; Thomas administers his household
        response = UserAgent(provider.url).login(person.email, person.password)
        assert response.status_code == 303 and response.headers["Location"] == "/"


def test_a_pending_enrolment_cannot_be_skipped_either(provider, clock):
    require_for_administrators(provider)
    agent, _ = password_step(provider, PHILIP)
    with provider.app.test_request_context("/"):
        session = database.session()
        person = session.scalar(select(Person).where(Person.email == PHILIP.email))
        with pytest.raises(sessions.SecondFactorMissing):
            sessions.start(session, person, ["pwd"])
        session.rollback()
    before = snapshot(provider.app)
    assert agent.post(STEP, {"code": "123456"}).status_code == 400  # no CSRF token
    assert agent.get("/").status_code == 302
    assert snapshot(provider.app) == before


# -- turning it off, new recovery codes -------------------------------------------------------


def test_turning_it_off_needs_the_password_and_a_code(provider, clock):
    secret, codes = enrolled(provider, MARY, clock)
    agent, step = password_step(provider, MARY)
    assert agent.submit(step, {"code": code(secret, clock, 1)}).status_code == 303
    page = agent.get(PAGE)
    wrong_password = agent.submit(page, {"password": "not-her-password", "code": codes[0]},
                                  action=DISABLE)
    assert wrong_password.status_code == 400 and "password is not right" in alert(wrong_password)
    wrong_code = agent.submit(page, {"password": MARY.password, "code": "000000"},
                              action=DISABLE)
    assert wrong_code.status_code == 400 and "This code is not right" in alert(wrong_code)
    assert failures(provider, login_limits.account_key(MARY.email)) == 2
    assert person_row(provider, MARY).totp_secret is not None

    off = agent.submit(page, {"password": MARY.password, "code": codes[0]}, action=DISABLE)
    assert off.status_code == 303 and off.headers["Location"] == PAGE
    assert "You sign in with your password only" in agent.get(PAGE).text
    person = person_row(provider, MARY)
    assert person.totp_secret is None and person.totp_enabled_at is None
    assert row(provider, RecoveryCode, RecoveryCode.person_id == person.id) is None
    assert ("person.second_factor_disabled", {"how": "recovery_code"}) in audit(provider, MARY)
    response = UserAgent(provider.url).login(MARY.email, MARY.password)
    assert response.headers["Location"] == "/"


def test_new_recovery_codes_replace_the_old_ones(provider, clock):
    secret, old = enrolled(provider, MARY, clock)
    agent, step = password_step(provider, MARY)
    assert agent.submit(step, {"code": code(secret, clock, 1)}).status_code == 303
    age_login(provider, MARY)
    page = agent.get(PAGE)
    refused = agent.submit(page, {}, action=RENEW)
    assert refused.status_code == 400 and "password is not right" in alert(refused)
    done = agent.submit(page, {"password": MARY.password}, action=RENEW)
    assert done.status_code == 200
    new = RECOVERY.findall(done.text)
    assert len(new) == 10 and not set(new) & set(old)
    assert "Your earlier recovery codes no longer work." in " ".join(done.text.split())
    assert ("person.recovery_codes_renewed", {}) in audit(provider, MARY)

    other, step = password_step(provider, MARY)
    assert "This code is not right" in alert(other.submit(step, {"code": old[0]}))
    assert other.submit(step, {"code": new[0]}).status_code == 200
    assert other.get("/").status_code == 200


# -- the rules themselves (no database) ---------------------------------------------------


def test_codes_of_the_window_and_after_the_last_step():
    """Pure arithmetic on codes: the database cannot matter."""
    secret, now = pyotp.random_base32(), 1_700_000_015.0
    app = pyotp.TOTP(secret)
    step = totp.current_step(now)
    assert totp.matching_step(secret, app.at(now), now=now) == step
    assert totp.matching_step(secret, app.at(now - 30), now=now) == step - 1
    assert totp.matching_step(secret, app.at(now + 30), now=now) == step + 1
    assert totp.matching_step(secret, app.at(now - 60), now=now) is None
    assert totp.matching_step(secret, app.at(now + 60), now=now) is None
    assert totp.matching_step(secret, app.at(now), after=step, now=now) is None
    assert totp.matching_step(secret, app.at(now + 30), after=step, now=now) == step + 1
    assert totp.matching_step(secret, " " + app.at(now)[:3] + " " + app.at(now)[3:], now=now) \
        == step
    for typed in (None, 12345, "", "١٢٣٤٥٦", "1" * 1000):
        assert totp.matching_step(secret, typed, now=now) is None
