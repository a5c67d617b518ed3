"""The self-care portal against the real provider: administrators see and
manage every subscription of their customer number, users the usage and
free options of their own mobile; every refusal says why and changes
nothing, whatever the form says.

These pages are in English (chosen at sign-in: Mary's saved language is
French, Philip's Dutch); tests/services/test_portal_languages.py has the
others. Mobile numbers are shown the Belgian way, money in en_BE's format."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.operator_data import Option, Subscription
from services.portal.data_store import ENGINE
from tests.services.browser import Browser
from tests.support.people import EMMA, MARY, PHILIP, THOMAS

SMITH_MOBILES = ("+32470000001", "+32470000002", "+32470000003")
SHOWN = {"+32470000001": "0470 00 00 01", "+32470000002": "0470 00 00 02",
         "+32470000003": "0470 00 00 03", "+32470000004": "0470 00 00 04"}
HIDDEN = re.compile(r'<input name="(\w+)" type="hidden" value="([^"]*)">')
PAID_REFUSAL = ("Activating paid options is available to administrators of the customer "
                "number; you are a user.")


def options_state(service) -> dict[tuple[str, str], tuple[bool, str | None]]:
    with Session(service.app.extensions[ENGINE]) as session:
        rows = session.execute(select(Subscription.number, Option.name, Option.active,
                                      Option.activated_by).join(Option.subscription))
        return {(number, name): (active, by) for number, name, active, by in rows}


@pytest.fixture
def signed_in(provider, the_portal):
    def sign_in(person, customer: str | None = None, language: str = "en") -> Browser:
        browser = Browser(provider.url)
        page = browser.open(f"{the_portal.url}/login?ui_locales={language}&next=/",
                            person=person, customer=customer)
        assert page.status_code == 200, page.text[:500]
        return browser
    return sign_in


def activate(browser: Browser, service, subscription: str, option: str, **kwargs):
    page = browser.get(service.url + "/options")
    return browser.post_form(page, "/options/activate",
                             {"subscription": subscription, "option": option}, **kwargs)


def confirm(browser: Browser, page, **changes):
    """Press Confirm on a paid option's confirmation ``page`` (``changes``: fields altered)."""
    assert page.status_code in (200, 409), page.text[:500]
    fields = {name: html.unescape(value) for name, value in HIDDEN.findall(page.text)
              if name != "csrf_token"}
    assert fields.get("confirmation"), "no confirmation ticket on the page"
    return browser.post_form(page, "/options/activate", {**fields, **changes})


def activate_paid(browser: Browser, service, subscription: str, option: str):
    return confirm(browser, activate(browser, service, subscription, option))


def test_an_administrator_sees_everything(the_portal, signed_in):
    philip = signed_in(PHILIP)
    overview = philip.get(the_portal.url + "/")
    for text in (*(SHOWN[m] for m in SMITH_MOBILES), "INT-123456789-01", "Mary Jones",
                 "Business Mobile 20 GB", "administrator"):
        assert text in overview.text
    for link in ("/usage", "/options", "/bills", "/bizz-club"):
        assert f'href="{link}"' in overview.text
    bills = philip.get(the_portal.url + "/bills")
    assert bills.status_code == 200
    for text in ("October 2026", "261,02\xa0€", "open", "August 2026", "248,70\xa0€", "paid"):
        assert text in bills.text
    usage = philip.get(the_portal.url + "/usage")
    assert all(SHOWN[mobile] in usage.text for mobile in SMITH_MOBILES)
    assert SHOWN["+32470000004"] not in usage.text  # another customer's
    options = philip.get(the_portal.url + "/options")
    assert all(mobile in options.text for mobile in (*SMITH_MOBILES, "INT-123456789-01"))
    assert "Sport pack" not in options.text
    points = philip.get(the_portal.url + "/bizz-club")
    assert points.status_code == 200 and "2.450 points" in points.text


def test_a_user_sees_only_her_own_mobile(provider, the_portal, signed_in):
    mary = signed_in(MARY)
    overview = mary.get(the_portal.url + "/")
    assert "0470 00 00 02" in overview.text and "Business Mobile 20 GB" in overview.text
    assert "0470 00 00 01" not in overview.text and "INT-123456789-01" not in overview.text
    assert 'href="/bills"' not in overview.text and 'href="/bizz-club"' not in overview.text
    usage = mary.get(the_portal.url + "/usage")
    assert usage.status_code == 200 and "Usage of your mobile" in usage.text
    assert "7.340 MB" in usage.text  # her September
    assert re.findall(r"0470 00 00 0\d", usage.text) == ["0470 00 00 02"] * 3
    for path, label in (("/bills", "The bills of all subscriptions"),
                        ("/bizz-club", "The Bizz Club")):
        refused = mary.get(the_portal.url + path)
        assert refused.status_code == 403
        assert (f"{label} is available to administrators of the customer number; you are a "
                f"user.") in refused.text
        assert f'href="{provider.url}/console/become-administrator"' in refused.text
        assert "2.450" not in refused.text and "€" not in refused.text


def test_a_user_activates_a_free_option_for_her_mobile(the_portal, signed_in):
    mary = signed_in(MARY)
    options = mary.get(the_portal.url + "/options")
    assert "Options of your mobile" in options.text
    assert "+32470000001" not in options.text and "0470 00 00 01" not in options.text
    assert PAID_REFUSAL in options.text  # shown beside the paid options, without a button
    before = options_state(the_portal)
    done = activate(mary, the_portal, "+32470000002", "Voicemail to e-mail")
    assert done.status_code == 303 and done.headers["Location"] == "/options"
    after = options_state(the_portal)
    active, by = after.pop(("+32470000002", "Voicemail to e-mail"))
    assert active and by  # by her sub
    before.pop(("+32470000002", "Voicemail to e-mail"))
    assert after == before  # and nothing else
    page = mary.get(the_portal.url + "/options")
    assert "Voicemail to e-mail is now active on 0470 00 00 02." in page.text
    again = activate(mary, the_portal, "+32470000002", "Voicemail to e-mail")
    assert again.status_code == 303
    assert "was already active" in mary.get(the_portal.url + "/options").text


@pytest.mark.parametrize(("subscription", "option", "reason"), [
    ("+32470000002", "Roaming Europe Pass", PAID_REFUSAL),
    ("+32470000002", "Extra 10 GB", PAID_REFUSAL),
    ("+32470000001", "Voicemail to e-mail", "free options for your own mobile (0470 00 00 02) "
                                            "only; 0470 00 00 01 is not yours"),
    ("+32470000001", "Extra 10 GB", PAID_REFUSAL),
    ("INT-123456789-01", "Parental filter", "own mobile (0470 00 00 02) only"),
    ("+32470000004", "Voicemail to e-mail", "no such option on the subscriptions of customer "
                                            "number 123456789"),  # another customer's mobile
    ("+32470000002", "Sport pack", "no such option"),
])
def test_what_a_user_may_not_activate_is_refused_and_nothing_changes(the_portal, signed_in,
                                                                     subscription, option,
                                                                     reason):
    mary = signed_in(MARY)
    before = options_state(the_portal)
    refused = activate(mary, the_portal, subscription, option)
    assert refused.status_code == 403
    assert reason in refused.text
    assert options_state(the_portal) == before


def test_an_administrator_activates_paid_options_on_any_subscription(the_portal, signed_in):
    philip = signed_in(PHILIP)
    assert activate_paid(philip, the_portal, "+32470000002", "Extra 10 GB").status_code == 303
    assert activate_paid(philip, the_portal, "INT-123456789-01",
                         "Wi-Fi booster").status_code == 303
    state = options_state(the_portal)
    assert state[("+32470000002", "Extra 10 GB")][0]
    assert state[("INT-123456789-01", "Wi-Fi booster")][0]
    # But not on another customer's subscription.
    refused = activate(philip, the_portal, "TV-987654321-01", "Sport pack")
    assert refused.status_code == 403 and not options_state(the_portal)[
        ("TV-987654321-01", "Sport pack")][0]


def test_a_residential_administrator_has_no_bizz_club(the_portal, signed_in):
    thomas = signed_in(THOMAS, customer="987654321")
    overview = thomas.get(the_portal.url + "/")
    assert "TV-987654321-01" in overview.text and "0470 00 00 04" in overview.text
    assert "0470 00 00 03" not in overview.text  # his work mobile is another customer's
    assert 'href="/bizz-club"' not in overview.text and 'href="/bills"' in overview.text
    refused = thomas.get(the_portal.url + "/bizz-club")
    assert refused.status_code == 403
    assert ("The Bizz Club is for business customers only; this customer number is "
            "residential.") in refused.text
    assert "console/become-administrator" not in refused.text
    bills = thomas.get(the_portal.url + "/bills")
    assert "94,49\xa0€" in bills.text and "261,02" not in bills.text
    assert activate_paid(thomas, the_portal, "TV-987654321-01", "Sport pack").status_code == 303
    assert options_state(the_portal)[("TV-987654321-01", "Sport pack")][0]


def test_the_same_person_at_work_is_a_user(the_portal, signed_in):
    thomas = signed_in(THOMAS, customer="123456789")
    usage = thomas.get(the_portal.url + "/usage")
    assert re.findall(r"0470 00 00 0\d", usage.text) == ["0470 00 00 03"] * 3


def test_a_household_user(the_portal, signed_in):
    emma = signed_in(EMMA)
    usage = emma.get(the_portal.url + "/usage")
    assert "0470 00 00 04" in usage.text and "2.870 MB" in usage.text
    assert emma.get(the_portal.url + "/bills").status_code == 403


def test_forms_without_their_csrf_token_or_from_another_site_change_nothing(the_portal,
                                                                            signed_in):
    mary = signed_in(MARY)
    before = options_state(the_portal)
    fields = {"subscription": "+32470000002", "option": "Voicemail to e-mail"}
    no_token = mary.post(the_portal.url + "/options/activate", fields)
    assert no_token.status_code == 400 and "Nothing was changed" in no_token.text
    cross_site = activate(mary, the_portal, "+32470000002", "Voicemail to e-mail",
                          headers={"Sec-Fetch-Site": "cross-site"})
    assert cross_site.status_code == 403
    foreign_origin = activate(mary, the_portal, "+32470000002", "Voicemail to e-mail",
                              headers={"Origin": "https://evil.example"})
    assert foreign_origin.status_code == 403
    assert options_state(the_portal) == before


def test_a_signed_out_form_post_changes_nothing(provider, the_portal, signed_in):
    mary = signed_in(MARY)
    page = mary.get(the_portal.url + "/options")
    mary.http.cookies.clear(domain="127.0.0.1", path="/", name="portal_session")
    before = options_state(the_portal)
    refused = mary.post_form(page, "/options/activate",
                             {"subscription": "+32470000002", "option": "Hide my number"})
    assert refused.status_code == 400  # no session, so no CSRF token to match
    assert options_state(the_portal) == before
