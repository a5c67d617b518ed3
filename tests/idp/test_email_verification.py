"""E-mail verification (issue 13): ``send_verification`` queues a 7-day,
single-use link (called by the operator's ``person add`` (unless ``--verified``), the
console and the account page); following it makes ``email_verified`` true,
audited. Expired, used, withdrawn, foreign and malformed links, NUL bytes and
forms without a CSRF token change nothing. Everything writes: SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, update

from idp.account import links, verification
from idp.account.models import AccountLink, LinkPurpose
from idp.account.verification import send_verification
from idp.directory.models import AuditEvent, Person, utcnow
from idp.directory.services import OPERATOR, Directory
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from idp.outbox.delivery import deliver_due
from idp.outbox.models import OutboxMessage
from tests.snapshots import snapshot

ROSE = "rose.martin@smith-ltd.example"
ROSE_PASSWORD = "rose's own long password"
CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
TOKEN = re.compile(r'name="token" type="hidden" value="([^"]+)"')
VERIFY_LINK = re.compile(r"(http://\S+/account/verify-email\?token=[\w-]+)")


@pytest.fixture
def app(app_with_mailbox):
    return app_with_mailbox


@pytest.fixture
def rose(app) -> str:
    """An unverified person, as ``keyholder person add`` makes one."""
    with app.app_context():
        session = database.session()
        Directory(session).add_person(ROSE, "Rose Martin",
                                      app.extensions[PASSWORDS].hash(ROSE_PASSWORD))
        session.commit()
    return ROSE


def csrf(page) -> str:
    return CSRF.search(page.text).group(1)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def send(app, email: str, actor: str = OPERATOR) -> bool:
    """``send_verification`` as the command line calls it: an app context, no request."""
    with app.app_context():
        session = database.session()
        database.begin_write(session)
        sent = send_verification(session, Directory(session).person(email), actor)
        session.commit()
    return sent


def queued_links(app, email: str) -> list[str]:
    with database.new_session(app) as session:
        bodies = session.scalars(select(OutboxMessage.text_body).where(
            OutboxMessage.recipient == email, OutboxMessage.kind == "email.verification")
            .order_by(OutboxMessage.id)).all()
    return [VERIFY_LINK.search(body).group(1) for body in bodies]


def verified(app, email: str) -> bool:
    with database.new_session(app) as session:
        return session.scalar(select(Person.email_verified).where(Person.email == email))


def audit(app) -> list[tuple[str, str, dict]]:
    with database.new_session(app) as session:
        return [(e.action, e.actor, e.details) for e in
                session.scalars(select(AuditEvent).order_by(AuditEvent.id))]


def follow(client, link: str):
    """Open the link, then press its button."""
    page = client.get(path_of(link))
    assert page.status_code == 200, page.text
    return client.post("/account/verify-email", data={
        "csrf_token": csrf(page), "token": TOKEN.search(page.text).group(1)})


def sign_in(client, email: str, password: str):
    page = client.get("/login")
    return client.post("/login", data={"csrf_token": csrf(page), "email": email,
                                       "password": password})


def test_the_link_arrives_by_real_mail_and_verifies_the_address(app, client, rose, mailbox):
    assert send(app, rose)
    assert deliver_due(app).sent == 1
    [message] = mailbox.wait_for(1)
    assert message["To"] == f"Rose Martin <{rose}>"
    assert message["Subject"] == "Please confirm your e-mail address"
    text = message.get_body(preferencelist=("plain",)).get_content()
    link = VERIFY_LINK.search(text).group(1)
    assert link.startswith(app.config["KEYHOLDER"].ISSUER + "/account/verify-email?token=")
    assert "(7 days)" in text
    assert link in message.get_body(preferencelist=("html",)).get_content()
    with database.new_session(app) as session:
        stored = session.scalars(select(AccountLink)).one()
    assert stored.purpose == "email_verification" and stored.expires_at - stored.created_at \
        == timedelta(days=7)
    assert stored.token_hash == links.digest(link.rsplit("=", 1)[1])

    # Opening the link changes nothing (mail scanners open links too): a button does.
    before = snapshot(app)
    page = client.get(path_of(link))
    assert page.status_code == 200 and "Confirm my e-mail address" in page.text
    assert rose in page.text
    assert snapshot(app) == before
    done = client.post("/account/verify-email", data={
        "csrf_token": csrf(page), "token": TOKEN.search(page.text).group(1)})
    assert done.status_code == 200 and "Your e-mail address is confirmed" in done.text
    assert verified(app, rose)
    actions = [(action, details) for action, _actor, details in audit(app)]
    assert ("person.verification_sent", {}) in actions
    assert ("person.email_verified", {"how": "link"}) in actions

    # Used: a second press is refused, and says why.
    again = client.get(path_of(link))
    assert again.status_code == 400 and "used already" in again.text


def test_a_verified_person_gets_no_link(app, rose):
    with database.new_session(app) as session:
        session.execute(update(Person).values(email_verified=True))
        session.commit()
    before = snapshot(app)
    assert send(app, rose) is False
    assert snapshot(app) == before


def test_an_expired_link_is_refused_and_changes_nothing(app, client, rose):
    send(app, rose)
    [link] = queued_links(app, rose)
    page = client.get(path_of(link))
    with database.new_session(app) as session:
        session.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    before = snapshot(app)
    opened = client.get(path_of(link))
    assert opened.status_code == 400 and "This link has expired" in opened.text
    assert "Send the link again" in opened.text  # where to get a new one
    posted = client.post("/account/verify-email", data={
        "csrf_token": csrf(page), "token": TOKEN.search(page.text).group(1)})
    assert posted.status_code == 400 and "This link has expired" in posted.text
    assert snapshot(app) == before
    assert not verified(app, rose)


def test_a_second_link_withdraws_the_first(app, client, rose):
    send(app, rose)
    send(app, rose)
    first, second = queued_links(app, rose)
    assert client.get(path_of(first)).status_code == 400
    assert follow(client, second).status_code == 200
    assert verified(app, rose)


def test_a_link_for_an_address_that_changed_since_is_refused(app, client, rose):
    send(app, rose)
    [link] = queued_links(app, rose)
    with database.new_session(app) as session:
        session.execute(update(Person).values(email="rose@elsewhere.example"))
        session.commit()
    before = snapshot(app)
    assert client.get(path_of(link)).status_code == 400
    assert snapshot(app) == before


@pytest.mark.parametrize("secret", ["", "A" * 43, "A" * 101, "ü" * 43, "' OR ''='",
                                    "password_reset", "invitation"])
def test_unknown_and_foreign_links_are_refused_and_change_nothing(app, client, rose, secret):
    if secret in ("password_reset", "invitation"):
        with app.app_context():
            session = database.session()
            person = Directory(session).person(rose)
            secret = links.issue(session, LinkPurpose(secret), email=rose, actor=OPERATOR,
                                 person=person)
            session.commit()
    page = client.get("/account/password/forgot")
    before = snapshot(app)
    opened = client.get("/account/verify-email", query_string={"token": secret})
    assert opened.status_code == 400 and "This link is not valid" in opened.text
    posted = client.post("/account/verify-email",
                         data={"csrf_token": csrf(page), "token": secret})
    assert posted.status_code == 400 and "This link is not valid" in posted.text
    assert snapshot(app) == before


def test_nul_bytes_csrf_and_cross_site_posts_change_nothing(app, client, rose):
    send(app, rose)
    [link] = queued_links(app, rose)
    page = client.get(path_of(link))
    token = TOKEN.search(page.text).group(1)
    before = snapshot(app)
    nul = client.get("/account/verify-email", query_string={"token": token + "\x00"})
    assert nul.status_code == 400 and "control character" in nul.text
    no_csrf = client.post("/account/verify-email", data={"token": token})
    assert no_csrf.status_code == 400 and "open too long" in no_csrf.text
    cross = client.post("/account/verify-email", data={"csrf_token": csrf(page), "token": token},
                        headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.status_code == 403 and "another site" in cross.text
    assert snapshot(app) == before
    assert follow(client, link).status_code == 200  # the link still works


def test_a_password_reset_link_verifies_the_address_too(app, client, rose):
    page = client.get("/account/password/forgot")
    client.post("/account/password/forgot", data={"csrf_token": csrf(page), "email": rose})
    with database.new_session(app) as session:
        body = session.scalars(select(OutboxMessage.text_body)).one()
    link = re.search(r"http://\S+/account/password/reset\?token=[\w-]+", body).group(0)
    reset = client.get(path_of(link))
    done = client.post("/account/password/reset", data={
        "csrf_token": csrf(reset), "token": TOKEN.search(reset.text).group(1),
        "password": "a brand new passphrase", "again": "a brand new passphrase"})
    assert done.status_code == 200, done.text
    assert verified(app, rose)
    assert ("person.email_verified", {"how": "password_reset"}) in \
        [(action, details) for action, _actor, details in audit(app)]


# -- "Send the link again" on the account page ---------------------------------------------

def test_the_account_page_sends_the_link_again_throttled(app, client, rose):
    assert sign_in(client, rose, ROSE_PASSWORD).status_code == 303
    home = client.get("/account/")
    assert home.status_code == 200 and "not verified yet" in home.text
    for _ in range(verification.RESEND_PER_PERSON):
        sent = client.post("/account/verify-email/send", data={"csrf_token": csrf(home)})
        assert sent.status_code == 200 and f"We sent a new link to {rose}" in sent.text
    assert len(queued_links(app, rose)) == verification.RESEND_PER_PERSON
    before = snapshot(app)
    blocked = client.post("/account/verify-email/send", data={"csrf_token": csrf(home)})
    assert blocked.status_code == 429 and "Please wait 60 minutes" in blocked.text
    no_csrf = client.post("/account/verify-email/send")
    assert no_csrf.status_code == 400 and "open too long" in no_csrf.text
    assert snapshot(app) == before
    # Only the newest link works.
    links_sent = queued_links(app, rose)
    assert client.get(path_of(links_sent[0])).status_code == 400
    assert follow(client, links_sent[-1]).status_code == 200
    home = client.get("/account/")
    assert "not verified yet" not in home.text


def test_sending_again_needs_a_session(app, client, rose):
    page = client.get("/account/password/forgot")
    before = snapshot(app)
    answer = client.post("/account/verify-email/send", data={"csrf_token": csrf(page)})
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert snapshot(app) == before
