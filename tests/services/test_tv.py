"""The TV box (RFC 8628 device flow) against the real provider: the screen
shows the code and refreshes itself, each refresh polls at most once; the
person allows on the provider's verification page; an administrator gets
the channels, a user the policy's reason and the way to the console."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
import requests
import segno
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

pytestmark = pytest.mark.usefixtures("english_people")


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
    assert screen.headers["Refresh"] == "5"  # the provider's interval
    assert "This screen updates by itself every 5 seconds." in screen.text
    assert "<script" not in screen.text
    assert tv.screen.get(tv.url + "/static/tv.css", timeout=10).status_code == 200
    assert "script-src" not in screen.headers["Content-Security-Policy"]  # none at all
    assert "Your TV is connected" in approve(provider, complete, PHILIP).text
    tv.may_poll_now(provider)
    home = tv.look()
    assert home.status_code == 200, home.text[:500]
    assert "Proximus TV — welcome, Philip Smith" in home.text
    assert "This box is connected: you can watch TV." in home.text
    assert "Channels" in home.text and "Eén" in home.text
    assert "Refresh" not in home.headers and "updates by itself" not in home.text
    # Signing out (a POST, asked first) forgets the tokens: the box shows a new code.
    ask = tv.screen.get(tv.url + "/logout", timeout=10, allow_redirects=False)
    assert ask.status_code == 200 and "Sign out of this box?" in ask.text
    token = html.unescape(re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                    ask.text).group(1))
    out = tv.screen.post(tv.url + "/logout", data={"csrf_token": token}, timeout=10,
                         allow_redirects=False)
    assert out.status_code == 303 and out.headers["Location"] == tv.url + "/"
    again = tv.look()
    assert "This box is signed out" in again.text
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
    # Signed in, but not connected: the box says so, and never "connected" alone.
    assert "You are signed in on this box, but it is not connected to TV." in refused.text
    assert "This box is connected" not in refused.text


def test_each_refresh_polls_once_and_slow_down_is_honoured(provider, tv):
    first = tv.look()
    tv.may_poll_now()  # the box thinks it may; the provider saw no poll yet
    pending = tv.look()
    assert tv.code(pending) == tv.code(first)  # authorization_pending: the same code
    assert pending.headers["Refresh"] == "5"
    tv.may_poll_now()  # too early for the provider: slow_down
    slower = tv.look()
    assert slower.headers["Refresh"] == "10"
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


def test_the_screen_stops_updating_by_itself_when_asked(provider, tv):
    """Whoever needs more time stops the reloading; "Check now" still asks."""
    first = tv.look()
    assert 'href="' + tv.url + '/?pause=1">Stop updating by itself' in first.text
    paused = tv.screen.get(tv.url + "/?pause=1", timeout=10, allow_redirects=False)
    assert paused.status_code == 200 and "Refresh" not in paused.headers
    assert tv.code(paused) == tv.code(first)  # the same sign-in, waiting
    assert "This screen does not update by itself now." in paused.text
    assert f'href="{tv.url}/?pause=1">Check now' in paused.text
    _, complete = tv.code(paused)
    approve(provider, complete, PHILIP)
    tv.may_poll_now(provider)
    checked = tv.screen.get(tv.url + "/?pause=1", timeout=10, allow_redirects=False)
    assert "welcome, Philip Smith" in checked.text


def test_two_screens_at_once_poll_once(provider, tv):
    """The screen's own reload and a person's reload at the same moment: one
    poll, and both show the viewer (a second poll would be refused)."""
    from concurrent.futures import ThreadPoolExecutor

    _, complete = tv.code(tv.look())
    approve(provider, complete, PHILIP)
    tv.may_poll_now(provider)
    with ThreadPoolExecutor(4) as pool:
        screens = list(pool.map(lambda _: tv.look(), range(4)))
    assert [screen.status_code for screen in screens] == [200] * 4
    assert all("welcome, Philip Smith" in screen.text for screen in screens)


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
    assert page.headers["Refresh"] == "15"


def inline_svg(page: requests.Response) -> ElementTree.Element:
    """The page's inline SVG, parsed: it must be well-formed XML."""
    svg = re.search(r"<svg.*?</svg>", page.text, re.S).group(0)
    return ElementTree.fromstring(svg)  # noqa: S314 - the box's own page, from a test server


def dark_modules(svg: ElementTree.Element) -> set[tuple[int, int]]:
    """The (row, column) of each dark module segno drew: its path of
    horizontal strokes (M/m moves, h lines), quiet zone included."""
    [path] = [p for p in svg.iter("path") if p.get("stroke")]
    dark, x, y = set(), 0.0, 0.0
    for command, numbers in re.findall(r"([MmHh])([^MmHh]*)", path.get("d")):
        values = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", numbers)]
        if command == "M":
            x, y = values
        elif command == "m":
            x, y = x + values[0], y + values[1]
        elif command == "h":
            dark |= {(int(y), int(x) + i) for i in range(int(values[0]))}
            x += values[0]
        else:
            dark |= {(int(y), col) for col in range(int(x), int(values[0]))}
            x = values[0]
    return dark


def modules_of(uri: str) -> set[tuple[int, int]]:
    """The dark modules of the QR code of ``uri`` (quiet zone of 4 included)."""
    return {(row + 4, col + 4) for row, line in enumerate(segno.make(uri, error="m").matrix)
            for col, module in enumerate(line) if module}


def test_the_screen_shows_a_qr_code_of_the_verification_link(provider, tv):
    screen = tv.look()
    user_code, complete = tv.code(screen)
    svg = inline_svg(screen)
    assert svg.get("role") == "img" and svg.get("aria-labelledby") == "qr-label"
    assert svg.find("title").text == "QR code of the sign-in link"
    described = re.search(r'<p id="qr-label">([^<]+)</p>', screen.text).group(1)
    assert "scan it to open the sign-in page with your code filled in" in described
    drawn = dark_modules(svg)
    assert drawn == modules_of(complete)  # the code of the link with the user code
    assert drawn != modules_of(f"{provider.url}/device")
    # The code in words, to read out or type one by one.
    letters = " - ".join(" ".join(group) for group in user_code.split("-"))
    assert f"Letter by letter: {letters}" in screen.text
    assert 'style="' not in screen.text  # nothing the Content-Security-Policy would block


def test_the_screen_in_french(provider, tv):
    code_page = tv.look()
    form = re.search(r'<form class="language-switcher".*?</form>', code_page.text, re.S).group(0)
    token = html.unescape(re.search(r'name="csrf_token" type="hidden" value="([^"]+)"',
                                    form).group(1))
    switched = tv.screen.post(tv.url + "/language", data={"csrf_token": token,
                                                          "language": "fr", "next": "/"},
                              timeout=10, allow_redirects=False)
    assert switched.status_code == 303
    french = tv.look()
    assert '<html lang="fr-BE">' in french.text
    assert "Connectez-vous pour regarder la TV" in french.text
    svg = inline_svg(french)
    assert svg.find("title").text == "Code QR du lien de connexion"
    _, complete = tv.code(french)
    approve(provider, complete, MARY)
    tv.may_poll_now(provider)
    refused = tv.look()
    text = html.unescape(refused.text)
    assert refused.status_code == 403 and "La TV est réservée aux administrateurs" in text
    assert "Le service Proximus TV ne vous est pas accessible" in text
    assert "Keyholder" not in text


def test_the_404_page_of_the_box(tv):
    page = requests.get(tv.url + "/nothing-here", timeout=10, headers={"Accept-Language": "nl"})
    assert page.status_code == 404 and "Deze pagina bestaat niet" in page.text
    assert 'class="masthead"' in page.text and "Keyholder" not in page.text
