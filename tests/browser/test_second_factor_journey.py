"""Issue 13's second factor in a real browser: Mary, signed in, opens
"Two-step sign-in", sees the QR code and the key in text, types the code an
authenticator app would show (pyotp, from the key on the page), gets her ten
recovery codes; then, in a fresh browser, she signs in to the console with
her password and the next code, and her session says ``pwd otp``."""

import time

import pyotp
from playwright.sync_api import expect
from sqlalchemy import select

from idp.directory.models import Person
from idp.infrastructure import database
from idp.login.models import SsoSession
from tests.support.people import MARY


def sign_in_with_password(page, person):
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()


def test_mary_enrols_and_signs_in_with_a_code(page, chromium, provider, database_url,
                                              screenshots):
    page.goto(f"{provider.url}/account/second-factor")
    sign_in_with_password(page, MARY)

    expect(page.get_by_role("heading", name="Set up two-step sign-in")).to_be_visible()
    expect(page.get_by_role("img", name="QR code for MyProximus")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    assert len(secret) == 32
    if database_url.startswith("sqlite"):
        page.screenshot(path=str(screenshots / "second-factor-enrol.png"), full_page=True)
    page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on two-step sign-in").click()

    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_role("status")).to_have_text("Two-step sign-in is on.")
    expect(page.locator("#recovery-codes li")).to_have_count(10)
    page.get_by_role("link", name="I have kept them: continue").click()
    expect(page.locator("#status")).to_contain_text("Two-step sign-in is on")

    # A fresh browser: the password, then the code (the next step's: the
    # enrolment's own code is spent).
    context = chromium.new_context(viewport={"width": 1000, "height": 800}, locale="en-GB")
    try:
        other = context.new_page()
        other.set_default_timeout(15_000)
        other.goto(f"{provider.url}/console")
        sign_in_with_password(other, MARY)
        expect(other.get_by_role("heading", name="Two-step sign-in")).to_be_visible()
        other.get_by_label("Code").fill(pyotp.TOTP(secret).at(time.time() + 30))
        other.get_by_role("button", name="Sign in").click()
        expect(other.get_by_role("heading", name=MARY.name)).to_be_visible()
        expect(other.locator("#role")).to_have_text("user")
    finally:
        context.close()

    with database.new_session(provider.app) as session:
        amrs = session.scalars(select(SsoSession.amr).join(SsoSession.person)
                               .where(Person.email == MARY.email, SsoSession.ended_at.is_(None))
                               .order_by(SsoSession.id)).all()
    assert amrs == [["pwd"], ["pwd", "otp"]]
