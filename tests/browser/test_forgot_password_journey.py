"""Issue 13's password journey in a real browser, with a real SMTP server:
Mary has a refresh token at the Cloud; she forgets her password, follows
"Forgot password?" on the login page, gets the e-mail, opens its link,
chooses a new password, is told to sign in with it (nobody is signed in by a
link) and does. The refresh token issued before is refused (invalid_grant),
she is told by e-mail that her password was changed, and the link is spent."""

import re

from playwright.sync_api import expect

from idp.outbox.delivery import deliver_due
from tests.provider.agents import issued_tokens
from tests.support.people import MARY

NEW_PASSWORD = "seven green bicycles at dawn"
RESET_LINK = re.compile(r"(http://\S+/account/password/reset\?token=[\w-]+)")


def test_forgot_password_new_password_and_the_old_refresh_token_refused(
        page, provider, web, mailbox, database_url, screenshots):
    before = issued_tokens(web, MARY.email, MARY.password)

    page.goto(f"{provider.url}/login")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Forgot your password?")).to_be_visible()
    page.get_by_label("E-mail address").fill(MARY.email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"If an account exists for {MARY.email}, a link to choose a new password is on its way")

    assert deliver_due(provider.app).sent == 1
    [message] = mailbox.wait_for(1)
    assert message["To"] == f"{MARY.name} <{MARY.email}>"
    assert message["Subject"] == "Choose a new password"
    link = RESET_LINK.search(message.get_body(preferencelist=("plain",)).get_content()).group(1)

    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD + " ")
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("alert")).to_contain_text("The two new passwords are not the same")
    if database_url.startswith("sqlite"):
        page.screenshot(path=str(screenshots / "account-new-password.png"), full_page=True)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("status")).to_contain_text("Please sign in with your new password")

    page.get_by_role("link", name="Sign in").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(MARY.email)
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="You are signed in")).to_be_visible()

    # The refresh token issued before the new password: refused.
    refused = web.refresh(before["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"

    # Mary is told, by the real SMTP server too.
    assert deliver_due(provider.app).sent == 1
    told = mailbox.wait_for(2)[1]
    assert told["Subject"] == "Your password was changed"
    assert told["To"] == f"{MARY.name} <{MARY.email}>"

    # The link was for once.
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("This link has been used already")
    expect(page.get_by_role("link", name="Ask for a new link")).to_be_visible()
