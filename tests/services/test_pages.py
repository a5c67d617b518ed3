"""The services' pages as people read them: in English, French or Dutch (the
switcher, the ``locale`` claim, ``Accept-Language``), with the shared header
(the operator's brand, the places linked together, the person, sign-out),
the "You are signed out" page, the error pages; never "Keyholder"."""

from __future__ import annotations

import html
import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from services import cloud
from tests.services.browser import Browser
from tests.support.people import MARY, PHILIP

LANG = re.compile(r'<html lang="([^"]+)">')
PLACES = re.compile(r'<nav class="places"[^>]*>(.*?)</nav>', re.S)


def lang(page: requests.Response) -> str:
    return LANG.search(page.text).group(1)


def places(page: requests.Response) -> list[tuple[str, str, bool]]:
    """(title, URL, current) of the header's places."""
    nav = PLACES.search(page.text).group(1)
    return [(html.unescape(title), html.unescape(url), bool(current)) for url, current, title
            in re.findall(r'<a href="([^"]+)"( aria-current="page")?>([^<]+)</a>', nav)]


def switch(browser: Browser, page: requests.Response, language: str) -> requests.Response:
    """Press the switcher's button for ``language`` on ``page``; the page it leads back to."""
    form = re.search(r'<form class="language-switcher".*?</form>', page.text, re.S).group(0)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', form).group(1)
    back = re.search(r'name="next" type="hidden" value="([^"]*)"', form).group(1)
    answer = browser.http.post(urlsplit(page.url)._replace(path="/language", query="").geturl(),
                               data={"csrf_token": html.unescape(token), "language": language,
                                     "next": html.unescape(back)},
                               allow_redirects=False, timeout=10)
    assert answer.status_code == 303, answer.text[:300]
    return browser.open(answer.headers["Location"] if "://" in answer.headers["Location"]
                        else f"{urlsplit(page.url).scheme}://{urlsplit(page.url).netloc}"
                        + answer.headers["Location"])


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_accept_language_until_the_person_is_known(provider, english_people, the_cloud):
    """A visitor's page follows Accept-Language; a signed-in person's, his
    saved language (the locale claim: English here), then his choice."""
    browser = Browser(provider.url)
    browser.http.headers["Accept-Language"] = "fr-BE,fr;q=0.9,en;q=0.5"
    visitor = browser.get(the_cloud.url + "/signed-out")
    assert lang(visitor) == "fr-BE" and "Vous êtes déconnecté" in html.unescape(visitor.text)
    page = browser.open(the_cloud.url + "/", person=PHILIP)
    assert page.status_code == 200 and lang(page) == "en-BE" and "Folders" in page.text
    french = switch(browser, page, "fr")
    assert lang(french) == "fr-BE"
    for words in ("Dossiers", "Factures 2026", "administrateur", "Se déconnecter",
                  "Aller au contenu", "Modifiés récemment", "Go</td>"):
        assert words in french.text, words
    assert "Folders" not in french.text and "Keyholder" not in french.text
    assert 'aria-pressed="true">Français' in french.text


def test_the_switcher_changes_the_language_and_keeps_it(provider, english_people, foot_11):
    browser = Browser(provider.url)
    english = browser.open(foot_11.url + "/?tab=replays", person=PHILIP)
    assert lang(english) == "en-BE" and "Coming up" in english.text
    dutch = switch(browser, english, "nl")
    assert dutch.url == foot_11.url + "/?tab=replays"  # back where it was
    assert lang(dutch) == "nl-BE" and "Binnenkort" in dutch.text and "Zenders" not in dutch.text
    assert 'aria-pressed="true">Nederlands' in dutch.text
    again = browser.open(foot_11.url + "/")
    assert lang(again) == "nl-BE" and "Herbekijken" in again.text
    assert "Keyholder" not in again.text


def test_the_persons_saved_language_speaks_dutch(provider, one_drive):
    """Philip reads Dutch (his locale claim), whatever his browser says."""
    browser = Browser(provider.url)
    browser.http.headers["Accept-Language"] = "en"
    page = browser.open(one_drive.url + "/", person=PHILIP)
    assert page.status_code == 200 and lang(page) == "nl-BE"
    for words in ("Mijn bestanden", "Klantenlijst.xlsx", "Gewijzigd door", "Afmelden",
                  "Naar de inhoud", "<dt>Rol</dt><dd>beheerder</dd>", "(zakelijke klant)"):
        assert words in page.text, words
    assert "My files" not in page.text and "Keyholder" not in page.text


def test_a_refusal_in_french(provider, the_cloud):
    """Mary reads French: the policy's reason and what to do, in French."""
    browser = Browser(provider.url)
    page = browser.open(the_cloud.url + "/", person=MARY)
    assert page.status_code == 403 and lang(page) == "fr-BE"
    text = html.unescape(page.text)
    assert ("Le Cloud est réservé aux administrateurs du numéro de client ; vous êtes "
            "utilisateur.") in text
    assert "Le service Cloud ne vous est pas accessible" in text
    assert "Ce que vous pouvez faire" in text and "Devenir administrateur" in text
    assert f'href="{provider.url}/console/become-administrator"' in page.text
    assert "is available to administrators" not in text and "Keyholder" not in text


def test_the_header_links_the_operators_places(provider, start_service, english_people):
    service = start_service(cloud.create_app, "cloud", "The Cloud", operator_name="Acme Telecom",
                            links=lambda url: (("Self-care", "https://self-care.example/"),
                                               ("Account and roles", provider.url + "/console/"),
                                               ("The Cloud", url + "/")))
    browser = Browser(provider.url)
    page = browser.open(service.url + "/", person=PHILIP)
    assert 'class="brand-name">Acme Telecom<' in page.text
    assert 'class="brand" href="https://self-care.example/"' in page.text
    assert places(page) == [("Self-care", "https://self-care.example/", False),
                            ("Account and roles", provider.url + "/console/", False),
                            ("The Cloud", service.url + "/", True)]
    assert 'class="who-name">Philip Smith<' in page.text
    assert re.search(r'class="role-badge">.*administrator</span>', page.text)
    assert 'action="/logout"' in page.text and "MyProximus" not in page.text
    french = switch(browser, page, "fr")
    assert places(french)[:2] == [("Espace client", "https://self-care.example/", False),
                                  ("Compte et rôles", provider.url + "/console/", False)]
    assert "Keyholder" not in french.text


def test_the_signed_out_page_speaks_the_language_of_the_sign_out(provider, english_people,
                                                                 the_cloud):
    browser = Browser(provider.url)
    page = switch(browser, browser.open(the_cloud.url + "/", person=PHILIP), "fr")
    out = browser.post_form(page, "/logout", {})
    assert out.status_code == 303
    landed = browser.follow_all(out)
    assert urlsplit(landed.url).path == "/signed-out" and landed.status_code == 200
    assert lang(landed) == "fr-BE"
    text = html.unescape(landed.text)
    assert "Vous êtes déconnecté du service Cloud et de votre compte MyProximus." in text
    assert 'href="/login">Se reconnecter</a>' in landed.text
    assert 'class="who"' not in landed.text and "Keyholder" not in text
    # Signed out for real: signing in again asks for the password.
    assert browser.is_sign_in(browser.open(the_cloud.url + "/login"))


def test_the_signed_out_page_after_a_logout_elsewhere(provider, english_people, the_cloud,
                                                     foot_11):
    """Signing out at Foot 11 ends the Cloud's session too (back-channel
    logout): the Cloud's next visit says so, once, in the person's language."""
    browser = Browser(provider.url)
    switch(browser, browser.open(the_cloud.url + "/", person=PHILIP), "nl")
    page = browser.open(foot_11.url + "/")
    browser.follow_all(browser.post_form(page, "/logout", {}))
    assert wait_until(lambda: len(the_cloud.sessions) == 0)
    visit = browser.get(the_cloud.url + "/")
    assert visit.status_code == 303
    assert visit.headers["Location"] == "/signed-out?state=nl"
    landed = browser.open(the_cloud.url + visit.headers["Location"])
    assert landed.status_code == 200 and lang(landed) == "nl-BE"
    assert "U bent afgemeld bij Cloud en bij uw MyProximus-account." in html.unescape(
        landed.text)
    # Told once: the next visit goes to sign in, and the provider asks for a password.
    assert browser.is_sign_in(browser.open(the_cloud.url + "/"))


def test_a_signed_in_person_is_not_told_he_is_signed_out(provider, english_people, the_cloud):
    browser = Browser(provider.url)
    browser.open(the_cloud.url + "/", person=PHILIP)
    answer = browser.get(the_cloud.url + "/signed-out")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


@pytest.mark.parametrize(("accept", "title", "text"), [
    ("en", "This page does not exist", "Code for our helpdesk: 404"),
    ("fr", "Cette page n'existe pas", "Code pour notre service d'assistance : 404"),
    ("nl", "Deze pagina bestaat niet", "Code voor onze helpdesk: 404"),
])
def test_the_404_page(the_cloud, accept, title, text):
    page = requests.get(the_cloud.url + "/no/such/page", headers={"Accept-Language": accept},
                        timeout=10)
    assert page.status_code == 404 and page.headers["Content-Type"].startswith("text/html")
    shown = html.unescape(page.text)
    assert f'<h1 id="title">{title}</h1>' in shown and text in shown
    assert 'class="masthead"' in page.text and 'class="language-switcher"' in page.text
    assert "Not Found" not in page.text and "Keyholder" not in page.text


def test_the_405_and_csrf_pages(provider, the_cloud):
    wrong = requests.get(the_cloud.url + "/backchannel-logout", timeout=10,
                         headers={"Accept-Language": "nl"})
    assert wrong.status_code == 405 and "POST" in wrong.headers["Allow"]
    assert "Deze pagina kan niet op deze manier worden gebruikt" in wrong.text
    browser = Browser(provider.url)
    browser.http.headers["Accept-Language"] = "fr"
    browser.get(the_cloud.url + "/login")  # a session, with its CSRF secret
    forged = browser.post(the_cloud.url + "/logout", {"csrf_token": "forged"})
    assert forged.status_code == 400 and 'class="masthead"' in forged.text
    assert "rechargez la page" in html.unescape(forged.text)
    assert "Code pour notre service d'assistance : csrf" in html.unescape(forged.text)
