"""The TV box (RFC 8628 device flow) against the real provider: the screen
shows the code and refreshes itself, each refresh polls at most once; the
person allows on the provider's verification page; an administrator gets
the channels, a user the policy's reason and the way to the console."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import requests
from sqlalchemy import update

from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.protocol.tokens.models import DeviceAuthorization
from keyholder.demo.data import PEOPLE
from services.tv import TvConfig, create_app
from tests.provider.agents import UserAgent
from tests.services.rp_support import served
from tests.support.ports import free_port

BY_NAME = {p.name: p for p in PEOPLE}
PHILIP, MARY = BY_NAME["Philip Smith"], BY_NAME["Mary Jones"]
USER_CODE = re.compile(r'class="user-code"[^>]*>([A-Z]{4}-[A-Z]{4})<')
COMPLETE = re.compile(r'<a href="([^"]+/device\?user_code=[^"]+)"')
REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+)">')


@pytest.fixture
def tv(provider):
    client = provider.register("Proximus TV", "device", redirect_uris=[])
    with served(lambda url: create_app(TvConfig(
            provider.url, client.client_id, base_url=url, cookie_name="tv_box",
            secret_key="tv-test-secret-key-0123456789abcdef"))) as (url, app):
        yield Box(url, app)


class Box:
    """The box's screen, as its browser sees it."""

    def __init__(self, url, app) -> None:
        self.url, self.app = url, app
        self.screen = requests.Session()

    def look(self) -> requests.Response:
        return self.screen.get(self.url + "/", timeout=10, allow_redirects=False)

    def code(self, page: requests.Response) -> tuple[str, str]:
        """The user code and the verification_uri_complete on the screen."""
        return USER_CODE.search(page.text).group(1), html.unescape(
            COMPLETE.search(page.text).group(1))

    def may_poll_now(self, provider=None) -> None:
        """The interval has passed (the clock, faked): for the box and, given
        ``provider``, for the provider's record of the last poll."""
        for box in self.app.extensions["tv"]._boxes.values():
            if box.authorization is not None:
                box.authorization.next_poll = 0
        if provider is not None:
            with database.new_session(provider.app) as session:
                session.execute(update(DeviceAuthorization).values(last_polled_at=None))
                session.commit()


def approve(provider, complete_uri: str, person, decision: str = "allow"):
    agent = UserAgent(provider.url)
    page = agent.follow(agent.get(complete_uri), email=person.email, password=person.password)
    assert "Connect your TV" in page.text, page.text[:300]
    confirm = agent.submit(page, {"user_code": html.unescape(
        re.search(r'name="user_code"[^>]*value="([^"]*)"', page.text).group(1))})
    assert confirm.status_code == 200 and "Allow Proximus TV?" in confirm.text
    user_code = re.search(r'name="user_code" value="([^"]+)"', confirm.text).group(1)
    return agent.submit(confirm, {"user_code": user_code, "decision": decision})


def test_an_administrator_watches_tv(provider, tv):
    screen = tv.look()
    assert screen.status_code == 200
    user_code, complete = tv.code(screen)
    assert f"{provider.url}/device" in screen.text
    assert complete == f"{provider.url}/device?user_code={user_code}"
    assert REFRESH.search(screen.text).group(1) == "5"  # the provider's interval
    assert "<script" not in screen.text
    assert tv.screen.get(tv.url + "/static/tv.css", timeout=10).status_code == 200
    assert "script-src" not in screen.headers["Content-Security-Policy"]  # none at all
    assert "Your TV is connected" in approve(provider, complete, PHILIP).text
    tv.may_poll_now(provider)
    home = tv.look()
    assert home.status_code == 200, home.text[:500]
    assert "Proximus TV — welcome, Philip Smith" in home.text
    assert "Channels" in home.text and "Eén" in home.text
    assert not REFRESH.search(home.text)
    # Signing out forgets the tokens: the box shows a new code.
    assert tv.screen.get(tv.url + "/logout", timeout=10, allow_redirects=False) \
        .headers["Location"] == tv.url + "/"
    again = tv.look()
    assert tv.code(again)[0] != user_code and "welcome" not in again.text


def test_a_user_is_told_why_and_where_to_become_administrator(provider, tv):
    _, complete = tv.code(tv.look())
    approve(provider, complete, MARY)
    tv.may_poll_now(provider)
    refused = tv.look()
    assert refused.status_code == 403
    assert ("TV is available to administrators of the customer number; you are a user."
            in html.unescape(refused.text))
    assert f'href="{provider.url}/console/become-administrator"' in refused.text
    assert "Channels" not in refused.text


def test_each_refresh_polls_once_and_slow_down_is_honoured(provider, tv):
    first = tv.look()
    tv.may_poll_now()  # the box thinks it may; the provider saw no poll yet
    pending = tv.look()
    assert tv.code(pending) == tv.code(first)  # authorization_pending: the same code
    assert REFRESH.search(pending.text).group(1) == "5"
    tv.may_poll_now()  # too early for the provider: slow_down
    slower = tv.look()
    assert REFRESH.search(slower.text).group(1) == "10"
    # Before the (longer) interval has passed, a refresh does not poll at all.
    [box] = tv.app.extensions["tv"]._boxes.values()
    assert box.authorization.interval == 10
    polled = box.authorization.next_poll
    tv.look()
    assert box.authorization.next_poll == polled


def test_a_declined_sign_in(provider, tv):
    user_code, complete = tv.code(tv.look())
    assert "You did not allow it" in approve(provider, complete, PHILIP, decision="deny").text
    tv.may_poll_now(provider)
    declined = tv.look()
    assert "Sign-in declined" in declined.text and "Start again" in declined.text
    assert tv.code(tv.look())[0] != user_code  # a new authorization


def test_an_expired_code_is_replaced(provider, tv):
    user_code, _ = tv.code(tv.look())
    with database.new_session(provider.app) as session:
        session.execute(update(DeviceAuthorization)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    tv.may_poll_now(provider)
    fresh = tv.look()
    assert fresh.status_code == 200
    assert tv.code(fresh)[0] != user_code


def test_each_browser_is_its_own_box_and_the_cookie_holds_no_code(provider, tv):
    one = tv.look()
    other = requests.get(tv.url + "/", timeout=10)
    assert tv.code(one)[0] != tv.code(other)[0]
    cookie = tv.screen.cookies["tv_box"]
    assert len(tv.app.extensions["tv"]._boxes) == 2
    for box in tv.app.extensions["tv"]._boxes.values():
        assert box.authorization.device_code not in cookie


def test_the_provider_down_is_a_clear_page():
    closed = f"http://127.0.0.1:{free_port()}"
    with served(lambda url: create_app(TvConfig(closed, "tv", url, "tv_box", "k" * 32))) \
            as (url, _):
        page = requests.get(url + "/", timeout=10)
    assert page.status_code == 503
    assert "Cannot sign in now" in page.text and "cannot be reached" in page.text
    assert REFRESH.search(page.text)
