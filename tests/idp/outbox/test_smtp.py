"""The SMTP side of the outbox: URL forms, TLS, AUTH, and failures that say
why without the password."""

from __future__ import annotations

import re
import socket
import time
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from idp.outbox.compose import InvalidMailFrom, Sender
from idp.outbox.smtp import (
    ConnectFailed,
    Courier,
    InvalidSmtpUrl,
    PermanentRejection,
    SmtpEndpoint,
    TemporaryRejection,
)
from tests.support.certificates import make_certificates
from tests.support.mailbox import Mailbox


@pytest.mark.parametrize(("url", "expected"), [
    ("smtp://127.0.0.1:8025", ("smtp", "127.0.0.1", 8025, None, None)),
    ("smtp://relay.example", ("smtp", "relay.example", 25, None, None)),
    ("smtp+starttls://mail.example", ("smtp+starttls", "mail.example", 587, None, None)),
    ("smtps://mail.example", ("smtps", "mail.example", 465, None, None)),
    ("smtps://no-reply%40example.com:p%40ss%3Aw%2Frd@mail.example:2465",
     ("smtps", "mail.example", 2465, "no-reply@example.com", "p@ss:w/rd")),
    ("smtp://user:secret@localhost:2525", ("smtp", "localhost", 2525, "user", "secret")),
    ("smtp+starttls://user:@mail.example", ("smtp+starttls", "mail.example", 587, "user", "")),
])
def test_smtp_url_forms(url, expected):
    point = SmtpEndpoint.parse(url)
    assert (point.scheme, point.host, point.port, point.username, point.password) == expected
    if point.password:
        assert point.password not in repr(point)


@pytest.mark.parametrize(("url", "problem"), [
    ("http://mail.example", "must start with smtp://"),
    ("mail.example:25", "must start with smtp://"),
    ("smtp://", "names no host"),
    ("smtp://mail.example:99999", "not a valid URL"),
    ("smtp://mail.example/inbox", "no path"),
    ("smtps://:secret@mail.example", "a password but no user"),
    ("smtp://user:hunter22@mail.example", "use smtps:// or smtp+starttls://"),
])
def test_unusable_smtp_urls_are_refused_without_the_password(url, problem):
    with pytest.raises(InvalidSmtpUrl, match=re.escape(problem)) as refused:
        SmtpEndpoint.parse(url)
    assert "secret" not in str(refused.value) and "hunter22" not in str(refused.value)


def test_mail_from_must_be_an_address():
    assert Sender.parse("Keyholder <No-Reply@Example.COM>").domain == "example.com"
    with pytest.raises(InvalidMailFrom):
        Sender.parse("Keyholder")


def a_message() -> EmailMessage:
    email = EmailMessage()
    email["Message-ID"] = "<outbox-1@keyholder.localhost>"
    email["From"] = "no-reply@keyholder.localhost"
    email["To"] = "mary@example.com"
    email["Subject"] = "Hello"
    email["Date"] = datetime.now(UTC)
    email.set_content("Hello\n")
    return email


def send_through(url: str) -> None:
    with Courier(SmtpEndpoint.parse(url), "keyholder.localhost") as courier:
        courier.connect()
        courier.send(a_message(), "no-reply@keyholder.localhost", "mary@example.com")


@pytest.fixture
def certificates(tmp_path, monkeypatch):
    tls = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))  # as an operator's private CA
    return tls


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "smtps"])
def test_tls_with_a_utf8_password(certificates, implicit):
    password = "pässword:/@"
    box = Mailbox(credentials=("keyholder", password), tls_context=certificates.server_context,
                  implicit_tls=implicit)
    with box:
        assert box.url.startswith("smtps://" if implicit else "smtp+starttls://")
        send_through(box.url.replace("://", "://keyholder:p%C3%A4ssword%3A%2F%40@"))
        [received] = box.received
    assert received.authenticated_as == "keyholder"
    assert received.message["Subject"] == "Hello"


def test_starttls_is_required_not_hoped_for():
    with Mailbox() as plain:  # offers no STARTTLS
        with pytest.raises(ConnectFailed, match="STARTTLS extension not supported"):
            send_through(plain.url.replace("smtp://", "smtp+starttls://"))
        assert plain.messages == []


def test_an_untrusted_certificate_is_refused(tmp_path):
    tls = make_certificates(tmp_path)  # its CA is not trusted here
    with (Mailbox(tls_context=tls.server_context, implicit_tls=True) as box,
          pytest.raises(ConnectFailed, match="CERTIFICATE_VERIFY_FAILED")):
        send_through(box.url)


def test_a_wrong_password_is_reported_without_it():
    with (Mailbox(credentials=("keyholder", "right-password")) as box,
          pytest.raises(ConnectFailed) as failed):
        send_through(f"smtp://keyholder:wrong-password@{box.host}:{box.port}")
    assert "535" in failed.value.reason and "wrong-password" not in failed.value.reason


def test_replies_to_a_message_are_temporary_or_permanent():
    with Mailbox() as box:
        box.reject("mary@example.com", "452 4.2.2 Over quota")
        with pytest.raises(TemporaryRejection, match=re.escape("452 4.2.2 Over quota")):
            send_through(box.url)
        box.reject("mary@example.com", "554 5.7.1 Relay access denied")
        with pytest.raises(PermanentRejection, match=re.escape("554 5.7.1 Relay access denied")):
            send_through(box.url)


def test_a_server_that_never_answers_times_out():
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        courier = Courier(SmtpEndpoint.parse(f"smtp://127.0.0.1:{port}"), "keyholder.localhost",
                          timeout=0.3)
        started = time.monotonic()
        with pytest.raises(ConnectFailed, match="timed out"):
            courier.connect()
        assert time.monotonic() - started < 3
        assert not courier.connected
