"""Issue 13's "Disconnect" journey in a real browser, the services running as
in the demo (the TV box with its stream, made by the demo's launcher):

- Philip pairs the TV box: the box shows a code and its link; he opens the
  link, signs in and allows the TV; the box welcomes him.
- On his Security page he sees this browser among his sign-ins and the TV
  among the connected devices; he presses "Disconnect" for the TV.
- After that the TV's refresh token is refused, and the box, told by its
  session-revoked event, forgets its tokens and shows a new code; Philip's
  browser is still signed in.
"""

import re
import time

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import update

from idp.infrastructure import database
from idp.protocol.tokens.models import DeviceAuthorization
from keyholder.demo import launcher as services_demo
from tests.support.people import PHILIP
from tests.support.ports import free_range

expect.set_options(timeout=20_000)
DEADLINE = 5.0  # seconds for the box to hear of the disconnection


@pytest.fixture
def provider_settings():
    return {"DEMO_PORTS_FROM": free_range(7), "SMTP_URL": f"smtp://127.0.0.1:{free_range(1)}"}


@pytest.fixture
def tv(provider):
    """The demo's TV box: its address and its Flask app (the boxes it remembers)."""
    running, stop = services_demo.start(provider.app, "127.0.0.1")
    [box] = [service for service in running if service.name == "tv"]
    yield box.url, box.server.app
    stop()


def new_page(chromium):
    page = chromium.new_context(locale="en-GB", viewport={"width": 1000, "height": 800}) \
        .new_page()
    page.set_default_timeout(20_000)
    return page


def may_poll_now(provider, tv_app) -> None:
    """The box's interval has passed (the clock, faked), for the box and for
    the provider's record of its last poll."""
    for box in tv_app.extensions["tv"]._boxes.values():
        if box.authorization is not None:
            box.authorization.next_poll = 0
    with database.new_session(provider.app) as session:
        session.execute(update(DeviceAuthorization).values(last_polled_at=None))
        session.commit()


def viewer_of(tv_app):
    [box] = [box for box in tv_app.extensions["tv"]._boxes.values() if box.viewer is not None]
    return box.viewer


def test_philip_disconnects_the_tv_box(chromium, provider, tv, screenshots):
    tv_url, tv_app = tv
    screen, philip = new_page(chromium), new_page(chromium)

    # The box shows a code and the link with the code filled in.
    screen.goto(tv_url + "/")
    expect(screen.get_by_role("heading", name="Sign in to watch TV")).to_be_visible()
    link = screen.locator("a[href*='/device?user_code=']").get_attribute("href")

    # Philip opens the link, signs in and allows the TV.
    philip.goto(link)
    expect(philip.get_by_role("heading", name="Sign in")).to_be_visible()
    philip.get_by_label("E-mail address").fill(PHILIP.email)
    philip.get_by_label("Password").fill(PHILIP.password)
    philip.get_by_role("button", name="Sign in").click()
    expect(philip.get_by_role("heading", name="Connect your TV")).to_be_visible()
    philip.get_by_role("button", name="Continue").click()
    expect(philip.get_by_role("heading", name="Allow TV?")).to_be_visible()
    philip.get_by_role("button", name="Allow", exact=True).click()
    expect(philip.get_by_role("heading", name="Your TV is connected")).to_be_visible()

    # The box takes its tokens and welcomes him.
    may_poll_now(provider, tv_app)
    screen.goto(tv_url + "/")
    expect(screen.get_by_role("heading", name="Proximus TV — welcome, Philip Smith")) \
        .to_be_visible()
    refresh_token = viewer_of(tv_app).refresh_token
    assert refresh_token

    # His Security page: this browser, the TV signed in there and connected.
    philip.goto(provider.url + "/account/security")
    expect(philip.get_by_role("heading", name="Security", exact=True)).to_be_visible()
    sign_ins = philip.locator("table.sign-ins tbody tr")
    expect(sign_ins).to_have_count(1)
    expect(sign_ins.first).to_contain_text("(this browser)")
    expect(sign_ins.first).to_contain_text("Signed in there: TV")
    connected = philip.locator("table.connections tbody tr")
    expect(connected).to_have_count(1)
    expect(connected.first).to_contain_text("TV")
    expect(connected.first).to_contain_text("TV box or device")
    expect(philip.locator("table.audit")).to_contain_text("You signed in.")
    philip.screenshot(path=str(screenshots / "security-page.png"), full_page=True)

    # He disconnects the TV.
    connected.first.get_by_role("button", name=re.compile(r"^Disconnect TV")).click()
    expect(philip.get_by_role("status")).to_contain_text("TV is disconnected")
    expect(philip.locator("table.connections")).to_have_count(0)
    expect(philip.get_by_text("No device or service is connected to your account.")) \
        .to_be_visible()
    expect(philip.locator("table.audit")).to_contain_text("You disconnected TV.")
    expect(philip.locator("table.sign-ins tbody tr").first).to_contain_text("(this browser)")
    philip.screenshot(path=str(screenshots / "security-page-disconnected.png"), full_page=True)

    # After that the TV's refresh token is refused.
    client_id = tv_app.extensions["tv"].config.client_id
    refreshed = requests.post(f"{provider.url}/token", timeout=10, data={
        "grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id})
    assert refreshed.status_code == 400, refreshed.text
    assert refreshed.json()["error"] == "invalid_grant"

    # The box heard of it (its session-revoked event) and shows a new code.
    deadline = time.monotonic() + DEADLINE
    while any(box.viewer is not None for box in tv_app.extensions["tv"]._boxes.values()):
        assert time.monotonic() < deadline, "the box still holds its tokens"
        time.sleep(0.05)
    screen.goto(tv_url + "/")
    expect(screen.get_by_role("heading", name="Sign in to watch TV")).to_be_visible()

    # Philip is still signed in at the provider.
    philip.goto(provider.url + "/")
    expect(philip.get_by_role("heading", name="You are signed in")).to_be_visible()
