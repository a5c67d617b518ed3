"""Issue 12's journey in a real browser, every partner service running as in
the demo (each with its stream, made by the demo's launcher): role changes
reach the services by security events, without a new sign-in.

- Mary is refused at the Cloud and at Foot 11; she becomes administrator in
  the console, and within 2 s, reloading the Cloud and Foot 11 gives her
  access, without passing through the provider.
- Philip administers a residential household (set up here: in the demo data
  he administers Smith ltd, a business, which cannot be handed over) and
  watches Foot 11 for it; he hands administration over in the console, and
  his next Foot 11 request is refused.
- Philip signs out at the provider: every service shows its sign-in page again.
"""

import time

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from claims.vocabulary import CustomerType, Role
from idp.directory.services import Directory
from idp.infrastructure import database
from idp.security_events.models import EventStream, PushDelivery
from keyholder.demo import launcher as services_demo
from tests.support.people import EMMA, MARY, PHILIP
from tests.support.ports import free_range

expect.set_options(timeout=20_000)
HOUSEHOLD = "555000111"
DEADLINE = 2.0  # seconds from the console's confirmation to access at the services


@pytest.fixture
def provider_settings():
    return {"DEMO_PORTS_FROM": free_range(7), "SMTP_URL": f"smtp://127.0.0.1:{free_range(1)}"}


@pytest.fixture
def services(provider):
    running, stop = services_demo.start(provider.app, "127.0.0.1")
    yield {service.name: service.url for service in running}
    stop()


def new_page(chromium):
    page = chromium.new_context(locale="en-GB").new_page()
    page.set_default_timeout(20_000)
    return page


def sign_in(page, person):
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail address").fill(person.email)
    page.get_by_label("Password").fill(person.password)
    page.get_by_role("button", name="Sign in").click()


def refused(page) -> None:
    expect(page.get_by_role("alert")).to_contain_text("administrators of the customer number")


def household_of_philip(provider) -> None:
    """A residential customer that Philip administers, with Emma as a member."""
    with database.write_session(provider.app) as session:
        directory = Directory(session)
        household = directory.add_customer(HOUSEHOLD, "Smith household", CustomerType.RESIDENTIAL)
        directory.add_membership(directory.person(PHILIP.email), household, Role.ADMINISTRATOR)
        directory.add_membership(directory.person(EMMA.email), household, Role.USER)


def stream_settled(provider, services, name: str) -> None:
    """Wait (2 s at most) until the service's stream has nothing waiting."""
    url = services[name] + services_demo.EVENTS_PATH
    deadline = time.monotonic() + DEADLINE
    while True:
        with database.new_session(provider.app) as session:
            waiting = session.scalar(
                select(PushDelivery.id).join(EventStream, EventStream.id == PushDelivery.stream_id)
                .where(EventStream.endpoint_url == url, PushDelivery.delivered_at.is_(None))
                .limit(1))
        if waiting is None:
            return
        assert time.monotonic() < deadline, f"{name}: security events still waiting"
        time.sleep(0.05)


def test_role_changes_reach_the_services_without_a_new_sign_in(chromium, provider, services,
                                                                screenshots):
    # Mary is refused at the Cloud and at Foot 11 (one sign-in for both).
    mary = new_page(chromium)
    mary.goto(services["cloud"] + "/")
    sign_in(mary, MARY)
    refused(mary)
    mary.goto(services["foot11"] + "/")
    refused(mary)

    # She becomes administrator in the console (signed in already: no password).
    mary.goto(f"{provider.url}/console/become-administrator")
    mary.get_by_label("Customer number").fill("123 456 789")
    mary.get_by_role("button", name="Become administrator").click()
    expect(mary.locator("#role")).to_have_text("administrator")
    confirmed = time.monotonic()

    # Reloading the services: access within the deadline, and never by way of the provider.
    asked_provider = []
    mary.on("request", lambda request: asked_provider.append(request.url)
            if request.url.startswith(provider.url) else None)
    for name in ("cloud", "foot11"):
        while True:
            response = mary.goto(services[name] + "/")
            if response.status == 200 or time.monotonic() - confirmed > DEADLINE:
                break
            time.sleep(0.1)
        assert response.status == 200, f"{name} still refuses Mary after {DEADLINE} s"
        expect(mary.locator("dt:text-is('Role') + dd")).to_have_text("administrator")
    elapsed = time.monotonic() - confirmed
    assert elapsed <= DEADLINE, f"access came {elapsed:.2f} s after the promotion"
    assert asked_provider == [], asked_provider  # no new sign-in, not even a silent one
    mary.screenshot(path=str(screenshots / "security-events-promoted.png"), full_page=True)

    # Philip watches Foot 11 for his household, and the other services for Smith ltd.
    household_of_philip(provider)
    philip = new_page(chromium)
    philip.goto(services["foot11"] + f"/login?customer_number={HOUSEHOLD}")
    sign_in(philip, PHILIP)
    expect(philip.get_by_text(HOUSEHOLD)).to_be_visible()
    for name in ("portal", "cloud", "onedrive"):
        assert philip.goto(services[name] + "/login?customer_number=123456789").status == 200

    # He hands administration of the household over to Emma in the console.
    philip.goto(f"{provider.url}/console?customer={HOUSEHOLD}")
    philip.goto(f"{provider.url}/console/members")
    philip.get_by_role("button", name="Hand administration over to Emma Taylor").click()
    expect(philip.get_by_role("status")).to_contain_text("Emma Taylor is now the administrator")
    stream_settled(provider, services, "foot11")
    response = philip.goto(services["foot11"] + "/")  # his next request
    assert response.status == 403
    refused(philip)
    expect(philip.locator("dt:text-is('Role') + dd")).to_have_text("user")

    # He signs out at the provider: every service tells him so at his next
    # visit, and asks him to sign in again.
    philip.goto(provider.url + "/")
    philip.get_by_role("button", name="Sign out").click()
    expect(philip.get_by_role("button", name="Sign out")).to_have_count(0)
    for name in ("portal", "cloud", "onedrive", "foot11"):
        stream_settled(provider, services, name)
        philip.goto(services[name] + "/")
        expect(philip.get_by_role("heading", name="You are signed out")).to_be_visible()
        philip.get_by_role("link", name="Sign in again").click()
        expect(philip.get_by_role("heading", name="Sign in")).to_be_visible()
        assert philip.url.startswith(provider.url + "/login")
