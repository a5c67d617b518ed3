"""The demo as ``keyholder demo`` runs it (the provider with its console, the
services, the TV box, the mailbox), in one language, for browser tests that
walk through many of its pages: :class:`Demo` opens browser windows, signs
the demo's people in once, adds people and single-use links of its own, and
closes each test's windows. Steps find fields by their names and buttons by
their values, never by wording, so they serve every language."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import update

from idp.account import links
from idp.account.models import LinkPurpose
from idp.directory.models import Person
from idp.directory.services import Directory, person_actor
from idp.infrastructure import database
from idp.infrastructure.passwords import PASSWORDS
from idp.protocol.tokens.models import DeviceAuthorization
from keyholder.demo import launcher
from tests.provider_fixtures import Provider, running_provider
from tests.support.ports import free_range

LOCALES = {"en": "en-GB", "fr": "fr-BE", "nl": "nl-BE"}  # the browser's Accept-Language


@dataclass(frozen=True)
class Someone:
    email: str
    name: str
    password: str


@dataclass
class Demo:
    """The demo in one language, and the browser windows of the test at hand."""

    language: str
    provider: Provider
    services: dict[str, str]  # name -> URL, as the launcher names them
    tv_app: object
    chromium: object
    partner: object  # a third-party web client (RelyingParty): its consent page
    signed_in: dict[str, object] = field(default_factory=dict)  # e-mail -> browser
    browsers: list = field(default_factory=list)  # this test's own browsers
    pages: list = field(default_factory=list)  # this test's pages in the people's browsers

    def at(self, server: str, path: str = "/") -> str:
        return (self.provider.url if server == "provider" else self.services[server]) + path

    def where(self, url: str) -> str:
        """``portal /usage``: which server, and the path."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        servers = {self.provider.url: "provider", **{v: k for k, v in self.services.items()}}
        return f"{servers.get(origin, origin)} {parts.path}"

    def _browser(self):
        return self.chromium.new_context(locale=LOCALES[self.language],
                                         viewport={"width": 1000, "height": 800})

    def window(self, browser=None):
        """A new page, in a new browser (context) unless one is given."""
        if browser is None:
            browser = self._browser()
            self.browsers.append(browser)
        page = browser.new_page()
        page.set_default_timeout(20_000)
        if browser not in self.browsers:
            self.pages.append(page)
        return page

    def as_(self, person):
        """A page of a browser signed in at the provider as ``person`` (one
        browser per person, kept until the demo stops)."""
        if person.email not in self.signed_in:
            self.signed_in[person.email] = self._browser()
            page = self.window(self.signed_in[person.email])
            page.goto(self.at("provider", "/login"))
            sign_in(page, person)
        return self.window(self.signed_in[person.email])

    def someone(self, *, verified: bool = True) -> Someone:
        """A new person, in no customer, speaking the demo's language."""
        tag = secrets.token_hex(4)
        person = Someone(f"a11y-{tag}@example.com", f"Alex Martin {tag}", f"pass-{tag}-words")
        app = self.provider.app
        with database.write_session(app) as session:
            Directory(session).add_person(person.email, person.name,
                                          app.extensions[PASSWORDS].hash(person.password),
                                          email_verified=verified, locale=self.language)
        return person

    def business(self) -> tuple[str, Someone, Someone]:
        """A new business customer (its number), with an administrator and a user
        of its own: what they do leaves the demo's customers as they are."""
        number = "8" + "".join(secrets.choice("0123456789") for _ in range(8))
        administrator, user = self.someone(), self.someone()
        with database.write_session(self.provider.app) as session:
            directory = Directory(session)
            customer = directory.add_customer(number, f"Company {number}", "business")
            for person, role in ((administrator, "administrator"), (user, "user")):
                directory.add_membership(directory.find_person(person.email), customer, role)
        return number, administrator, user

    def link(self, purpose: LinkPurpose, email: str, *, customer: str | None = None) -> str:
        """A single-use link's secret, as its e-mail would carry it (an
        invitation: into ``customer``, as a user)."""
        with database.write_session(self.provider.app) as session:
            directory = Directory(session)
            person = directory.find_person(email)
            into = directory.find_customer(customer) if customer else None
            return links.issue(session, purpose, email=email, person=person, customer=into,
                               actor=person_actor(person) if person else "operator",
                               role="user" if into else None)

    def tv_may_poll_now(self) -> None:
        """The boxes' interval has passed (faked), for them and for the
        provider's record of their last poll."""
        for box in self.tv_app.extensions["tv"]._boxes.values():
            if box.authorization is not None:
                box.authorization.next_poll = 0
        with database.write_session(self.provider.app) as session:
            session.execute(update(DeviceAuthorization).values(last_polled_at=None))

    def close_test_windows(self) -> None:
        """Close this test's pages in the people's browsers, and its own
        browsers whole: closing a page that is reloading itself (the TV box's,
        by its Refresh header) can wait for ever in Chromium; closing its
        browser does not."""
        for page in self.pages:
            page.close()
        for browser in self.browsers:
            browser.close()
        self.pages.clear()
        self.browsers.clear()


@contextmanager
def running_demo(language: str, chromium, database_template: Path, keys_template: Path,
                 folder: Path) -> Iterator[Demo]:
    """The demo on a copy of ``database_template`` (SQLite), its people
    speaking ``language`` (their saved language outranks the browser's)."""
    shutil.copy(database_template, folder / "keyholder.db")
    ports = free_range(8)  # the demo's seven, then its SMTP server
    with running_provider(f"sqlite:///{folder / 'keyholder.db'}", folder, keys_template,
                          DEMO_PORTS_FROM=ports, SMTP_URL=f"smtp://127.0.0.1:{ports + 7}"
                          ) as provider:
        with database.write_session(provider.app) as session:
            session.execute(update(Person).values(locale=language))
        partner = provider.register("Partner", "web", first_party=False)
        running, stop = launcher.start(provider.app, "127.0.0.1")
        [tv] = [service for service in running if service.name == "tv"]
        demo = Demo(language, provider, {service.name: service.url for service in running},
                    tv.server.app, chromium, partner)
        try:
            yield demo
        finally:
            demo.close_test_windows()
            for browser in demo.signed_in.values():
                browser.close()
            stop()


# -- steps ------------------------------------------------------------------------------

def press(page, button: str) -> None:
    """Click ``button`` (a CSS selector) and wait for the page it leads to."""
    with page.expect_navigation():
        page.locator(button).first.click()


def submit(page, form: str) -> None:
    """Press the first submit button of ``form`` (a CSS selector)."""
    press(page, f"{form} [type=submit]")


def sign_in(page, person, password: str | None = None) -> None:
    page.locator("input[name=email]").fill(person.email)
    page.locator("input[name=password]").fill(password or person.password)
    submit(page, "form:has(input[name=password])")


def fill_password_if_asked(page, person) -> None:
    """Forms ask for the password again when the sign-in is over 10 minutes old."""
    asked = page.locator("main form input[name=password]")
    if asked.count():
        asked.first.fill(person.password)
