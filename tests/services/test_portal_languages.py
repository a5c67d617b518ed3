"""The portal in the person's language, against the real provider: the role
where the operator's help page says to look ("look at your role"), what the
role allows, the "More functionalities" box that leads to the console, and
the operator's records (products, money, months, mobile numbers) written for
a French or a Dutch reader.

Mary's saved language is French and Philip's Dutch (keyholder.demo.data):
the portal speaks it from their ``locale`` claim, with nothing chosen."""

from __future__ import annotations

import html
import re
from urllib.parse import urlencode

import pytest

from tests.services.browser import Browser
from tests.support.people import MARY, PHILIP, THOMAS


@pytest.fixture
def open_portal(provider, the_portal):
    """Sign in at the portal and open ``path``: in the person's saved language
    unless ``language`` is chosen (``ui_locales``)."""
    def open_(person, path: str = "/", *, customer: str | None = None,
              language: str | None = None) -> tuple[Browser, object]:
        browser = Browser(provider.url)
        # The customer number is preselected (the chooser would be in the page's language).
        wishes = {"ui_locales": language, "customer_number": customer}
        start = "/login?" + urlencode({"next": path, **{k: v for k, v in wishes.items() if v}})
        page = browser.open(the_portal.url + start, person=person)
        assert page.status_code == 200, page.text[:500]
        return browser, page
    return open_


def role_shown(page) -> str:
    return re.search(r'<span class="role-badge" id="role">([^<]*)</span>', page.text).group(1)


def link(page, label: str) -> str:
    found = re.search(rf'<a class="button" href="([^"]+)">{re.escape(label)}</a>', page.text)
    assert found, f"no link {label!r}"
    return html.unescape(found.group(1))


def box(page) -> str:
    """The "More functionalities" box (the section after its heading)."""
    return page.text.split('id="more"', 1)[1].split("</section>", 1)[0]


def test_mary_sees_her_role_in_french_and_the_way_to_become_administrator(provider,
                                                                           the_portal,
                                                                           open_portal):
    mary, overview = open_portal(MARY)
    assert '<html lang="fr-BE">' in overview.text
    assert "<h1 id=\"title\">Mary Jones</h1>" in overview.text
    assert role_shown(overview) == "utilisateur"
    assert "123456789 (client professionnel)" in overview.text
    # What her role lets her do: her token's entitlements, in words.
    for allowed in ("Consulter la consommation de votre propre mobile",
                    "Activer des options gratuites pour votre propre mobile"):
        assert f"<li>{allowed}</li>" in overview.text
    assert "Activer des options payantes" not in overview.text
    more = box(overview)
    assert "Plus de fonctionnalités" in more and "administrateur" in more
    become = link(overview, "Devenir administrateur")
    assert become == f"{provider.url}/console/become-administrator"
    # Her own mobile, its plan, the Belgian way.
    assert "0470 00 00 02" in overview.text and "Business Mobile 20 Go" in overview.text
    # The link leads to the console's page, where she is signed in already.
    console = mary.open(become)
    assert console.url == become and console.status_code == 200
    assert 'name="customer_number"' in console.text
    assert mary.passwords_typed == 1


def test_philip_sees_his_role_in_dutch_and_the_way_to_the_members(provider, the_portal,
                                                                 open_portal):
    philip, overview = open_portal(PHILIP)
    assert '<html lang="nl-BE">' in overview.text
    assert role_shown(overview) == "beheerder"
    for allowed in ("De facturen bekijken", "Betalende opties activeren",
                    "De opties van alle abonnementen beheren"):
        assert f"<li>{allowed}</li>" in overview.text
    more = box(overview)
    assert "Meer functionaliteiten" in more
    assert "U bent al beheerder van klantnummer 123456789." in more
    assert "Beheerder worden" not in more and "become-administrator" not in more
    members = link(overview, "De leden beheren")
    assert members == f"{provider.url}/console?customer=123456789"
    console = philip.open(members)
    assert console.status_code == 200 and console.url == f"{provider.url}/console"
    assert 'href="/console/members"' in console.text
    # His records in Dutch: kinds, months, money, statuses.
    assert "<td>gsm</td>" in overview.text
    bills = philip.get(the_portal.url + "/bills")
    for text in ("oktober 2026", "€\xa0261,02", "te betalen", "augustus 2026", "betaald"):
        assert text in bills.text
    points = philip.get(the_portal.url + "/bizz-club")
    assert "heeft <strong>2.450 punten</strong>" in points.text


def test_the_same_pages_in_english_when_chosen(provider, the_portal, open_portal):
    """A choice made at sign-in (``ui_locales``) wins over the saved language."""
    _, overview = open_portal(MARY, language="en")
    assert '<html lang="en-BE">' in overview.text
    assert role_shown(overview) == "user"
    assert "<li>See the usage of your own mobile</li>" in overview.text
    assert link(overview, "Become administrator").endswith("/console/become-administrator")
    assert "More functionalities" in box(overview)


def test_a_household_administrator_is_led_to_his_own_customer_number(provider, the_portal,
                                                                      open_portal):
    """Thomas is administrator at home and user at work: the box speaks of the
    customer number the portal shows."""
    _, home = open_portal(THOMAS, customer="987654321", language="fr")
    assert role_shown(home) == "administrateur"
    assert "123456789 (client professionnel)" not in home.text
    assert link(home, "Gérer les membres") == f"{provider.url}/console?customer=987654321"
    _, work = open_portal(THOMAS, customer="123456789", language="nl")
    assert role_shown(work) == "gebruiker"
    assert link(work, "Beheerder worden") == f"{provider.url}/console/become-administrator"


def test_usage_and_options_for_a_french_reader(the_portal, open_portal):
    mary, usage = open_portal(MARY, "/usage")
    assert "Consommation de votre mobile" in usage.text
    assert "septembre 2026" in usage.text and "7\u202f340 Mo" in usage.text
    options = mary.get(the_portal.url + "/options")
    assert "Messagerie vocale par e-mail" in options.text
    assert "Vos messages vocaux arrivent dans votre boîte e-mail" in options.text
    assert "10,00\xa0€ par mois" in options.text and "gratuite" in options.text
    # A refusal of the portal's own, in French, and nothing else said in English.
    refused = mary.post_form(options, "/options/activate",
                             {"subscription": "+32470000001", "option": "Hide my number"})
    assert refused.status_code == 403
    assert ("Vous ne pouvez activer des options gratuites que pour votre propre mobile "
            "(0470 00 00 02)") in html.unescape(refused.text)
    assert "only; " not in refused.text
