"""Passwords people run themselves (issue 13): "Forgot password?", the e-mailed
link, and changing the password while signed in; by the rules of
docs/security.md: "No user enumeration", "Throttle, never lock out", "CSRF
token on every form", "No cross-site form posts", "No control characters",
"Bad input is refused, never a 500", "Random secrets, stored hashed", "All or
nothing". Everything writes, so every test runs on SQLite and PostgreSQL.

Most tests drive the provider in-process (``app``, ``client``), sending its
e-mail to a real SMTP server (``mailbox``); those about sessions and refresh
tokens run the ``provider`` over HTTP with an independent relying party."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from flask import template_rendered
from sqlalchemy import event, select, update

from idp.account import links, password_views
from idp.account.models import AccountLink, LinkPurpose
from idp.directory.models import AuditEvent, Person, PersonStatus, utcnow
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from idp.login import login_limits
from idp.login.models import SsoSession, ThrottleCounter
from idp.outbox.delivery import deliver_due
from idp.outbox.models import OutboxMessage
from idp.protocol.tokens.models import TokenGrant
from keyholder.demo.data import load_demo_data
from tests.provider.agents import UserAgent, issued_tokens
from tests.snapshots import snapshot
from tests.support.people import MARY, PHILIP
from tests.support.saved_languages import in_english

NEW_PASSWORD = "blue kettle on a quiet hill"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
TOKEN = re.compile(r'name="token" type="hidden" value="([^"]+)"')
RESET_LINK = re.compile(r"(http://\S+/account/password/reset\?token=[\w-]+)")
SAME_ANSWER = "If an account exists for"
ANY_CSRF = re.compile(r'(<input[^>]*name="csrf_token"[^>]*?)value="[^"]*"')


@pytest.fixture(autouse=True)
def _english(request):
    """These tests read the English wording (the demo's Mary reads French, Philip Dutch)."""
    in_english(request)


@pytest.fixture
def app(app_with_mailbox):
    """The provider in-process with the demo people, its e-mail to ``mailbox``."""
    load_demo_data(app_with_mailbox)
    return app_with_mailbox


@pytest.fixture
def provider_settings(mailbox) -> dict:
    return {"SMTP_URL": mailbox.url}


# -- helpers ------------------------------------------------------------------------------

def csrf(page) -> str:
    return CSRF.search(page.text).group(1)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def ask_for_link(client, email: str, **kwargs):
    page = client.get("/account/password/forgot")
    return client.post("/account/password/forgot", data={"csrf_token": csrf(page),
                                                          "email": email}, **kwargs)


def queued_links(app, email: str) -> list[str]:
    """The reset links queued for ``email``, oldest first (read from the outbox)."""
    with database.new_session(app) as session:
        bodies = session.scalars(select(OutboxMessage.text_body).where(
            OutboxMessage.recipient == email, OutboxMessage.kind == "password.reset")
            .order_by(OutboxMessage.id)).all()
    return [RESET_LINK.search(body).group(1) for body in bodies]


def link_for(app, client, email: str) -> str:
    assert ask_for_link(client, email).status_code == 200
    return queued_links(app, email)[-1]


def set_new_password(client, link: str, password: str = NEW_PASSWORD, again: str | None = None):
    page = client.get(path_of(link))
    assert page.status_code == 200, page.text
    return client.post("/account/password/reset", data={
        "csrf_token": csrf(page), "token": TOKEN.search(page.text).group(1),
        "password": password, "again": password if again is None else again})


def same_page(text: str, address: str) -> str:
    """``text`` with the typed ``address`` and every form's CSRF token made alike."""
    return ANY_CSRF.sub(r"\1value=\"-\"", text.replace(address, "X"))


def sign_in(client, email: str, password: str):
    page = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf(page), "email": email,
                                       "password": password})


def password_works(app, email: str, password: str) -> bool:
    with app.app_context(), database.new_session(app) as session:
        person = session.scalar(select(Person).where(Person.email == email))
        return app.extensions[PASSWORDS].verify(person.password_hash, password).ok


def audit_actions(app) -> list[str]:
    with database.new_session(app) as session:
        return list(session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)))


def account_links(app, email: str) -> list[AccountLink]:
    with database.new_session(app) as session:
        return list(session.scalars(select(AccountLink).where(AccountLink.email == email)
                                    .order_by(AccountLink.id)))


def shape(statement: str) -> str:
    """A statement with the names of savepoints and their ending made alike
    (the work done for nobody is undone where the work for somebody is kept),
    and the earlier links withdrawn by the person's id or, for nobody, by the
    address (``links.issue``): one row lookup either way."""
    text = re.sub(r"sa_savepoint_\d+", "sp", " ".join(statement.split()))
    text = re.sub(r"account_link\.(person_id|email) = \S+", "account_link.<owner> = ?", text)
    return re.sub(r"^(RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT) sp$", "END SAVEPOINT sp", text)


@contextmanager
def recorded_work(app):
    """The SQL statements run and the templates rendered meanwhile."""
    work: dict[str, list[str]] = {"sql": [], "templates": []}

    def on_statement(_conn, _cursor, statement, *_args):
        work["sql"].append(shape(statement))

    def on_template(_sender, template, context, **_extra):
        work["templates"].append(template.name)

    engine = database.engine(app)
    event.listen(engine, "before_cursor_execute", on_statement)
    template_rendered.connect(on_template, app)
    try:
        yield work
    finally:
        event.remove(engine, "before_cursor_execute", on_statement)
        template_rendered.disconnect(on_template, app)


# -- "Forgot password?" -----------------------------------------------------------------------

def test_the_login_page_links_to_forgot_password(client):
    page = client.get("/login")
    assert '<a href="/account/password/forgot">Forgot password?</a>' in page.text
    forgot = client.get("/account/password/forgot")
    assert forgot.status_code == 200 and "Forgot your password?" in forgot.text
    assert 'autocomplete="username"' in forgot.text and "<script" not in forgot.text


def test_a_link_by_real_mail_sets_a_new_password_once(app, client, mailbox):
    answer = ask_for_link(client, MARY.email.upper())  # typed in another case
    assert answer.status_code == 200 and SAME_ANSWER in answer.text
    assert MARY.email in answer.text and "30 minutes" in answer.text
    assert password_works(app, MARY.email, MARY.password)  # nothing changes until the link

    assert deliver_due(app).sent == 1
    [message] = mailbox.wait_for(1)
    assert message["To"] == f"{MARY.name} <{MARY.email}>"
    assert message["Subject"] == "Choose a new password"
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = RESET_LINK.search(text).group(1)
    assert link.startswith(app.config["KEYHOLDER"].ISSUER + "/account/password/reset?token=")
    assert "works once" in text and "30 minutes" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert link.replace("&", "&amp;") in html
    # The link keeps a hash only; once the e-mail is sent, its body leaves the
    # outbox too: the secret is in no table (idp.outbox.mail.SECRET_LINK_KINDS).
    secret = link.rsplit("=", 1)[1]
    rows = {name: repr(table) for name, table in snapshot(app).items()}
    assert len(secret) >= 43 and [n for n, r in rows.items() if secret in r] == []
    [stored] = account_links(app, MARY.email)
    assert stored.token_hash == links.digest(secret)
    assert stored.expires_at - stored.created_at == timedelta(minutes=30)

    page = client.get(path_of(link))
    assert page.status_code == 200 and "Choose a new password" in page.text
    assert MARY.email in page.text and 'autocomplete="new-password"' in page.text
    done = set_new_password(client, link)
    assert done.status_code == 200, done.text
    assert "Please sign in with your new password" in done.text
    assert any(c.startswith("keyholder_sso=;") for c in done.headers.getlist("Set-Cookie"))
    assert password_works(app, MARY.email, NEW_PASSWORD)
    assert not password_works(app, MARY.email, MARY.password)
    assert account_links(app, MARY.email)[0].used_at is not None
    assert "person.password_changed" in audit_actions(app)
    # Nobody is signed in by the link; the new password signs in.
    assert client.get("/account/").status_code == 302
    assert sign_in(client, MARY.email, MARY.password).status_code == 200  # the old: refused
    assert sign_in(client, MARY.email, NEW_PASSWORD).status_code == 303

    # "Your password was changed", through the real SMTP server too.
    assert deliver_due(app).sent == 1
    changed = mailbox.wait_for(2)[1]
    assert changed["To"] == f"{MARY.name} <{MARY.email}>"
    assert changed["Subject"] == "Your password was changed"
    assert "/account/password/forgot" in changed.get_body(("plain",)).get_content()

    # The link works once.
    again = client.get(path_of(link))
    assert again.status_code == 400 and "used already" in again.text
    assert "Ask for a new link" in again.text


@pytest.mark.parametrize("who", ["unknown", "suspended"])
def test_the_same_answer_status_and_work_whether_or_not_an_account_exists(app, client, who):
    """"No user enumeration": the same page, status and work (the same SQL
    statements and templates: a link and its e-mail made, then undone for
    nobody); only a known, active person gets a link."""
    nobody = "nobody@smith-ltd.example" if who == "unknown" else PHILIP.email
    if who == "suspended":
        with database.new_session(app) as session:
            session.execute(update(Person).where(Person.email == PHILIP.email)
                            .values(status=PersonStatus.SUSPENDED))
            session.commit()
    page = client.get("/account/password/forgot")
    token = csrf(page)
    answers, works = {}, {}
    for address, ip in ((MARY.email, "198.51.100.1"), (nobody, "198.51.100.2")):
        with recorded_work(app) as work:
            answers[address] = client.post("/account/password/forgot",
                                           data={"csrf_token": token, "email": address},
                                           environ_base={"REMOTE_ADDR": ip})
        works[address] = work
    known, other = answers[MARY.email], answers[nobody]
    assert known.status_code == other.status_code == 200
    # The same page, but for the address typed and the CSRF tokens of the
    # header's forms (signed with the time: a second apart, they differ).
    assert same_page(known.text, MARY.email) == same_page(other.text, nobody)
    assert sorted(known.headers.keys()) == sorted(other.headers.keys())
    assert works[MARY.email]["templates"] == works[nobody]["templates"] == [
        "mail/password_reset.txt", "mail/password_reset.html",
        "account/password_forgot_sent.html"]
    assert works[MARY.email]["sql"] == works[nobody]["sql"]
    assert any(s.startswith("INSERT INTO account_link") for s in works[nobody]["sql"])
    assert any(s.startswith("INSERT INTO outbox_message") for s in works[nobody]["sql"])
    # What stays: Mary's link and e-mail, nothing for the other address.
    assert len(queued_links(app, MARY.email)) == 1 and queued_links(app, nobody) == []
    assert account_links(app, nobody) == []


def test_requests_are_throttled_per_typed_address_whether_or_not_it_exists(app, client):
    for address in (MARY.email, "nobody@smith-ltd.example"):
        for _ in range(password_views.RESET_PER_ADDRESS):
            assert ask_for_link(client, address).status_code == 200
        blocked = ask_for_link(client, address.upper())  # the same address, typed otherwise
        assert blocked.status_code == 429
        assert "Too many links were asked for. Please wait 60 minutes" in blocked.text
    assert len(queued_links(app, MARY.email)) == password_views.RESET_PER_ADDRESS
    # Another address is not affected.
    assert ask_for_link(client, PHILIP.email).status_code == 200
    # Not for good: once the window is over, links can be asked for again.
    with database.new_session(app) as session:
        session.execute(update(ThrottleCounter).values(
            window_start=utcnow() - password_views.RESET_WINDOW - timedelta(seconds=1),
            blocked_until=utcnow() - timedelta(seconds=1)))
        session.commit()
    assert ask_for_link(client, MARY.email).status_code == 200


def test_requests_are_throttled_per_client_address(app, client):
    office = {"REMOTE_ADDR": "203.0.113.7"}
    for i in range(password_views.RESET_PER_CLIENT):
        assert ask_for_link(client, f"guess{i}@example.com", environ_base=office
                            ).status_code == 200
    before = snapshot(app)
    blocked = ask_for_link(client, MARY.email, environ_base=office)
    assert blocked.status_code == 429
    assert snapshot(app) == before  # no link, no e-mail, no count
    # From elsewhere, Mary still gets her link; a forged X-Forwarded-For
    # (no trusted proxy) does not make the office somebody else.
    assert ask_for_link(client, MARY.email, environ_base={"REMOTE_ADDR": "203.0.113.8"}
                        ).status_code == 200
    forged = ask_for_link(client, PHILIP.email, environ_base=office,
                          headers={"X-Forwarded-For": "192.0.2.1"})
    assert forged.status_code == 429


@pytest.mark.parametrize("typed, words", [
    ("", "Please give your e-mail address."),
    ("not an address", "This is not an e-mail address"),
    ("x" * 300 + "@example.com", "This is not an e-mail address"),
])
def test_bad_addresses_get_a_message_and_change_nothing(app, client, typed, words):
    before = snapshot(app)
    answer = ask_for_link(client, typed)
    assert answer.status_code == 400 and words in answer.text
    assert 'role="alert"' in answer.text
    assert snapshot(app) == before


# -- the link --------------------------------------------------------------------------------

def test_an_expired_link_is_refused_and_changes_nothing(app, client):
    link = link_for(app, client, MARY.email)
    page = client.get(path_of(link))
    with database.new_session(app) as session:
        session.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    before = snapshot(app)
    opened = client.get(path_of(link))
    assert opened.status_code == 400 and "This link has expired" in opened.text
    assert 'href="/account/password/forgot"' in opened.text  # a way to ask a new one
    posted = client.post("/account/password/reset", data={
        "csrf_token": csrf(page), "token": TOKEN.search(page.text).group(1),
        "password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert posted.status_code == 400 and "This link has expired" in posted.text
    assert snapshot(app) == before
    assert password_works(app, MARY.email, MARY.password)


def test_a_second_link_withdraws_the_first(app, client):
    first = link_for(app, client, MARY.email)
    second = link_for(app, client, MARY.email)
    assert first != second
    opened = client.get(path_of(first))
    assert opened.status_code == 400 and "Please ask for a new one" in opened.text
    assert set_new_password(client, second).status_code == 200
    assert password_works(app, MARY.email, NEW_PASSWORD)


def test_a_used_link_cannot_be_posted_again(app, client):
    link = link_for(app, client, MARY.email)
    page = client.get(path_of(link))
    fields = {"csrf_token": csrf(page), "token": TOKEN.search(page.text).group(1),
              "password": NEW_PASSWORD, "again": NEW_PASSWORD}
    assert client.post("/account/password/reset", data=fields).status_code == 200
    before = snapshot(app)
    replay = client.post("/account/password/reset",
                         data={**fields, "password": "another long password",
                               "again": "another long password"})
    assert replay.status_code == 400 and "used already" in replay.text
    assert snapshot(app) == before
    assert password_works(app, MARY.email, NEW_PASSWORD)


@pytest.mark.parametrize("new, again, words", [
    (NEW_PASSWORD, NEW_PASSWORD + "!", "The two new passwords are not the same"),
    ("short", "short", "A password has at least 8 characters."),
    ("password1", "password1", "one of the most common ones"),
    ("", "", "Please type your new password twice."),
])
def test_bad_new_passwords_get_a_message_change_nothing_and_keep_the_link(
        app, client, new, again, words):
    link = link_for(app, client, MARY.email)
    before = snapshot(app)
    answer = set_new_password(client, link, new, again)
    assert answer.status_code == 400 and words in answer.text
    assert 'role="alert"' in answer.text and 'name="token"' in answer.text
    assert snapshot(app) == before
    assert set_new_password(client, link).status_code == 200  # the link still works


def foreign_secret(app, purpose: LinkPurpose) -> str:
    """A real link of another purpose for Mary (an invitation's has a customer)."""
    with app.app_context():
        session = database.session()
        mary = session.scalar(select(Person).where(Person.email == MARY.email))
        secret = links.issue(session, purpose, email=MARY.email, actor="operator", person=mary)
        session.commit()
    return secret


@pytest.mark.parametrize("secret", [
    "", "x", "A" * 43, "A" * 101, "é" * 43, "' OR 1=1 --", "../../etc/passwd",
    "verification", "invitation"])
def test_unknown_and_foreign_links_are_refused_and_change_nothing(app, client, secret):
    if secret in ("verification", "invitation"):
        secret = foreign_secret(app, LinkPurpose.EMAIL_VERIFICATION if secret == "verification"
                                else LinkPurpose.INVITATION)
    page = client.get("/account/password/forgot")
    before = snapshot(app)
    opened = client.get("/account/password/reset", query_string={"token": secret})
    assert opened.status_code == 400 and "This link is not valid" in opened.text
    posted = client.post("/account/password/reset", data={
        "csrf_token": csrf(page), "token": secret, "password": NEW_PASSWORD,
        "again": NEW_PASSWORD})
    assert posted.status_code == 400 and "This link is not valid" in posted.text
    assert snapshot(app) == before
    assert password_works(app, MARY.email, MARY.password)


def test_a_link_for_an_address_that_changed_since_is_refused(app, client):
    link = link_for(app, client, MARY.email)
    with database.new_session(app) as session:
        session.execute(update(Person).where(Person.email == MARY.email)
                        .values(email="mary@elsewhere.example"))
        session.commit()
    assert client.get(path_of(link)).status_code == 400


def test_nul_bytes_are_refused_at_the_edge_and_change_nothing(app, client):
    link = link_for(app, client, MARY.email)
    page = client.get(path_of(link))
    token = TOKEN.search(page.text).group(1)
    before = snapshot(app)
    for answer in (
        client.post("/account/password/forgot",
                    data={"csrf_token": csrf(page), "email": MARY.email + "\x00"}),
        client.get("/account/password/reset", query_string={"token": token + "\x00"}),
        client.post("/account/password/reset", data={
            "csrf_token": csrf(page), "token": token, "password": NEW_PASSWORD + "\x00",
            "again": NEW_PASSWORD + "\x00"}),
    ):
        assert answer.status_code == 400 and "control character" in answer.text
    assert snapshot(app) == before
    assert set_new_password(client, link).status_code == 200  # the link still works


def test_forms_without_a_csrf_token_change_nothing(app, client):
    link = link_for(app, client, MARY.email)
    token = TOKEN.search(client.get(path_of(link)).text).group(1)
    assert sign_in(client, MARY.email, MARY.password).status_code == 303
    before = snapshot(app)
    for path, fields in (
        ("/account/password/forgot", {"email": MARY.email}),
        ("/account/password/reset", {"token": token, "password": NEW_PASSWORD,
                                     "again": NEW_PASSWORD}),
        ("/account/password", {"current": MARY.password, "password": NEW_PASSWORD,
                               "again": NEW_PASSWORD}),
    ):
        answer = client.post(path, data=fields)
        assert answer.status_code == 400 and "open too long" in answer.text, path
    assert snapshot(app) == before
    assert password_works(app, MARY.email, MARY.password)


def test_cross_site_posts_change_nothing(app, client):
    link = link_for(app, client, MARY.email)
    page = client.get(path_of(link))
    assert sign_in(client, MARY.email, MARY.password).status_code == 303
    change = client.get("/account/password")
    before = snapshot(app)
    cross = {"Sec-Fetch-Site": "cross-site"}
    for path, fields in (
        ("/account/password/forgot", {"csrf_token": csrf(page), "email": MARY.email}),
        ("/account/password/reset", {"csrf_token": csrf(page),
                                     "token": TOKEN.search(page.text).group(1),
                                     "password": NEW_PASSWORD, "again": NEW_PASSWORD}),
        ("/account/password", {"csrf_token": csrf(change), "current": MARY.password,
                               "password": NEW_PASSWORD, "again": NEW_PASSWORD}),
    ):
        answer = client.post(path, data=fields, headers=cross)
        assert answer.status_code == 403, path
        assert "sent from another site" in answer.text, path
    assert snapshot(app) == before


# -- sessions and refresh tokens (over HTTP) -------------------------------------------------

def provider_link(provider, agent: UserAgent, email: str) -> str:
    page = agent.get("/account/password/forgot")
    assert agent.submit(page, {"email": email}).status_code == 200
    return queued_links(provider.app, email)[-1]


def live_sessions(app, email: str) -> list[int]:
    with database.new_session(app) as session:
        return list(session.scalars(select(SsoSession.id).join(SsoSession.person).where(
            Person.email == email, SsoSession.ended_at.is_(None))))


def test_a_reset_ends_every_session_and_refresh_token(provider, web, mailbox):
    tokens = issued_tokens(web, MARY.email, MARY.password)
    elsewhere = UserAgent(provider.url)
    assert elsewhere.login(MARY.email, MARY.password).status_code == 303
    philip = issued_tokens(web, PHILIP.email, PHILIP.password)

    browser = UserAgent(provider.url)
    assert browser.login(MARY.email, MARY.password).status_code == 303  # signed in here too
    link = provider_link(provider, browser, MARY.email)
    page = browser.get(path_of(link))
    done = browser.submit(page, {"token": TOKEN.search(page.text).group(1),
                                 "password": NEW_PASSWORD, "again": NEW_PASSWORD})
    assert done.status_code == 200 and "sign in with your new password" in done.text

    refused = web.refresh(tokens["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert web.introspect(tokens["access_token"]).json() == {"active": False}
    assert live_sessions(provider.app, MARY.email) == []
    for agent in (elsewhere, browser):  # signed out everywhere, this browser too
        assert agent.get("/account/").status_code == 302
    with database.new_session(provider.app) as session:
        revoked = session.scalars(select(TokenGrant.revoked_reason).join(
            Person, Person.id == TokenGrant.person_id).where(Person.email == MARY.email)).all()
    assert revoked and set(revoked) == {"password_changed"}
    # Somebody else's tokens are untouched.
    assert web.refresh(philip["refresh_token"]).status_code == 200
    # The new password signs in.
    assert UserAgent(provider.url).login(MARY.email, NEW_PASSWORD).status_code == 303


# -- changing the password while signed in ------------------------------------------------

def change(agent: UserAgent, current: str, new: str = NEW_PASSWORD, again: str | None = None):
    page = agent.get("/account/password")
    assert page.status_code == 200, page.text
    return agent.submit(page, {"current": current, "password": new,
                               "again": new if again is None else again})


def test_a_change_keeps_this_session_and_its_tokens_and_ends_the_others(provider, web, mailbox):
    here = UserAgent(provider.url)
    authorization = web.authorization()
    code = here.code_for(web, authorization, email=MARY.email, password=MARY.password)
    mine = web.redeem(code, authorization.verifier).json()
    others = issued_tokens(web, MARY.email, MARY.password)
    old_cookie = here.http.cookies.get("keyholder_sso")

    changed = change(here, MARY.password)
    assert changed.status_code == 200, changed.text
    assert "You are still signed in here" in changed.text
    assert "1 other sign-in ended" in changed.text

    # This browser: still signed in, with a new session secret; its tokens live on.
    assert here.get("/account/").status_code == 200
    assert here.http.cookies.get("keyholder_sso") != old_cookie
    stale = UserAgent(provider.url)
    stale.http.cookies.set("keyholder_sso", old_cookie, domain="127.0.0.1", path="/")
    assert stale.get("/account/").status_code == 302
    assert web.refresh(mine["refresh_token"]).status_code == 200
    # The other sign-in and its refresh token: ended.
    refused = web.refresh(others["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert len(live_sessions(provider.app, MARY.email)) == 1
    assert password_works(provider.app, MARY.email, NEW_PASSWORD)

    assert deliver_due(provider.app).sent == 1
    [told] = mailbox.wait_for(1)
    assert told["Subject"] == "Your password was changed"
    with database.new_session(provider.app) as session:
        event_ = session.scalars(select(AuditEvent).where(
            AuditEvent.action == "person.password_changed")).one()
    assert event_.details == {"how": "changed"}


def test_a_change_withdraws_a_reset_link_asked_for_before(app, client):
    link = link_for(app, client, MARY.email)
    assert sign_in(client, MARY.email, MARY.password).status_code == 303
    page = client.get("/account/password")
    assert client.post("/account/password", data={
        "csrf_token": csrf(page), "current": MARY.password, "password": NEW_PASSWORD,
        "again": NEW_PASSWORD}).status_code == 200
    assert client.get(path_of(link)).status_code == 400


def test_changing_needs_a_session(app, client):
    answer = client.get("/account/password")
    assert answer.status_code == 302
    assert urlsplit(answer.headers["Location"]).path == "/login"
    assert "next=" in answer.headers["Location"]
    before = snapshot(app)
    page = client.get("/account/password/forgot")
    posted = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": MARY.password, "password": NEW_PASSWORD,
        "again": NEW_PASSWORD})
    assert posted.status_code == 302 and "/login" in posted.headers["Location"]
    assert snapshot(app) == before


@pytest.mark.parametrize("current, new, again, words", [
    ("not my password", NEW_PASSWORD, NEW_PASSWORD, "Your current password is not right"),
    (MARY.password, NEW_PASSWORD, "something else", "The two new passwords are not the same"),
    (MARY.password, "short", "short", "A password has at least 8 characters."),
    (MARY.password, "", "", "Please type your current password, and the new one twice."),
])
def test_bad_changes_get_a_message_and_change_nothing(app, client, current, new, again, words):
    assert sign_in(client, MARY.email, MARY.password).status_code == 303
    page = client.get("/account/password")
    ignored = {"throttle_counter"}  # a wrong current password is counted, as at the login
    before = {k: v for k, v in snapshot(app).items() if k not in ignored}
    answer = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": current, "password": new, "again": again})
    assert answer.status_code == 400 and words in answer.text
    assert {k: v for k, v in snapshot(app).items() if k not in ignored} == before
    assert client.get("/account/").status_code == 200  # still signed in


def test_wrong_current_passwords_are_throttled_with_the_login(app, client):
    assert sign_in(client, MARY.email, MARY.password).status_code == 303
    page = client.get("/account/password")
    fields = {"csrf_token": csrf(page), "password": NEW_PASSWORD, "again": NEW_PASSWORD}
    for _ in range(login_limits.ACCOUNT_LIMIT):
        answer = client.post("/account/password", data={**fields, "current": "a guess"})
        assert answer.status_code == 400
    blocked = client.post("/account/password", data={**fields, "current": MARY.password})
    assert blocked.status_code == 429 and "Too many attempts" in blocked.text
    assert password_works(app, MARY.email, MARY.password)
    # The same counter as the login: no more guesses there either.
    assert sign_in(app.test_client(), MARY.email, MARY.password).status_code == 429


def test_the_account_home_lists_what_a_signed_in_person_can_do(client):
    assert client.get("/account/").status_code == 302
    assert sign_in(client, MARY.email, MARY.password).status_code == 303
    home = client.get("/account/")
    assert home.status_code == 200 and MARY.name in home.text
    for href in ('href="/account/password"', 'href="/account/second-factor"',
                 'href="/account/security"'):
        assert href in home.text
    assert "Send the link again" not in home.text  # Mary's address is verified
    assert home.headers["Cache-Control"] == "no-store"
