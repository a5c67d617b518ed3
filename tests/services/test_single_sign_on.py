"""The web services as relying parties of the real provider: one sign-in for
all of them, refusals with the policy's reason and what to do, sign-out, and
the relying party's own defences (state, PKCE, cookies, headers)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import update

from claims.vocabulary import Role
from idp.directory.models import Membership
from idp.directory.services import Directory
from idp.infrastructure import database
from tests.services.browser import Browser
from tests.support.people import EMMA, MARY, PHILIP, THOMAS

pytestmark = pytest.mark.usefixtures("english_people")


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def set_role(provider, email: str, number: str, role: Role) -> None:
    """Change a role in the provider's directory (test set-up: the services
    themselves never touch the provider's database)."""
    with provider.app.app_context():
        session = database.session()
        directory = Directory(session)
        person, customer = directory.person(email), directory.customer(number)
        session.execute(update(Membership).where(Membership.person_id == person.id,
                                                 Membership.customer_id == customer.id)
                        .values(role=role))
        session.commit()


def test_one_sign_in_opens_every_service(provider, browser, the_cloud, foot_11, one_drive):
    cloud = browser.open(the_cloud.url + "/", person=PHILIP)
    assert cloud.status_code == 200 and cloud.url == the_cloud.url + "/"
    for text in ("The Cloud", "Philip Smith", "123456789", "administrator", "Invoices 2026"):
        assert text in cloud.text
    assert browser.passwords_typed == 1
    for service, text in ((foot_11, "Coming up"), (one_drive, "My files")):
        page = browser.open(service.url + "/")  # no person: a password request would fail
        assert page.status_code == 200 and text in page.text and "Philip Smith" in page.text
        # It went through the provider, which answered at once (single sign-on).
        assert any(url.startswith(provider.url + "/authorize") for url in browser.visited)
    assert browser.passwords_typed == 1


def test_the_authorization_request(provider, browser, the_cloud):
    start = browser.get(the_cloud.url + "/?x=1")
    assert start.status_code == 302 and query(start.headers["Location"]) == {"next": "/?x=1"}
    login = browser.get(the_cloud.url + start.headers["Location"])
    assert login.status_code == 303
    location = login.headers["Location"]
    assert location.startswith(provider.url + "/authorize?")
    params = query(location)
    assert params["response_type"] == "code" and params["client_id"] == the_cloud.config.client_id
    assert params["redirect_uri"] == the_cloud.url + "/callback"
    assert params["scope"] == "openid profile customer phone"
    assert params["code_challenge_method"] == "S256" and len(params["code_challenge"]) == 43
    assert len(params["state"]) >= 43 and len(params["nonce"]) >= 43  # 256 bits
    assert params["state"] not in browser.http.cookies.get("cloud_session", "")


@pytest.mark.parametrize("service", ["the_cloud", "foot_11", "one_drive"])
def test_a_user_is_refused_with_the_reason_and_what_to_do(provider, browser, request, service):
    running = request.getfixturevalue(service)
    page = browser.open(running.url + "/", person=MARY)
    assert page.status_code == 403
    label = {"the_cloud": "The Cloud", "foot_11": "Foot 11",
             "one_drive": "OneDrive for Business"}[service]
    assert f"{label} is available to administrators of the customer number; you are a user." \
        in page.text
    assert f'href="{provider.url}/console/become-administrator"' in page.text
    assert "Mary Jones" in page.text and "Invoices 2026" not in page.text


def test_a_residential_administrator_has_the_cloud_but_not_onedrive(browser, the_cloud,
                                                                    one_drive):
    cloud = browser.open(the_cloud.url + "/", person=THOMAS, customer="987654321")
    assert cloud.status_code == 200 and "987654321" in cloud.text
    assert "Holiday photos" in cloud.text  # a household's storage
    refused = browser.open(one_drive.url + "/", customer="987654321")
    assert refused.status_code == 403
    assert ("OneDrive for Business is for business customers only; this customer number is "
            "residential.") in refused.text
    assert "console/become-administrator" not in refused.text  # it would not help
    assert "Use another customer number" in refused.text


def test_the_customer_number_can_be_named_at_login(browser, one_drive):
    page = browser.open(one_drive.url + "/login?customer_number=987+654+321", person=THOMAS)
    assert page.status_code == 403 and "residential" in page.text
    work = browser.open(one_drive.url + "/login?customer_number=123456789")
    assert work.status_code == 403 and "you are a user" in work.text
    bad = browser.get(one_drive.url + "/login?customer_number=12345")
    assert bad.status_code == 400 and "customer number" in bad.text


def test_a_household_user_is_refused(browser, the_cloud):
    page = browser.open(the_cloud.url + "/", person=EMMA)
    assert page.status_code == 403 and "you are a user" in page.text


def test_after_sign_in_the_browser_returns_where_it_was_going(browser, foot_11):
    page = browser.open(foot_11.url + "/?tab=replays", person=PHILIP)
    assert page.status_code == 200 and page.url == foot_11.url + "/?tab=replays"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_next_never_leaves_the_site(browser, foot_11, target):
    browser.open(foot_11.url + "/", person=PHILIP)
    page = browser.open(f"{foot_11.url}/login?{urlencode({'next': target})}")
    assert page.url == foot_11.url + "/"


def test_sign_out_ends_the_session_here_and_at_the_provider(provider, browser, the_cloud,
                                                            foot_11):
    page = browser.open(the_cloud.url + "/", person=PHILIP)
    browser.open(foot_11.url + "/")
    cookie = browser.cookie("cloud_session")
    out = browser.post_form(page, "/logout", {})
    assert out.status_code == 303
    location = out.headers["Location"]
    assert location.startswith(provider.url + "/logout?")
    params = query(location)
    assert params["post_logout_redirect_uri"] == the_cloud.url + "/signed-out"
    assert params["id_token_hint"].count(".") == 2
    assert browser.cookie("cloud_session") is None
    back = browser.follow_all(out)
    assert back.url.startswith(the_cloud.url + "/signed-out") and back.status_code == 200
    assert "You are signed out of The Cloud and of your MyProximus account." in back.text
    # Signed out at the provider too: the service's start page asks for a password.
    assert browser.is_sign_in(browser.open(the_cloud.url + "/"))
    # The old cookie value is worth nothing.
    stranger = Browser(provider.url)
    stranger.http.cookies.set("cloud_session", cookie, domain="127.0.0.1", path="/")
    assert stranger.get(the_cloud.url + "/").status_code == 302


def test_sign_out_needs_a_post_with_its_csrf_token(browser, the_cloud):
    browser.open(the_cloud.url + "/", person=PHILIP)
    ask = browser.get(the_cloud.url + "/logout")  # a link planted on another site
    assert ask.status_code == 200 and "Sign out?" in ask.text
    forged = browser.post(the_cloud.url + "/logout", {})
    assert forged.status_code == 400
    assert browser.get(the_cloud.url + "/").status_code == 200  # still signed in


def test_the_session_cookie_and_headers(browser, the_cloud):
    anonymous = browser.get(the_cloud.url + "/login")
    before = browser.cookie("cloud_session")
    page = browser.open(the_cloud.url + "/", person=PHILIP)
    after = browser.cookie("cloud_session")
    assert before and after and before != after  # a new value at sign-in: no fixation
    assert len(after) >= 43  # 256 bits
    callback = browser.last_from(the_cloud.url + "/callback")
    set_cookie = callback.headers["Set-Cookie"]
    assert set_cookie.startswith("cloud_session=")
    assert "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie
    for response in (anonymous, callback, page):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["Cache-Control"] == "no-store"
    assert "<script" not in page.text


def test_a_callback_this_browser_did_not_start_is_refused(provider, browser, the_cloud):
    victim = Browser(provider.url)
    victim.open(the_cloud.url + "/login", person=PHILIP)
    # The attacker starts a sign-in of his own and sends his callback URL to the victim.
    attacker = Browser(provider.url)
    start = attacker.get(attacker.get(the_cloud.url + "/login").headers["Location"])
    callback = attacker.follow_all(start, person=MARY)
    assert callback.url.startswith(the_cloud.url)  # (Mary's refusal page)
    stolen = attacker.last_from(the_cloud.url + "/callback").url
    replay = victim.get(stolen)
    assert replay.status_code == 400 and "not started in this browser" in replay.text
    assert "Philip Smith" in victim.get(the_cloud.url + "/").text


def test_a_state_is_used_once(provider, browser, the_cloud):
    browser.open(the_cloud.url + "/", person=PHILIP)
    again = browser.get(browser.last_from(the_cloud.url + "/callback").url)
    assert again.status_code == 400


def test_an_error_from_the_provider_is_shown(provider, browser, the_cloud):
    login = browser.get(the_cloud.url + "/login")
    state = query(login.headers["Location"])["state"]
    page = browser.get(the_cloud.url + "/callback", params={
        "state": state, "error": "access_denied", "error_description": "<b>No</b> thanks",
        "iss": provider.url})
    assert page.status_code == 400 and "&lt;b&gt;No&lt;/b&gt; thanks" in page.text


def test_an_answer_from_another_issuer_is_refused(provider, browser, the_cloud):
    login = browser.get(the_cloud.url + "/login")
    state = query(login.headers["Location"])["state"]
    page = browser.get(the_cloud.url + "/callback", params={
        "state": state, "code": "x", "iss": "https://evil.example"})
    assert page.status_code == 400 and "did not come from our identity provider" in page.text


def test_a_forged_code_is_refused(provider, browser, the_cloud):
    login = browser.get(the_cloud.url + "/login")
    state = query(login.headers["Location"])["state"]
    page = browser.get(the_cloud.url + "/callback", params={
        "state": state, "code": "forged", "iss": provider.url})
    assert page.status_code == 502 and "invalid_grant" in page.text
    assert re.search(r"Signing in did not complete", page.text)


def test_a_promotion_shows_at_the_next_visit(provider, browser, the_cloud):
    """The refused visit keeps no identity, so the next one asks the provider
    again (single sign-on: no password) and gets the current role."""
    assert browser.open(the_cloud.url + "/", person=MARY).status_code == 403
    set_role(provider, MARY.email, "123456789", Role.ADMINISTRATOR)  # as the console would
    page = browser.open(the_cloud.url + "/")
    assert page.status_code == 200 and "Invoices 2026" in page.text
    assert browser.passwords_typed == 1


def test_check_again_refreshes_a_page_refusal(provider, browser, the_portal):
    assert browser.open(the_portal.url + "/", person=MARY).status_code == 200
    refused = browser.get(the_portal.url + "/bills")
    assert refused.status_code == 403
    again = re.search(r'href="([^"]+)">Check again', refused.text).group(1)
    set_role(provider, MARY.email, "123456789", Role.ADMINISTRATOR)
    bills = browser.open(the_portal.url + html.unescape(again))
    assert bills.status_code == 200 and bills.url == the_portal.url + "/bills"
    assert "261,02\xa0€" in bills.text and browser.passwords_typed == 1
