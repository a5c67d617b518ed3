"""Login and the SSO session, by the rules of docs/security.md: "303 after a
POST", "Strict cookies", "Server-side sessions", "CSRF token on every form",
"Locked-down pages", "No user enumeration", "Throttle, never lock out",
"Client IP only from a trusted proxy", "argon2id, rehashed when parameters
rise" and "No tokens in logs or URLs"."""

import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from idp.directory.models import Person, utcnow
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from idp.login import login_limits
from idp.login.models import ThrottleCounter
from keyholder.demo.data import PEOPLE
from tests.provider.agents import UserAgent, query_of
from tests.snapshots import snapshot

MARY = next(p for p in PEOPLE if p.name == "Mary Jones")
PHILIP = next(p for p in PEOPLE if p.name == "Philip Smith")
WRONG = "The e-mail address or the password is not right."


def sso_cookie(agent: UserAgent) -> str | None:
    return agent.http.cookies.get("keyholder_sso", domain="127.0.0.1")


def plant(agent: UserAgent, value: str) -> None:
    agent.http.cookies.set("keyholder_sso", value, domain="127.0.0.1", path="/")


def test_login_answers_303_and_sets_a_strict_cookie(provider):
    agent = UserAgent(provider.url)
    response = agent.login(MARY.email, MARY.password)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    sso = next(c for c in response.raw.headers.getlist("Set-Cookie") if "keyholder_sso" in c)
    assert "HttpOnly" in sso and "SameSite=Lax" in sso and "Path=/" in sso
    assert "Secure" not in sso  # plain http on loopback: the local demo
    assert cookie


def test_outside_loopback_cookies_are_secure_and_host_prefixed(make_app, database_url, tmp_path):
    from idp.keys import key_store
    from keyholder.demo.data import load_demo_data

    app = make_app(database_url, ISSUER="https://id.example.com")
    key_store(app).ensure()
    load_demo_data(app)
    client = app.test_client()
    page = client.get("/login", base_url="https://id.example.com")
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    response = client.post("/login", base_url="https://id.example.com",
                           headers={"Referer": "https://id.example.com/login"},
                           data={"csrf_token": csrf, "email": MARY.email,
                                 "password": MARY.password})
    assert response.status_code == 303
    cookies = response.headers.getlist("Set-Cookie")
    sso = next(c for c in cookies if c.startswith("__Host-keyholder_sso="))
    assert "Secure" in sso and "HttpOnly" in sso and "SameSite=Lax" in sso and "Path=/" in sso
    assert "Domain" not in sso
    state = next(c for c in page.headers.getlist("Set-Cookie")
                 if c.startswith("__Host-keyholder_state="))
    assert "Secure" in state and "HttpOnly" in state


def test_every_login_makes_a_new_session(provider, web):
    agent = UserAgent(provider.url)
    agent.login(MARY.email, MARY.password)
    first = sso_cookie(agent)
    agent.login(MARY.email, MARY.password)
    second = sso_cookie(agent)
    assert first and second and first != second
    old = UserAgent(provider.url)
    plant(old, first)
    silent = old.authorize(web.authorization(prompt="none"))
    assert query_of(silent.headers["Location"])["error"] == "login_required"


def test_a_planted_session_id_is_not_adopted(provider, web):
    agent = UserAgent(provider.url)
    plant(agent, "attacker-chosen-value")
    agent.login(MARY.email, MARY.password)
    assert sso_cookie(agent) != "attacker-chosen-value"


def test_logout_ends_the_session(provider, web):
    agent = UserAgent(provider.url)
    agent.login(MARY.email, MARY.password)
    cookie = sso_cookie(agent)
    page = agent.get("/")
    assert MARY.name in page.text
    out = agent.submit(page, {}, action="/logout")
    assert out.status_code == 200 and "Vous êtes déconnecté" in out.text  # Mary reads French
    replay = UserAgent(provider.url)
    plant(replay, cookie)
    assert replay.get("/").headers["Location"].endswith("/login")


def test_logout_without_hint_asks_first(provider, web):
    agent = UserAgent(provider.url)
    agent.login(MARY.email, MARY.password)
    page = agent.get("/logout")  # e.g. a link planted on another site
    assert page.status_code == 200 and "Se déconnecter ?" in page.text  # Mary reads French
    assert agent.get("/").status_code == 200  # still signed in
    forged = agent.post("/logout", {})  # no CSRF token
    assert "Se déconnecter ?" in forged.text and agent.get("/").status_code == 200


def test_login_without_csrf_token_is_refused(provider):
    agent = UserAgent(provider.url)
    agent.get("/login")
    response = agent.post("/login", {"email": MARY.email, "password": MARY.password})
    assert response.status_code == 400
    assert "open too long" in response.text
    assert sso_cookie(agent) is None


def test_pages_cannot_be_framed_and_leak_no_referrer(provider):
    page = UserAgent(provider.url).get("/login")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"


def test_login_page_loads_nothing_from_elsewhere(provider):
    page = UserAgent(provider.url).get("/login")
    for url in re.findall(r'(?:src|href|action)="([^"]*)"', page.text):
        parts = urlsplit(url)
        assert not parts.netloc or parts.netloc == urlsplit(provider.url).netloc, url
    assert "<script" not in page.text
    assert 'autocomplete="current-password"' in page.text and 'for="email"' in page.text


@pytest.mark.parametrize("email", [MARY.email, "nobody@smith-ltd.example"])
def test_no_user_enumeration_by_message_or_status(provider, email):
    response = UserAgent(provider.url).login(email, "not the password")
    assert response.status_code == 200
    assert WRONG in response.text


class CountingHasher(PasswordHasher):
    """The real argon2 hasher, counting its verifications."""

    calls: list[str]

    def verify(self, hash, password):
        self.calls.append(hash)
        return super().verify(hash, password)


def test_unknown_accounts_cost_one_argon2_verification_too(provider):
    passwords = provider.app.extensions[PASSWORDS]
    counting = CountingHasher(time_cost=1, memory_cost=8, parallelism=1)
    counting.calls = []
    passwords._hasher = counting
    UserAgent(provider.url).login("nobody@smith-ltd.example", "whatever password")
    UserAgent(provider.url).login(MARY.email, "wrong password")
    assert len(counting.calls) == 2 and all(c.startswith("$argon2id$") for c in counting.calls)


def test_throttling_per_account_blocks_then_lets_go(provider):
    for _ in range(login_limits.ACCOUNT_LIMIT):
        assert WRONG in UserAgent(provider.url).login(MARY.email, "guess").text
    blocked = UserAgent(provider.url).login(MARY.email, MARY.password)
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    assert "minutes" in blocked.text
    # Another account is not affected.
    assert UserAgent(provider.url).login(PHILIP.email, PHILIP.password).status_code == 303
    # Not for good: once the window is over, the right password works again.
    with provider.app.app_context():
        session = database.session()
        session.execute(update(ThrottleCounter).values(
            window_start=utcnow() - login_limits.WINDOW - timedelta(seconds=1),
            blocked_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert UserAgent(provider.url).login(MARY.email, MARY.password).status_code == 303


def test_throttling_per_address_and_forged_forwarded_for_changes_nothing(provider):
    for i in range(login_limits.ADDRESS_LIMIT):
        agent = UserAgent(provider.url)
        agent.http.headers["X-Forwarded-For"] = f"203.0.113.{i % 250}"
        agent.login(f"guess{i}@example.com", "guess")
    blocked = UserAgent(provider.url).login(PHILIP.email, PHILIP.password)
    assert blocked.status_code == 429
    with provider.app.app_context():
        keys = set(database.session().scalars(select(ThrottleCounter.key)))
    assert login_limits.address_key("127.0.0.1") in keys
    assert not any("203.0.113" in k for k in keys)


def test_password_rehashed_at_login_when_parameters_rise(provider, make_app, database_url):
    UserAgent(provider.url).login(MARY.email, MARY.password)
    with provider.app.app_context():
        before = database.session().scalar(select(Person.password_hash)
                                           .where(Person.email == MARY.email))
    stronger = make_app(database_url, KEYS_DIR=provider.app.config["KEYHOLDER"].KEYS_DIR,
                        ISSUER=provider.url, PASSWORD_TIME_COST=2)
    client = stronger.test_client()
    page = client.get("/login")
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    assert client.post("/login", data={"csrf_token": csrf, "email": MARY.email,
                                       "password": MARY.password}).status_code == 303
    with stronger.app_context():
        after = database.session().scalar(select(Person.password_hash)
                                          .where(Person.email == MARY.email))
    assert after != before and "t=2" in after and "t=1" in before


def test_no_secret_in_logs_or_database(provider, web, caplog):
    caplog.set_level(logging.DEBUG)
    agent = UserAgent(provider.url)
    authorization = web.authorization()
    code = agent.code_for(web, authorization, email=MARY.email, password=MARY.password)
    tokens = web.redeem(code, authorization.verifier).json()
    refreshed = web.refresh(tokens["refresh_token"]).json()
    agent.get("/logout", params={"id_token_hint": tokens["id_token"]})
    secrets_seen = [code, tokens["access_token"], tokens["refresh_token"], tokens["id_token"],
                    refreshed["refresh_token"], web.client_secret, MARY.password,
                    sso_cookie(agent)]
    # The provider's records only (the test's own HTTP client logs its URLs).
    log_text = "\n".join(r.getMessage() for r in caplog.records
                         if not r.name.startswith("urllib3"))
    rows = repr(snapshot(provider.app))
    for secret in filter(None, secrets_seen):
        assert secret not in log_text
        assert secret not in rows
    # 256-bit random values: 43 URL-safe characters.
    assert min(len(code), len(tokens["refresh_token"]), len(web.client_secret)) >= 43
