"""Every page of the demo in a real browser, in French, as the demo's people
see it (issue 14: "axe-core reports no serious or critical violations on
every page of the demo"). One language is enough for the markup (every
language renders the same templates with the same stylesheet), and French
checks more than English would: a text left untranslated reads as English
there, and its longer words stress the layout. The English pages are the
other browser tests' (Dutch: tests/browser/test_languages_journey.py). On
each page:

- axe-core (npm, tests/support/axe.py) finds no serious or critical violation;
- ``<html lang>`` is there, is the language asked for (``ui_locales`` on
  the way in, ``Accept-Language``, the person's saved language), and the
  text reads in it;
- "Keyholder" is not shown. The demo's mailbox is a developer's tool in
  English: only axe and the presence of ``lang`` are checked there.

One test per page and language: a failure names the page, where the steps
led (a check that they reached the page meant) and every problem found
there. The demo runs once per language and module (tests/support/demo_world.py);
steps that change something use a person or a link of their own, so pages
do not depend on the order they run in. SQLite only: a page's markup does
not depend on the database."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

import pyotp
import pytest

from idp.account.models import LinkPurpose
from idp.infrastructure.security_headers import CSP
from idp.outbox.delivery import deliver_due
from keyholder.demo.data import SMITH_LTD
from tests.support import axe
from tests.support.demo_world import (
    Demo,
    fill_password_if_asked,
    press,
    running_demo,
    sign_in,
    submit,
)
from tests.support.people import EMMA, MARY, PHILIP, THOMAS

LANGUAGES = ("fr",)  # see above; add "en" or "nl" to crawl those too


@pytest.fixture(scope="module", params=LANGUAGES)
def demo(request, chromium, sqlite_template, keys_template, tmp_path_factory):
    folder = tmp_path_factory.mktemp(f"accessibility-{request.param}")
    with running_demo(request.param, chromium, sqlite_template, keys_template,
                      folder) as running:
        yield running


# -- the steps to each page: a function of the demo, returning the page --------------------

def opened(server: str, path: str, person=None) -> Callable:
    """``path`` at ``server``, by ``person`` (signed in), or by a new visitor."""
    def visit(demo: Demo):
        page = demo.as_(person) if person else demo.window()
        page.goto(demo.at(server, path))
        return page
    return visit


def login_from_a_service(demo: Demo):
    page = demo.window()
    page.goto(demo.at("portal"))  # to the provider, with ui_locales
    page.locator("input[name=password]").wait_for()
    return page


def login_refused(demo: Demo):
    page = opened("provider", "/login")(demo)
    sign_in(page, MARY, "not her password")
    return page


def fresh_sign_in(demo: Demo, person, path: str = "/login"):
    page = opened("provider", path)(demo)
    sign_in(page, person)
    return page


def enrolment(demo: Demo):
    return fresh_sign_in(demo, demo.someone(), "/login?next=/account/second-factor")


def enrolled(demo: Demo):
    """Someone new turns two-step sign-in on: the recovery codes' page."""
    person = demo.someone()
    page = fresh_sign_in(demo, person, "/login?next=/account/second-factor")
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    page.locator("input[name=code]").fill(pyotp.TOTP(secret).now())
    fill_password_if_asked(page, person)
    submit(page, "form:has(input[name=code])")
    return person, page


def second_factor_login(demo: Demo):
    person, _ = enrolled(demo)
    return fresh_sign_in(demo, person)


def second_factor_status(demo: Demo):
    _, page = enrolled(demo)
    page.goto(demo.at("provider", "/account/second-factor"))
    return page


def signed_out(demo: Demo):
    page = fresh_sign_in(demo, demo.someone())
    page.goto(demo.at("provider", "/logout"))
    submit(page, "main form[action$='/logout']")
    return page


def consent(demo: Demo):
    request = demo.partner.authorization(scope="openid profile email customer",
                                         ui_locales=demo.language)
    return opened("provider", "/authorize?" + urlencode(request.params), PHILIP)(demo)


def customer_choice(demo: Demo):
    page = demo.window()
    page.goto(demo.at("portal"))
    sign_in(page, THOMAS)  # in two customers
    return page


def wrong_password_change(demo: Demo):
    page = opened("provider", "/account/password", PHILIP)(demo)
    page.locator("input[name=current]").fill("not his password")
    page.locator("input[name=password]").fill("a long new password 1")
    page.locator("input[name=again]").fill("a long new password 1")
    submit(page, "form:has(input[name=again])")
    return page


def forgot_sent(demo: Demo):
    page = opened("provider", "/account/password/forgot")(demo)
    page.locator("input[name=email]").fill(demo.someone().email)
    submit(page, "form:has(input[name=email])")
    return page


def reset(demo: Demo):
    secret = demo.link(LinkPurpose.PASSWORD_RESET, demo.someone().email)
    return opened("provider", f"/account/password/reset?token={secret}")(demo)


def verify(demo: Demo):
    secret = demo.link(LinkPurpose.EMAIL_VERIFICATION, demo.someone(verified=False).email)
    return opened("provider", f"/account/verify-email?token={secret}")(demo)


def verified(demo: Demo):
    page = verify(demo)
    submit(page, "form:has(input[name=token])")
    return page


def invitation(demo: Demo):
    secret = demo.link(LinkPurpose.INVITATION, f"new-{secrets.token_hex(4)}@smith-ltd.example",
                       customer=SMITH_LTD.number)
    return opened("provider", f"/console/invitation?token={secret}")(demo)


def wrong_customer_number(demo: Demo):
    page = opened("provider", "/console/become-administrator", MARY)(demo)
    page.locator("input[name=customer_number]").fill("987 654 321")
    fill_password_if_asked(page, MARY)
    submit(page, "form:has(input[name=customer_number])")
    return page


def remove_member(demo: Demo):
    page = opened("provider", "/console/members", PHILIP)(demo)
    press(page, "a[href*='members/remove']")
    return page


def paid_option(demo: Demo):
    """The price to confirm: a paid option's button (it says so beside it)."""
    page = opened("portal", "/options", PHILIP)(demo)
    press(page, "form[action$='/options/activate']:has(+ span.detail) [type=submit]")
    return page


def undo(stage: str) -> Callable:
    """A user of a new business customer promotes himself; its other
    administrator follows "I did not agree" from his e-mail in the demo's
    mailbox and signs in as it asks: the question, then (``stage`` "done")
    the answer to "undo this"."""
    def visit(demo: Demo):
        number, administrator, user = demo.business()
        page = fresh_sign_in(demo, user, "/login?next=/console/become-administrator")
        page.locator("input[name=customer_number]").fill(number)
        submit(page, "form:has(input[name=customer_number])")
        with demo.provider.app.app_context():
            deliver_due(demo.provider.app)
        page = opened("mailbox", "/")(demo)
        press(page, f"ul.letters li:has-text('{administrator.email}') a")
        link = re.search(r"http://\S+/console/undo-promotion\?token=[\w-]+", page.content())
        assert link, "the administrator's e-mail has no link to undo the promotion"
        page = demo.window()
        page.goto(link.group(0))  # to the login page first
        sign_in(page, administrator)
        if stage == "done":
            submit(page, "form[action$='/console/undo-promotion']")
        return page
    return visit


def service_signed_out(demo: Demo):
    page = demo.window()
    page.goto(demo.at("portal"))
    sign_in(page, EMMA)
    page.goto(demo.at("portal", "/logout"))
    submit(page, "main form[action$='/logout']")
    page.wait_for_load_state("networkidle")
    return page


# -- the TV box and the device pages ------------------------------------------------------

DEVICE_LINK = "a[href*='/device?user_code=']"


def tv_box(demo: Demo):
    page = opened("tv", "/")(demo)
    page.locator(DEVICE_LINK).first.wait_for()
    return page


def answered(demo: Demo, person, answer: str | None, code_only: bool = False):
    """The box, and its link opened by ``person``: the code's page; the
    question (``answer`` None); or the page after ``answer`` ("allow", "deny")."""
    box = tv_box(demo)
    page = demo.as_(person)
    page.goto(box.locator(DEVICE_LINK).first.get_attribute("href"))
    if not code_only:
        submit(page, "form:has(input[name=user_code])")
        if answer:
            press(page, f"button[name=decision][value={answer}]")
    return box, page


def device(person, answer: str | None = None, *, code_only: bool = False) -> Callable:
    return lambda demo: answered(demo, person, answer, code_only)[1]


def tv_after(person, answer: str = "allow") -> Callable:
    """The box once ``person`` answered (it asks the provider again at once)."""
    def visit(demo: Demo):
        box, _ = answered(demo, person, answer)
        for _ in range(40):
            # A new page for each look: the box's pages reload themselves,
            # which would cut a goto short (they close with their browser).
            demo.tv_may_poll_now()
            box = demo.window(box.context)
            box.goto(demo.at("tv"))
            if not box.locator(DEVICE_LINK).count():
                return box
            box.wait_for_timeout(250)
        raise AssertionError("the TV box did not take the answer")
    return visit


def tv_sign_out_question(demo: Demo):
    box = tv_after(PHILIP)(demo)
    box.goto(demo.at("tv", "/logout"))
    return box


def mailbox(letter: bool) -> Callable:
    def visit(demo: Demo):
        forgot_sent(demo)
        with demo.provider.app.app_context():
            assert deliver_due(demo.provider.app).sent >= 1
        page = opened("mailbox", "/")(demo)
        if letter:
            press(page, "main a[href]")
        return page
    return visit


@dataclass(frozen=True)
class Page:
    name: str
    visit: Callable
    at: str | None  # "server /path" the steps must end at
    customer: bool = True  # a customer's page: his language, no "Keyholder"


PAGES = [
    Page("provider-login", login_from_a_service, "provider /login"),
    Page("provider-login-wrong-password", login_refused, "provider /login"),
    Page("provider-login-second-factor", second_factor_login, "provider /login/second-factor"),
    Page("provider-signed-in", opened("provider", "/", PHILIP), "provider /"),
    Page("provider-sign-out-question", opened("provider", "/logout", PHILIP), "provider /logout"),
    Page("provider-signed-out", signed_out, "provider /logout"),
    Page("provider-consent", consent, "provider /authorize"),
    Page("provider-customer-choice", customer_choice, "provider /authorize"),
    Page("provider-device-code", device(PHILIP, code_only=True), "provider /device"),
    Page("provider-device-question", device(PHILIP), "provider /device"),
    Page("provider-device-question-two-customers", device(THOMAS), "provider /device"),
    Page("provider-device-allowed", device(PHILIP, "allow"), "provider /device"),
    Page("provider-device-denied", device(PHILIP, "deny"), "provider /device"),
    Page("provider-authorize-error", opened(
        "provider", "/authorize?client_id=nobody&response_type=code", PHILIP),
        "provider /authorize"),
    Page("provider-request-refused", opened("provider", "/login?next=%01"), "provider /login"),
    Page("provider-404", opened("provider", "/no-such-page", PHILIP), "provider /no-such-page"),
    Page("account-home", opened("provider", "/account/", PHILIP), "provider /account/"),
    Page("account-password-change", opened("provider", "/account/password", PHILIP),
         "provider /account/password"),
    Page("account-password-change-wrong-password", wrong_password_change,
         "provider /account/password"),
    Page("account-password-forgot", opened("provider", "/account/password/forgot"),
         "provider /account/password/forgot"),
    Page("account-password-forgot-sent", forgot_sent, "provider /account/password/forgot"),
    Page("account-password-reset", reset, "provider /account/password/reset"),
    Page("account-password-link-refused", opened(
        "provider", "/account/password/reset?token=not-a-link"),
        "provider /account/password/reset"),
    Page("account-verify-email", verify, "provider /account/verify-email"),
    Page("account-verify-email-done", verified, "provider /account/verify-email"),
    Page("account-verify-email-refused", opened(
        "provider", "/account/verify-email?token=not-a-link"), "provider /account/verify-email"),
    Page("account-second-factor-enrolment", enrolment, "provider /account/second-factor"),
    Page("account-recovery-codes", lambda demo: enrolled(demo)[1],
         "provider /account/second-factor/enrol"),
    Page("account-second-factor", second_factor_status, "provider /account/second-factor"),
    Page("account-security", opened("provider", "/account/security", PHILIP),
         "provider /account/security"),
    Page("console-home-administrator", opened("provider", "/console", PHILIP),
         "provider /console"),
    Page("console-home-user", opened("provider", "/console", MARY), "provider /console"),
    Page("console-become-administrator", opened(
        "provider", "/console/become-administrator", MARY),
        "provider /console/become-administrator"),
    Page("console-become-administrator-wrong-number", wrong_customer_number,
         "provider /console/become-administrator"),
    Page("console-members", opened("provider", "/console/members", PHILIP),
         "provider /console/members"),
    Page("console-remove-member", remove_member, "provider /console/members/remove"),
    Page("console-step-down", opened("provider", "/console/step-down", PHILIP),
         "provider /console/step-down"),
    Page("console-audit-trail", opened("provider", "/console/audit", PHILIP),
         "provider /console/audit"),
    Page("console-refused", opened("provider", "/console/members", MARY),
         "provider /console/members"),
    Page("console-invitation", invitation, "provider /console/invitation"),
    Page("console-invitation-refused", opened(
        "provider", "/console/invitation?token=not-a-link"), "provider /console/invitation"),
    Page("console-undo-question", undo("question"), "provider /console/undo-promotion"),
    Page("console-undo-done", undo("done"), "provider /console/undo-promotion"),
    Page("console-undo-refused", opened("provider", "/console/undo-promotion?token=not-a-link"),
         "provider /console/undo-promotion"),
    Page("portal-overview-administrator", opened("portal", "/", PHILIP), "portal /"),
    Page("portal-overview-user", opened("portal", "/", MARY), "portal /"),
    Page("portal-usage", opened("portal", "/usage", PHILIP), "portal /usage"),
    Page("portal-options", opened("portal", "/options", PHILIP), "portal /options"),
    Page("portal-paid-option-question", paid_option, "portal /options/activate"),
    Page("portal-bills", opened("portal", "/bills", PHILIP), "portal /bills"),
    Page("portal-bizz-club", opened("portal", "/bizz-club", PHILIP), "portal /bizz-club"),
    Page("portal-sign-out-question", opened("portal", "/logout", PHILIP), "portal /logout"),
    Page("portal-after-signing-out", service_signed_out, "portal /signed-out"),
    Page("portal-signed-out", opened("portal", "/signed-out"), "portal /signed-out"),
    Page("portal-sign-in-failed", opened("portal", "/callback"), "portal /callback"),
    Page("portal-404", opened("portal", "/no-such-page", PHILIP), "portal /no-such-page"),
    Page("cloud", opened("cloud", "/", PHILIP), "cloud /"),
    Page("foot11", opened("foot11", "/", PHILIP), "foot11 /"),
    Page("onedrive", opened("onedrive", "/", PHILIP), "onedrive /"),
    Page("foot11-refused-to-a-user", opened("foot11", "/", MARY), "foot11 /"),
    Page("tv-code", tv_box, "tv /"),
    Page("tv-welcome", tv_after(PHILIP), "tv /"),
    Page("tv-refused-to-a-user", tv_after(MARY), "tv /"),
    Page("tv-declined", tv_after(PHILIP, "deny"), "tv /"),
    Page("tv-sign-out-question", tv_sign_out_question, "tv /logout"),
    Page("mailbox", mailbox(letter=False), "mailbox /", customer=False),
    Page("mailbox-letter", mailbox(letter=True), None, customer=False),
]


@pytest.mark.parametrize("spec", PAGES, ids=[spec.name for spec in PAGES])
def test_page_is_accessible(demo, spec, axe_script):
    try:
        page = spec.visit(demo)
        page.wait_for_load_state()
        where = demo.where(page.url)
        assert spec.at is None or where == spec.at, f"the steps led to {where}, not {spec.at}"
        problems = [f"axe: {v}" for v in axe.violations(page, axe_script)]
        reading = axe.read(page)
        problems += [f"lang: {p}" for p in axe.language_problems(
            reading, demo.language if spec.customer else None, text=spec.customer)]
        if spec.customer:
            problems += [f"name: {p}" for p in axe.product_name_problems(reading)]
    finally:
        demo.close_test_windows()
    assert not problems, f"{spec.name} in {demo.language} ({where}):\n  " + \
        "\n  ".join(problems)


BROKEN = """<!doctype html><html><head><title>Keyholder</title></head><body><main>
<img src="/picture.png"><a href="/"></a>
<p>Vous trouvez ici la consommation de votre mobile et les options de votre abonnement,
avec le prix de chacune pour le mois en cours.</p></main></body></html>"""


def test_the_checks_find_what_they_look_for(chromium, axe_script):
    """The checks are alive, on a page served with the provider's
    Content-Security-Policy (which refuses inline scripts)."""
    browser = chromium.new_context(locale="fr-BE")
    try:
        page = browser.new_page()
        page.route("http://page.test/", lambda route: route.fulfill(
            body=BROKEN, content_type="text/html", headers={"Content-Security-Policy": CSP}))
        page.goto("http://page.test/")
        found = {v.id: v for v in axe.violations(page, axe_script)}
        assert {"image-alt", "link-name", "html-has-lang"} <= set(found)
        assert found["image-alt"].targets == ("img",)
        assert found["image-alt"].impact == "critical"
        reading = axe.read(page)
        assert axe.language_problems(reading, "fr") == ["<html> has no lang attribute"]
        assert axe.product_name_problems(reading) == ["shows \"Keyholder\": 'Keyholder'"]
        page.evaluate("() => { document.documentElement.lang = 'en'; }")
        assert axe.language_problems(axe.read(page), "fr") == [
            '<html lang="en"> but the page was asked in "fr"',
            '<html lang="en"> but its text reads as "fr"']
        page.evaluate("() => { document.documentElement.lang = 'fr-BE'; }")
        assert axe.language_problems(axe.read(page), "fr") == []
    finally:
        browser.close()
