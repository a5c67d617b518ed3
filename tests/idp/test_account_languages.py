"""The account pages and the provider's e-mails in the person's language
(issue 14): a person who reads Dutch gets the password-reset e-mail in Dutch,
one who reads French in French, through a real SMTP server; the account pages
follow the saved language; the QR code page and the recovery codes in Dutch;
a failed form's error summary, in the page's language, with its field marked.

"No English left" is checked against the same e-mail or page rendered in
English: no sentence of it may remain. Everything writes, so every test runs
on SQLite and PostgreSQL."""

from __future__ import annotations

import html
import re
from datetime import UTC
from zoneinfo import ZoneInfo

import pyotp
import pytest
from babel.dates import format_date, format_time
from sqlalchemy import select

from idp.account.models import AccountLink
from idp.infrastructure import database
from idp.outbox.delivery import deliver_due
from keyholder.demo.data import load_demo_data
from tests.support.people import MARY, PHILIP, THOMAS
from tests.support.saved_languages import save_language

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
TOKEN = re.compile(r'name="token" type="hidden" value="([^"]+)"')
RESET_LINK = re.compile(r"(http://\S+/account/password/reset\?token=[\w-]+)")
SECRET = re.compile(r'id="totp-secret">([^<]+)<')
RECOVERY = re.compile(r"<li><code>([^<]+)</code></li>")
MAIN = re.compile(r"<main\b.*?</main>", re.S)
URL_OR_ADDRESS = re.compile(r"\S+@\S+|https?://\S+")
SUMMARY = '<div class="error-summary" role="alert" tabindex="-1" autofocus id="form-message">'


@pytest.fixture
def app(app_with_mailbox):
    load_demo_data(app_with_mailbox)
    return app_with_mailbox


# -- helpers --------------------------------------------------------------------------


def csrf(page) -> str:
    return CSRF.search(page.text).group(1)


def sign_in(client, email: str, password: str) -> None:
    page = client.get("/login")
    answer = client.post("/login", data={"csrf_token": csrf(page), "email": email,
                                         "password": password})
    assert answer.status_code == 303, answer.text[:300]


def sentences(text: str) -> set[str]:
    """The sentences of a text (3 words or more, some in lower case: not a
    secret's groups), without addresses and links."""
    text = URL_OR_ADDRESS.sub(" ", html.unescape(text))
    pieces = re.split(r"(?<=[.:?!])\s+|\n+|<[^>]+>", text)
    return {" ".join(p.split()) for p in pieces
            if len(p.split()) >= 3 and re.search(r"[a-z]{2}", p)}


def page_sentences(page) -> set[str]:
    return sentences(MAIN.search(page.text).group(0))


def reset_mail(app, client, mailbox, person, expected: int):
    """Ask for ``person``'s reset link and receive its e-mail over SMTP."""
    page = client.get("/account/password/forgot")
    assert client.post("/account/password/forgot", data={
        "csrf_token": csrf(page), "email": person.email}).status_code == 200
    assert deliver_due(app).sent == 1
    return mailbox.wait_for(expected)[-1]


def local_until(app, email: str, locale: str) -> tuple[str, str]:
    """The link's end, as a person in the customer's time zone reads it."""
    with database.new_session(app) as session:
        expires = session.scalars(select(AccountLink.expires_at).where(
            AccountLink.email == email).order_by(AccountLink.id.desc())).first()
    zone = ZoneInfo(app.config["BABEL_DEFAULT_TIMEZONE"])
    moment = (expires if expires.tzinfo else expires.replace(tzinfo=UTC)).astimezone(zone)
    return (format_date(moment, "long", locale=locale),
            format_time(moment, "short", locale=locale))


# -- e-mails ---------------------------------------------------------------------------


@pytest.mark.parametrize("language, locale, subject, greeting", [
    ("nl", "nl_BE", "Kies een nieuw wachtwoord", "Beste"),
    ("fr", "fr_BE", "Choisir un nouveau mot de passe", "Bonjour"),
])
def test_the_reset_email_is_in_the_recipient_language(app, client, mailbox, language, locale,
                                                      subject, greeting):
    save_language(app, "en", THOMAS.email)
    save_language(app, language, PHILIP.email)
    english = reset_mail(app, client, mailbox, THOMAS, 1)
    mail = reset_mail(app, client, mailbox, PHILIP, 2)

    assert english["Subject"] == "Choose a new password"
    assert mail["Subject"] == subject
    text = mail.get_body(("plain",)).get_content()
    body = mail.get_body(("html",)).get_content()
    assert text.startswith(f"{greeting} {PHILIP.name},")
    assert f'<html lang="{locale.replace("_", "-")}">' in body
    # The link's end in local time, written the way of the language.
    day, time = local_until(app, PHILIP.email, locale)
    for part in (text, body):
        assert day in part and time in part
        assert "Keyholder" not in part and "MyProximus" in part
    # Not one English sentence is left, in the text or in the HTML.
    english_text = english.get_body(("plain",)).get_content()
    english_html = english.get_body(("html",)).get_content()
    assert sentences(english_text) and sentences(english_html)
    assert sentences(text) & sentences(english_text) == set()
    assert sentences(body) & sentences(english_html) == set()

    # The e-mailed link opens the reset page, in the person's language too
    # (the saved language applies to a visitor only once signed in: here the
    # browser says which one it reads).
    link = RESET_LINK.search(text).group(1)
    assert link.replace("&", "&amp;") in body
    opened = app.test_client().get(link[link.index("/account"):],
                                   headers={"Accept-Language": language})
    assert opened.status_code == 200 and PHILIP.email in opened.text
    assert f'lang="{locale.replace("_", "-")}"' in opened.text


def test_the_password_changed_email_is_in_the_recipient_language(app, client, mailbox):
    save_language(app, "fr", MARY.email)
    sign_in(client, MARY.email, MARY.password)
    page = client.get("/account/password")
    new = "a long walk by the river"
    done = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": MARY.password, "password": new, "again": new})
    assert done.status_code == 200 and "Votre mot de passe est modifié" in done.text
    assert deliver_due(app).sent == 1
    [mail] = mailbox.wait_for(1)
    assert mail["Subject"] == "Votre mot de passe a été modifié"
    text = mail.get_body(("plain",)).get_content()
    assert f"Le mot de passe de votre identifiant {MARY.email} a été modifié le " in text
    assert "/account/password/forgot" in text  # the way back, if it was not her


# -- pages -----------------------------------------------------------------------------

ACCOUNT_PAGES = ("/account/", "/account/password", "/account/security",
                 "/account/second-factor")


def test_the_account_pages_follow_the_saved_language(app, client):
    sign_in(client, MARY.email, MARY.password)
    save_language(app, "en", MARY.email)
    english = {path: client.get(path, headers={"Accept-Language": "en"})
               for path in ACCOUNT_PAGES}
    save_language(app, "fr", MARY.email)
    for path in ACCOUNT_PAGES:
        page = client.get(path, headers={"Accept-Language": "fr"})
        assert page.status_code == english[path].status_code == 200, path
        assert '<html lang="fr-BE">' in page.text, path
        assert page_sentences(english[path]), path
        assert page_sentences(page) & page_sentences(english[path]) == set(), path
    home = client.get("/account/", headers={"Accept-Language": "fr"})
    assert "Ce que vous pouvez faire" in home.text and "Modifier votre mot de passe" in home.text
    security = client.get("/account/security", headers={"Accept-Language": "fr"})
    assert "Où vous êtes connecté" in security.text and "Activité récente" in security.text
    # The sign-in's detail in the activity, in French too.
    assert "sur le web, avec mot de passe" in security.text
    assert "(ce navigateur)" in security.text


def test_a_failed_form_has_a_focused_error_summary_in_the_page_language(app, client):
    save_language(app, "fr", MARY.email)
    sign_in(client, MARY.email, MARY.password)
    page = client.get("/account/password")
    answer = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": "not my password", "password": "x" * 12,
        "again": "x" * 12})
    assert answer.status_code == 400
    assert (SUMMARY + "Votre mot de passe actuel n'est pas correct : rien n'a donc été "
            "modifié.</div>") in html.unescape(answer.text)
    current = re.search(r'<input id="current"[^>]*>', answer.text).group(0)
    assert 'aria-invalid="true"' in current and 'aria-describedby="form-message"' in current
    assert "autofocus" not in current  # the summary has the focus
    again = re.search(r'<input id="again"[^>]*>', answer.text).group(0)
    assert "aria-invalid" not in again
    # The policy's refusal, in French, on the new password's field.
    page = client.get("/account/password")
    short = client.post("/account/password", data={
        "csrf_token": csrf(page), "current": MARY.password, "password": "short",
        "again": "short"})
    assert "Un mot de passe compte au moins 8 caractères." in short.text
    field = re.search(r'<input id="password"[^>]*>', short.text).group(0)
    assert 'aria-invalid="true"' in field and "form-message" in field


def test_the_qr_code_and_the_recovery_codes_in_dutch(app, client):
    save_language(app, "nl", PHILIP.email)
    sign_in(client, PHILIP.email, PHILIP.password)
    page = client.get("/account/second-factor")
    assert page.status_code == 200 and '<html lang="nl-BE">' in page.text
    assert "Stel aanmelden in twee stappen in" in page.text
    assert f"QR-code voor MyProximus ({PHILIP.email})" in page.text
    assert "<title>QR-code voor uw authenticator-app</title>" in page.text
    assert "Keyholder" not in page.text
    secret = SECRET.search(page.text).group(1).replace(" ", "")

    wrong = client.post("/account/second-factor/enrol", data={
        "csrf_token": csrf(page), "code": "12345"})
    assert wrong.status_code == 400
    assert SUMMARY + "Deze code klopt niet." in html.unescape(wrong.text)
    assert re.search(r'<input id="code"[^>]*aria-invalid="true"', wrong.text)

    done = client.post("/account/second-factor/enrol", data={
        "csrf_token": csrf(page), "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, done.text[:500]
    assert '<html lang="nl-BE">' in done.text
    assert "Uw herstelcodes" in done.text and "Aanmelden in twee stappen staat aan." in done.text
    assert "Schrijf ze nu op of druk ze af" in done.text
    assert len(RECOVERY.findall(done.text)) == 10
    status = client.get("/account/second-factor")
    text = " ".join(status.text.split())
    assert "U hebt nog 10 herstelcodes." in text
    assert "Aanmelden in twee stappen staat <strong>aan</strong> sinds" in text
