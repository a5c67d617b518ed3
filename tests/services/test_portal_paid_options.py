"""Paid options ask first, with the price: the first POST shows "Activate
<option> for <price> a month?" and changes nothing; only the Confirm of that
page (its signed ticket, and the CSRF token) activates. Free options stay
one click. Whatever else a form sends changes nothing, and says why.

Against the real provider (both databases) and the portal's own SQLite store."""

from __future__ import annotations

import html
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from claims import Identity
from services.operator_data import Option, Subscription
from services.portal import confirmation
from services.portal.data_store import ENGINE
from tests.services.browser import Browser
from tests.services.conftest import SECRET_KEY
from tests.support.people import MARY, PHILIP

MARY_MOBILE = "+32470000002"
EXTRA = (MARY_MOBILE, "Extra 10 GB")  # 10 euros a month
ROAMING = (MARY_MOBILE, "Roaming Europe Pass")  # 5 euros a month
CONFIRM_FORM = re.compile(r'<form method="post" action="/options/activate">(.*?)</form>', re.S)
HIDDEN = re.compile(r'<input name="(\w+)" type="hidden" value="([^"]*)">')


def state(portal) -> dict[tuple[str, str], tuple[bool, str | None]]:
    with Session(portal.app.extensions[ENGINE]) as session:
        rows = session.execute(select(Subscription.number, Option.name, Option.active,
                                      Option.activated_by).join(Option.subscription))
        return {(number, name): (active, by) for number, name, active, by in rows}


def set_fee(portal, target: tuple[str, str], cents: int) -> None:
    """The operator changes a price (in its own store)."""
    with Session(portal.app.extensions[ENGINE]) as session:
        option_id = session.scalar(select(Option.id).join(Option.subscription).where(
            Subscription.number == target[0], Option.name == target[1]))
        session.execute(update(Option).where(Option.id == option_id)
                        .values(monthly_fee_cents=cents))
        session.commit()


@pytest.fixture
def signed_in(provider, the_portal):
    def sign_in(person, language: str | None = None) -> Browser:
        browser = Browser(provider.url)
        start = f"/login?ui_locales={language}&next=/options" if language else "/options"
        page = browser.open(the_portal.url + start, person=person)
        assert page.status_code == 200, page.text[:500]
        return browser
    return sign_in


def ask(browser: Browser, portal, target: tuple[str, str], **extra):
    """The Activate button of the options page (plus ``extra`` fields)."""
    page = browser.get(portal.url + "/options")
    return browser.post_form(page, "/options/activate",
                             {"subscription": target[0], "option": target[1], **extra})


def confirm_fields(page) -> dict[str, str]:
    form = CONFIRM_FORM.search(page.text)
    assert form, "no confirmation form on the page"
    return {name: html.unescape(value) for name, value in HIDDEN.findall(form.group(1))
            if name != "csrf_token"}


def confirm(browser: Browser, page, **changes):
    return browser.post_form(page, "/options/activate", {**confirm_fields(page), **changes})


def test_a_paid_option_asks_first_with_its_price_in_french(the_portal, signed_in):
    philip = signed_in(PHILIP, language="fr")
    before = state(the_portal)
    question = ask(philip, the_portal, EXTRA)
    assert question.status_code == 200
    assert '<html lang="fr-BE">' in question.text
    assert ("Activer 10 Go supplémentaires pour 10,00\xa0€ par mois\xa0?"
            in html.unescape(question.text))
    assert "0470 00 00 02" in question.text  # the subscription, for people
    assert 'href="/options">Annuler</a>' in question.text
    assert state(the_portal) == before  # asking changed nothing
    done = confirm(philip, question)
    assert done.status_code == 303 and done.headers["Location"] == "/options"
    after = state(the_portal)
    active, by = after.pop(EXTRA)
    assert active and by
    before.pop(EXTRA)
    assert after == before  # that option, and nothing else
    page = philip.get(the_portal.url + "/options")
    assert ("L'option 10 Go supplémentaires est maintenant activée sur le 0470 00 00 02."
            in html.unescape(page.text))


def test_the_price_in_dutch_and_the_same_question_twice(the_portal, signed_in):
    philip = signed_in(PHILIP)  # his saved language
    question = ask(philip, the_portal, ROAMING)
    assert '<html lang="nl-BE">' in question.text
    assert "Roaming Europe Pass activeren voor €\xa05,00 per maand?" in question.text
    again = ask(philip, the_portal, ROAMING)  # asking twice: still nothing
    assert again.status_code == 200 and not state(the_portal)[ROAMING][0]
    assert confirm(philip, again).status_code == 303
    assert state(the_portal)[ROAMING][0]
    # Its ticket, kept, only says "already active".
    assert confirm(philip, question).status_code == 303
    assert "was al actief" in philip.get(the_portal.url + "/options").text


def test_a_free_option_stays_one_click(the_portal, signed_in):
    philip = signed_in(PHILIP, language="en")
    options = philip.get(the_portal.url + "/options")
    assert "You confirm the price first." in options.text
    assert ask(philip, the_portal, (MARY_MOBILE, "Hide my number")).status_code == 303
    assert state(the_portal)[(MARY_MOBILE, "Hide my number")][0]


def test_a_changed_price_or_an_old_page_asks_again(the_portal, signed_in):
    philip = signed_in(PHILIP, language="en")
    question = ask(philip, the_portal, EXTRA)
    set_fee(the_portal, EXTRA, 1200)  # the operator changed it meanwhile
    changed = confirm(philip, question)
    assert changed.status_code == 409 and not state(the_portal)[EXTRA][0]
    assert "The price changed since you were asked" in changed.text
    assert "Activate Extra 10 GB for 12,00\xa0€ a month?" in changed.text
    # A page left open too long: its ticket is signed but old.
    fields = confirm_fields(changed)
    old = URLSafeTimedSerializer(SECRET_KEY, salt=confirmation.SALT, signer=_LongAgo)
    signed = old.loads(fields["confirmation"])
    expired = confirm(philip, changed, confirmation=old.dumps(signed))
    assert expired.status_code == 409 and not state(the_portal)[EXTRA][0]
    assert "This confirmation was open too long" in expired.text
    assert confirm(philip, expired).status_code == 303
    assert state(the_portal)[EXTRA][0]


class _LongAgo(TimestampSigner):
    """Signs as if it were a little longer ago than a confirmation page lasts."""

    def get_timestamp(self) -> int:
        return int(time.time()) - confirmation.MAX_AGE - 60


@pytest.mark.parametrize(("changes", "status", "words"), [
    ({"confirmation": "forged"}, 400, "Nothing was changed"),
    ({"option": "Roaming Europe Pass"}, 400, "Nothing was changed"),  # another option's ticket
    ({"option": "Extra 10 GB\x00"}, 400, "Nothing was changed"),
    ({"option": "Extra 10 GB\n"}, 400, "Nothing was changed"),
    ({"subscription": MARY_MOBILE + "\x00"}, 400, "Nothing was changed"),
    ({"confirmation": "a\x00b"}, 400, "Nothing was changed"),
    ({"option": "Sport pack"}, 403, "no such option"),
    ({"subscription": "+32470000004"}, 403, "no such option"),  # another customer's mobile
])
def test_a_confirmation_that_does_not_match_changes_nothing(the_portal, signed_in, changes,
                                                            status, words):
    philip = signed_in(PHILIP, language="en")
    question = ask(philip, the_portal, EXTRA)
    before = state(the_portal)
    refused = confirm(philip, question, **changes)
    assert refused.status_code == status
    assert words in refused.text
    assert state(the_portal) == before


def test_what_skips_the_question_or_the_rules_changes_nothing(the_portal, signed_in):
    philip = signed_in(PHILIP, language="en")
    question = ask(philip, the_portal, EXTRA)
    before = state(the_portal)
    # The Confirm without the session's CSRF token.
    no_token = philip.http.post(the_portal.url + "/options/activate", confirm_fields(question),
                                allow_redirects=False, timeout=10)
    assert no_token.status_code == 400
    # A user with a ticket of her own making, or none: the rules answer first.
    mary = signed_in(MARY, language="en")
    for extra in ({}, {"confirmation": confirm_fields(question)["confirmation"]}):
        refused = ask(mary, the_portal, EXTRA, **extra)
        assert refused.status_code == 403
        assert "Activating paid options is available to administrators" in refused.text
    assert state(the_portal) == before


def test_a_ticket_names_its_person_its_option_and_its_price(the_portal):
    """The ticket itself: another person's, another option's, or one whose
    price changed since does not confirm."""
    with Session(the_portal.app.extensions[ENGINE]) as session:
        extra, roaming = (session.scalar(select(Option).join(Option.subscription).where(
            Subscription.number == number, Option.name == name)) for number, name in (EXTRA,
                                                                                     ROAMING))
        philip, someone = _identity("philip-sub"), _identity("someone-else")
        with the_portal.app.test_request_context():
            ticket = confirmation.issue(philip, extra)
            assert confirmation.check(ticket, philip, extra)
            assert confirmation.check(ticket, someone, extra).problem \
                is confirmation.Problem.NOT_THIS
            assert confirmation.check(ticket, philip, roaming).problem \
                is confirmation.Problem.NOT_THIS
            assert confirmation.check(ticket + "x", philip, extra).problem \
                is confirmation.Problem.NOT_THIS
            extra.monthly_fee_cents += 100
            assert confirmation.check(ticket, philip, extra).problem \
                is confirmation.Problem.PRICE_CHANGED


def _identity(subject: str) -> Identity:
    return Identity(subject, "portal", "https://issuer.example", ("portal",),
                    frozenset({"openid"}),
                    int((datetime.now(UTC) + timedelta(minutes=5)).timestamp()),
                    customer_number="123456789")
