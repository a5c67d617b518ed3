"""Issue 14's journey in a real browser, in French and in Dutch, every partner
service running as in the demo, the e-mails through a real SMTP server.

- Mary's browser asks for English, but she signs in with ``ui_locales=fr``:
  the login page is French. Her portal is French (her saved language); she
  becomes *administrateur* from its "More functionalities" box.
- Philip (saved language Dutch) gets the e-mail in Dutch, follows "undo",
  signs in afresh and confirms: Mary is *utilisateur* again.
- Mary's next introspection says ``user``.

The expected words are read from the committed catalogues (never written
here), so the test fails when a page is not in the language asked for.
Screenshots go to KEYHOLDER_TEST_SCREENSHOTS (docs/screenshots for the README)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from babel.support import Translations
from playwright.sync_api import expect

from idp.i18n import catalogues
from idp.outbox.delivery import deliver_due
from keyholder.demo import launcher as services_demo
from keyholder.demo import mailbox as demo_mailbox
from tests.provider.agents import UserAgent
from tests.support.people import MARY, PHILIP
from tests.support.ports import free_range

expect.set_options(timeout=20_000)
ROOT = Path(__file__).resolve().parents[2]
UNDO_LINK = re.compile(r"http://\S+/console/undo-promotion\?token=[A-Za-z0-9_-]+")


def words(package: str, language: str):
    """``gettext`` of a package's committed catalogue in ``language``."""
    folder = catalogues.compiled([ROOT / package])[0]
    return Translations.load(str(folder), [language]).gettext


@pytest.fixture
def provider_settings(mailbox):
    return {"DEMO_PORTS_FROM": free_range(7), "SMTP_URL": mailbox.url}


@pytest.fixture
def services(provider, monkeypatch):
    # The test's own SMTP server takes the e-mails: the demo's is not started.
    monkeypatch.setattr(demo_mailbox.DemoMailbox, "start", lambda box: box)
    monkeypatch.setattr(demo_mailbox.DemoMailbox, "stop", lambda box: None)
    running, stop = services_demo.start(provider.app, "127.0.0.1")
    yield {service.name: service.url for service in running}
    stop()


def new_page(chromium, accept: str):
    page = chromium.new_context(locale=accept, viewport={"width": 1100, "height": 900}) \
        .new_page()
    page.set_default_timeout(20_000)
    return page


def sign_in(page, person) -> None:
    page.locator("input[name=email]").fill(person.email)
    page.locator("input[name=password]").fill(person.password)
    page.locator("main form button[type=submit]").first.click()


def html_lang(page) -> str:
    return page.locator("html").get_attribute("lang")


def test_french_and_dutch_from_sign_in_to_undo(chromium, provider, services, mailbox,
                                               screenshots, caplog):
    caplog.set_level(logging.DEBUG)  # every log line of the journey, ours and the libraries'

    fr_idp, fr_console = words("idp", "fr"), words("admin_console", "fr")
    fr_portal, nl_console = words("services", "fr"), words("admin_console", "nl")
    nl_idp = words("idp", "nl")

    # Mary's browser speaks English; the service asks the provider for French.
    mary = new_page(chromium, "en-GB")
    mary.goto(services["portal"] + "/login?ui_locales=fr")
    expect(mary.locator("input[name=email]")).to_be_visible()
    assert html_lang(mary) == "fr-BE"
    expect(mary.locator("main")).to_contain_text(fr_idp("Password"))
    mary.screenshot(path=str(screenshots / "login-fr.png"))
    sign_in(mary, MARY)

    # Her portal, in French: the role, and the box that leads to the console.
    expect(mary.get_by_role("heading", name=fr_portal("More functionalities"))).to_be_visible()
    assert html_lang(mary) == "fr-BE"
    expect(mary.locator("main")).to_contain_text(fr_idp("user"))
    mary.screenshot(path=str(screenshots / "portal-fr.png"), full_page=True)
    mary.get_by_role("link", name=fr_portal("Become administrator")).click()
    expect(mary.get_by_role("heading", name=fr_console("Become administrator"))).to_be_visible()
    assert html_lang(mary) == "fr-BE"
    mary.get_by_label(fr_console("Customer number")).fill("123 456 789")
    mary.get_by_role("button", name=fr_console("Become administrator")).click()
    expect(mary.locator("#role")).to_have_text(fr_idp("administrator"))  # administrateur

    # Philip's notice, in Dutch, with the undo link.
    with provider.app.app_context():
        deliver_due(provider.app)
    messages = mailbox.wait_for(2)
    [notice] = [m for m in messages if m["To"].addresses[0].addr_spec == PHILIP.email]
    expected = nl_console("%(name)s became an administrator of customer %(number)s") % {
        "name": MARY.name, "number": "123456789"}
    assert notice["Subject"] == expected
    assert expected != "Mary Jones became an administrator of customer 123456789"
    text = notice.get_body(("plain",)).get_content()
    link = UNDO_LINK.search(text).group(0)

    # He follows it: a fresh sign-in, then the page that says what will happen.
    philip = new_page(chromium, "nl-BE")
    philip.goto(link)
    expect(philip.locator("input[name=email]")).to_be_visible()
    assert html_lang(philip) == "nl-BE"
    sign_in(philip, PHILIP)
    undo = philip.get_by_role("button", name=nl_console("I did not agree — undo this"))
    expect(undo).to_be_visible()
    assert html_lang(philip) == "nl-BE"
    philip.screenshot(path=str(screenshots / "undo-nl.png"), full_page=True)
    undo.click()
    expect(philip.locator("main")).not_to_contain_text(nl_console("I did not agree — undo this"))
    assert nl_idp("user") != "user"

    # Mary is utilisatrice again: her console says so, in French.
    mary.goto(f"{provider.url}/console/")
    expect(mary.locator("#role")).to_have_text(fr_idp("user"))  # utilisateur
    mary.screenshot(path=str(screenshots / "console-fr.png"), full_page=True)

    # Her next introspection says user.
    rp = provider.register("Languages RP")
    agent = UserAgent(provider.url)
    authorization = rp.authorization(scope="openid customer")
    code = agent.code_for(rp, authorization, email=MARY.email, password=MARY.password)
    access = rp.redeem(code, authorization.verifier).json()["access_token"]
    answer = rp.introspect(access).json()  # the token's own client is one of its parties
    assert answer["active"] is True and answer["role"] == "user"

    # Issue 15: the logs of the whole journey hold no token, code, password or secret.
    settings = provider.app.config["KEYHOLDER"]
    secrets_seen = {"Mary's password": MARY.password, "Philip's password": PHILIP.password,
                    "the undo link": link.rsplit("=", 1)[1], "the code": code,
                    "the access token": access, "a client secret": rp.client_secret,
                    "the secret key": settings.SECRET_KEY,
                    "the keys' passphrase": settings.KEYS_PASSPHRASE}
    # (aiosmtpd's "mail.log" is the recipient's mail server: it reads the e-mails.)
    records = [r for r in caplog.records if r.name != "mail.log"]
    assert len(records) > 50  # the journey was logged
    leaked = {what: [f"{r.name}: {r.getMessage()[:300]}" for r in records
                     if secret in r.getMessage()] for what, secret in secrets_seen.items()}
    assert {what: lines for what, lines in leaked.items() if lines} == {}
