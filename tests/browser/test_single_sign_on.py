"""Issue 6's journey in a real browser, with every partner service running as
in the demo: Philip signs in once and opens the self-care portal, TV (device
code approved on the verification page), Cloud, OneDrive and Foot 11; Mary
sees only her own mobile and is refused at TV, Cloud, OneDrive and Foot 11;
she becomes administrator in the console, Philip's mailbox gets the notice,
and she now opens them all. Logging out from Cloud signs Philip out of the
others (back-channel logout)."""

import re
import time

import pytest
from playwright.sync_api import expect

from idp.outbox.delivery import deliver_due
from idp.protocol.grants import device_code
from keyholder.demo import launcher as services_demo
from keyholder.demo.data import PEOPLE
from tests.support.ports import free_range

# The TV box refreshes itself every poll interval: allow for a few.
expect.set_options(timeout=20_000)
BY_NAME = {p.name: p for p in PEOPLE}
PHILIP, MARY = BY_NAME["Philip Smith"], BY_NAME["Mary Jones"]


@pytest.fixture
def provider_settings():
    return {"DEMO_PORTS_FROM": free_range(7), "SMTP_URL": f"smtp://127.0.0.1:{free_range(1)}"}


@pytest.fixture(autouse=True)
def one_second_polls(monkeypatch):
    """The box polls every second instead of every five (the RFC 8628 default,
    which test_device_flow.py and services/test_tv.py check): the journey
    signs in on the TV three times, and each sign-in waits a whole interval
    for the box's next refresh."""
    monkeypatch.setattr(device_code, "INTERVAL", 1)
    monkeypatch.setattr(device_code.DeviceAuthorizationEndpoint, "INTERVAL", 1)


@pytest.fixture
def services(provider):
    running, stop = services_demo.start(provider.app, "127.0.0.1")
    yield {service.name: service.url for service in running}
    stop()


def sign_in(page, person):
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()


def open_tv(page, services, provider):
    """The box shows a code; the person approves it on the provider's page.

    The box's code screen reloads itself every poll interval (a Refresh
    header), which would race a reload of the test's own: the test looks at
    it paused (``?pause=1``), and looks again until the box has its answer
    (each look polls the provider at most once per interval)."""
    screen = services["tv"] + "/?pause=1"
    page.goto(screen)
    code = page.locator(".user-code").inner_text().strip()
    approval = page.context.new_page()
    approval.goto(f"{provider.url}/device?user_code={code}")
    approval.get_by_role("button", name="Continue").click()
    approval.get_by_role("button", name="Allow", exact=True).click()
    expect(approval.get_by_role("heading", name="Your TV is connected")).to_be_visible()
    approval.close()
    deadline = time.monotonic() + 20
    while page.locator(".user-code").count() and time.monotonic() < deadline:
        page.wait_for_timeout(300)
        page.goto(screen)


def test_one_login_for_every_service(chromium, provider, services, screenshots):
    philip = chromium.new_context(locale="en-GB").new_page()
    philip.set_default_timeout(20_000)
    philip.goto(services["portal"] + "/")
    sign_in(philip, PHILIP)
    expect(philip.get_by_role("heading", name="Subscriptions")).to_be_visible()
    for number in ("0470 00 00 01", "0470 00 00 02", "0470 00 00 03"):  # written for people
        expect(philip.get_by_text(number).first).to_be_visible()
    philip.screenshot(path=str(screenshots / "portal-administrator.png"), full_page=True)
    philip.get_by_role("link", name="Bills").first.click()
    expect(philip.get_by_role("heading", name="Bills")).to_be_visible()
    philip.get_by_role("link", name="Bizz Club").first.click()
    expect(philip.get_by_role("heading", name="Bizz Club")).to_be_visible()

    open_tv(philip, services, provider)
    expect(philip.get_by_role("heading", name=re.compile("welcome, Philip Smith"))).to_be_visible()
    for name, heading in (("cloud", "The Cloud"), ("onedrive", "OneDrive for Business"),
                          ("foot11", "Foot 11")):
        philip.goto(services[name] + "/")  # no password asked: single sign-on
        expect(philip.get_by_role("heading", name=heading).first).to_be_visible()
        expect(philip.get_by_label("Password")).to_have_count(0)

    mary = chromium.new_context(locale="en-GB").new_page()
    mary.set_default_timeout(20_000)
    mary.goto(services["portal"] + "/")
    sign_in(mary, MARY)
    expect(mary.get_by_text("0470 00 00 02").first).to_be_visible()
    expect(mary.get_by_text("0470 00 00 01")).to_have_count(0)
    for name in ("cloud", "onedrive", "foot11"):
        mary.goto(services[name] + "/")
        expect(mary.get_by_role("alert")).to_contain_text(
            "administrators of the customer number")
        console_link = mary.get_by_role("link", name=re.compile("administrator", re.I))
        expect(console_link.first).to_be_visible()
    mary.screenshot(path=str(screenshots / "service-refused.png"), full_page=True)
    open_tv(mary, services, provider)
    expect(mary.get_by_role("heading", name="Proximus TV is not available to you")).to_be_visible()

    # Mary becomes administrator in the console (signed in already: no password).
    mary.goto(f"{provider.url}/console/become-administrator")
    mary.get_by_label("Customer number").fill("123 456 789")
    mary.get_by_role("button", name="Become administrator").click()
    expect(mary.locator("#role")).to_have_text("administrator")
    with provider.app.app_context():
        assert deliver_due(provider.app).sent == 2
    philip.goto(services["mailbox"] + "/")
    expect(philip.get_by_role("link", name="Mary Jones became an administrator of customer "
                                            "123456789")).to_be_visible()

    # Now she opens them all on the web, and TV.
    for name, heading in (("cloud", "The Cloud"), ("onedrive", "OneDrive for Business"),
                          ("foot11", "Foot 11")):
        mary.goto(services[name] + "/")  # her session was refreshed by a security event
        expect(mary.get_by_role("heading", name=heading).first).to_be_visible()
    mary.goto(services["tv"] + "/logout")  # the box asks first: a link must not sign it out
    mary.get_by_role("main").get_by_role("button", name="Sign out").click()
    expect(mary.get_by_text("This box is signed out")).to_be_visible()
    open_tv(mary, services, provider)
    expect(mary.get_by_role("heading", name=re.compile("welcome, Mary Jones"))).to_be_visible()

    # Philip signs out at Cloud: the provider session ends, the others are told.
    # The click returns before the logout's redirects are done: wait for them,
    # or the next goto would cut the logout short. Back-channel logout tokens
    # are sent after the provider has answered, so each service is asked
    # again until it has been told (10 s at most).
    philip.goto(services["cloud"] + "/")
    philip.get_by_role("button", name="Sign out").click()
    expect(philip.get_by_role("button", name="Sign out")).to_have_count(0)
    for name in ("portal", "foot11", "onedrive"):
        signed_out = philip.get_by_role("heading", name="Sign in")
        deadline = time.monotonic() + 10
        while True:
            philip.goto(services[name] + "/")
            if signed_out.count() or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        expect(signed_out).to_be_visible()
