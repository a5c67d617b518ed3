"""Issue 5's journey in a real browser: Mary signs in to the console, sees
"user", types a wrong customer number (a message), the right one (with her
password again, her login being older than 10 minutes), becomes
administrator and sees "administrator"; a real SMTP server receives exactly
Philip's notification and Mary's confirmation."""

import time
from datetime import timedelta

from playwright.sync_api import expect
from sqlalchemy import update

from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.login.models import SsoSession
from idp.outbox.delivery import deliver_due
from keyholder.demo.data import PEOPLE

BY_NAME = {p.name: p for p in PEOPLE}
MARY, PHILIP = BY_NAME["Mary Jones"], BY_NAME["Philip Smith"]


def sign_in(page, provider, person):
    page.goto(f"{provider.url}/console")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name=person.name)).to_be_visible()


def test_mary_becomes_administrator_in_the_browser(page, provider, mailbox, database_url,
                                                   screenshots):
    sign_in(page, provider, MARY)
    expect(page.locator("#role")).to_have_text("user")
    expect(page.locator("#customer-number")).to_have_text("123456789")
    if database_url.startswith("sqlite"):
        page.screenshot(path=str(screenshots / "console-user.png"), full_page=True)

    page.get_by_role("link", name="Become administrator").click()
    page.get_by_label("Customer number").fill("987 654 321")
    page.get_by_role("button", name="Become administrator").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "This is not the customer number of an account you belong to")
    expect(page.locator("#role")).to_have_count(0)

    # Her login is now older than 10 minutes: the form asks for the password.
    with database.new_session(provider.app) as session:
        session.execute(update(SsoSession).values(auth_time=utcnow() - timedelta(minutes=11)))
        session.commit()
    page.goto(f"{provider.url}/console/become-administrator")
    page.get_by_label("Customer number").fill("123 456 789")
    page.get_by_label("Your password").fill(MARY.password)
    page.get_by_role("button", name="Become administrator").click()

    expect(page.locator("#role")).to_have_text("administrator")
    expect(page.get_by_role("status")).to_contain_text(
        "You are now an administrator of customer number 123456789")
    if database_url.startswith("sqlite"):
        page.screenshot(path=str(screenshots / "console-administrator.png"), full_page=True)

    with provider.app.app_context():
        report = deliver_due(provider.app)
    assert report.sent == 2
    received = mailbox.wait_for(2)
    time.sleep(0.3)
    assert len(mailbox.messages) == 2  # exactly these two
    by_recipient = {m["To"]: m for m in received}
    notice = by_recipient[f"{PHILIP.name} <{PHILIP.email}>"]
    assert notice["Subject"] == "Mary Jones became an administrator of customer 123456789"
    text = notice.get_body(preferencelist=("plain",)).get_content()
    assert "Mary Jones became an administrator of customer 123456789 (Smith ltd) on" in text
    assert f"{provider.url}/console/audit" in text
    html = notice.get_body(preferencelist=("html",)).get_content()
    assert "<strong>Mary Jones</strong> became an administrator" in html
    confirmation = by_recipient[f"{MARY.name} <{MARY.email}>"]
    assert confirmation["Subject"] == "You are now an administrator of customer 123456789"
    assert "The other administrators (Philip Smith) have been told by e-mail." in \
        confirmation.get_body(preferencelist=("plain",)).get_content()
    for message in received:
        assert message["Message-ID"].startswith("<outbox-")
