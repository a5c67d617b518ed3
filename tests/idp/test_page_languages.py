"""The provider's own pages in French, Dutch and English (docs/i18n.md), over
real HTTP on both databases: the language is the OIDC ``ui_locales``, else the
person's saved language, else ``Accept-Language``, else English; the switcher
saves a signed-in person's choice; ``<html lang>`` says which; the shared
header shows the operator (never "Keyholder"), the places, the person and his
role; consent names each scope in plain words; a failed form puts its error
summary first, with the focus."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from idp.directory.models import Person
from idp.infrastructure import database
from idp.pages import masthead
from idp.pages.scope_words import scope_descriptions
from tests.provider.agents import UserAgent, query_of
from tests.snapshots import snapshot
from tests.support.people import EMMA, MARY, PHILIP, THOMAS

PORTAL = "https://my.operator.example/portal"
TITLE = re.compile(r'<h1 id="title">(.*?)</h1>', re.S)


@pytest.fixture
def provider_settings() -> dict:
    return {"PORTAL_URL": PORTAL}


@pytest.fixture
def partner(provider):
    """A client that is not first-party: its consent page shows the scopes."""
    return provider.register("Partner", "web", first_party=False)


def lang(page) -> str:
    return re.search(r'<html lang="([^"]+)"', page.text).group(1)


def heading(page) -> str:
    return html.unescape(" ".join(TITLE.search(page.text).group(1).split()))


def text(page) -> str:
    """What a person reads, entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(page.text).split())


def signed_in(provider, person, **headers) -> UserAgent:
    agent = UserAgent(provider.url)
    agent.http.headers.update(headers)
    assert agent.login(person.email, person.password).status_code == 303
    return agent


def saved_language(provider, person) -> str:
    with database.new_session(provider.app) as session:
        return session.scalar(select(Person.locale).where(Person.email == person.email))


# -- which language ---------------------------------------------------------------------


def test_ui_locales_fr_leads_to_a_french_login_page(provider, web):
    agent = UserAgent(provider.url)
    first = agent.get("/authorize", params=web.authorization(ui_locales="fr").params)
    assert first.status_code == 302 and first.headers["Location"].startswith("/login?")
    page = agent.get(first.headers["Location"])
    assert page.status_code == 200 and lang(page) == "fr-BE"
    assert heading(page) == "Se connecter"
    assert "<title>Se connecter · MyProximus</title>" in page.text
    for words in ("Adresse e-mail", "Mot de passe", "Mot de passe oublié ?", "Aller au contenu",
                  "Des questions ? Notre helpdesk est à votre disposition."):
        assert words in text(page), words
    assert "Sign in" not in page.text and "Keyholder" not in page.text
    # A wrong password: still French, the error summary first, with the focus.
    wrong = agent.login(EMMA.email, "not her password", page)
    assert wrong.status_code == 200 and lang(wrong) == "fr-BE"
    summary = re.search(r'<div class="error-summary" role="alert" tabindex="-1" autofocus '
                        r'id="form-message">([^<]+)</div>', wrong.text)
    assert summary and html.unescape(summary.group(1)) == \
        "L'adresse e-mail ou le mot de passe n'est pas correct. Veuillez réessayer."
    email = re.search(r'<input id="email"[^>]*>', wrong.text).group(0)
    assert 'aria-invalid="true"' in email and 'aria-describedby="form-message"' in email
    assert "autofocus" not in email  # the summary has the focus, not the field
    # Emma (saved: English) signs in from the French page and goes on.
    done = agent.follow(agent.login(EMMA.email, EMMA.password, wrong))
    assert "code" in query_of(done.headers["Location"])


def test_ui_locales_beats_the_saved_language_which_beats_accept_language(provider, partner):
    agent = signed_in(provider, PHILIP, **{"Accept-Language": "fr-BE,fr;q=0.9"})
    assert PHILIP.locale == "nl"
    expected = {"en": ("en-BE", "Allow Partner?"), "fr": ("fr-BE", "Autoriser Partner ?"),
                None: ("nl-BE", "Partner toestaan?")}
    for ui_locales, (tag, title) in expected.items():
        page = agent.get("/authorize", params=partner.authorization(ui_locales=ui_locales).params)
        assert page.status_code == 200 and 'name="decision"' in page.text
        assert (lang(page), heading(page)) == (tag, title), ui_locales
    # ui_locales names languages in order: the first one spoken here wins.
    page = agent.get("/authorize", params=partner.authorization(ui_locales="de-DE fr").params)
    assert lang(page) == "fr-BE"
    assert lang(agent.get("/")) == "nl-BE"  # the saved language, whatever the browser says


def test_accept_language_beats_english(provider):
    for header, tag, title in (("nl-BE,nl;q=0.9,en;q=0.5", "nl-BE", "Aanmelden"),
                               ("de-DE, en;q=0.1", "en-BE", "Sign in"),
                               (None, "en-BE", "Sign in")):
        agent = UserAgent(provider.url)
        if header:
            agent.http.headers["Accept-Language"] = header
        page = agent.get("/login")
        assert (lang(page), heading(page)) == (tag, title), header


def test_the_switcher_saves_the_language_of_a_signed_in_person(provider):
    agent = signed_in(provider, MARY)
    page = agent.get("/")
    assert lang(page) == "fr-BE" and heading(page) == "Vous êtes connecté"
    assert re.search(r'value="fr" lang="fr"\s+aria-pressed="true">Français<', page.text)
    switched = agent.post("/language", {"csrf_token": agent.csrf(page), "language": "nl",
                                        "next": "/"})
    assert switched.status_code == 303 and switched.headers["Location"] == "/"
    assert saved_language(provider, MARY) == "nl"
    again = agent.get("/")
    assert lang(again) == "nl-BE" and heading(again) == "U bent aangemeld"


def test_a_bad_language_is_refused_and_changes_nothing(provider):
    agent = signed_in(provider, MARY)
    page = agent.get("/")
    before = snapshot(provider.app)
    for fields, headers in (({"csrf_token": agent.csrf(page), "language": "de"}, {}),
                            ({"csrf_token": agent.csrf(page), "language": ""}, {}),
                            ({"language": "nl"}, {}),  # no CSRF token
                            ({"csrf_token": agent.csrf(page), "language": "nl"},
                             {"Sec-Fetch-Site": "cross-site"})):
        refused = agent.post("/language", {**fields, "next": "/"}, headers=headers)
        assert refused.status_code == 400, fields
        # The styled page, in her (unchanged) language.
        assert lang(refused) == "fr-BE" and 'class="masthead"' in refused.text
        assert heading(refused) == "Nous n'avons pas pu comprendre cette demande"
    assert snapshot(provider.app) == before
    assert saved_language(provider, MARY) == "fr"


# -- the shared header ------------------------------------------------------------------


def test_a_visitor_sees_the_operator_and_the_portal_and_no_person(provider):
    page = UserAgent(provider.url).get("/login")
    assert re.search(rf'<a class="brand" href="{PORTAL}"><span class="brand-mark" '
                     r'aria-hidden="true"></span>\s*<span class="brand-name">MyProximus</span>',
                     page.text)
    assert f'<a href="{PORTAL}">Self-care</a>' in page.text
    assert 'href="/console/"' not in page.text and 'class="who"' not in page.text
    assert '<a class="skip-link" href="#main">Skip to the content</a>' in page.text
    assert '<main id="main" tabindex="-1">' in page.text
    assert "Keyholder" not in page.text


def test_the_header_shows_the_person_his_role_and_a_way_out(provider):
    agent = signed_in(provider, MARY)
    page = agent.get("/device")  # any page but the signed-in one
    assert '<span class="who-name">Mary Jones</span>' in page.text
    assert re.search(r'<span class="role-badge"><span class="visually-hidden">Votre rôle :'
                     r' </span>utilisateur</span>', html.unescape(page.text))
    assert '<a href="/console/">Administration</a>' in page.text
    assert f'<a href="{PORTAL}">Espace client</a>' in page.text
    sign_out = re.search(r'<form class="sign-out" method="post" action="/logout">(.*?)</form>',
                         page.text, re.S)
    assert sign_out and "Se déconnecter" in sign_out.group(1)
    out = agent.submit(page, {}, action="/logout")
    assert out.status_code == 200 and heading(out) == "Vous êtes déconnecté"
    assert 'class="who"' not in out.text
    assert agent.get("/").headers["Location"].endswith("/login")


def test_the_signed_in_page_has_one_sign_out_button(provider):
    page = signed_in(provider, PHILIP).get("/")
    assert page.text.count(">Afmelden</button>") == 1
    assert '<span class="who-name">Philip Smith</span>' in page.text


def test_no_role_badge_for_a_member_of_several_customers(provider):
    page = signed_in(provider, THOMAS).get("/")
    assert '<span class="who-name">Thomas Taylor</span>' in page.text
    assert 'class="role-badge"' not in page.text


def test_the_console_is_the_current_place_there(provider):
    page = signed_in(provider, PHILIP).get("/console/")
    assert page.status_code == 200, page.status_code
    assert '<a href="/console/" aria-current="page">Beheer</a>' in page.text
    assert re.search(r'class="role-badge">.*?beheerder</span>', page.text)


def test_without_a_request_there_is_no_header_data(app):
    with app.app_context():
        assert masthead.masthead() == {}


# -- consent in plain words -------------------------------------------------------------


SCOPES = "openid profile email phone customer"


def scope_items(page) -> list[str]:
    found = re.search(r'<ul class="scopes">(.*?)</ul>', page.text, re.S).group(1)
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", found)]


def test_consent_names_each_scope_in_plain_words(provider, partner):
    agent = signed_in(provider, EMMA)
    page = agent.get("/authorize", params=partner.authorization(scope=SCOPES).params)
    assert heading(page) == "Allow Partner?"
    assert scope_items(page) == [
        "Know who you are, to recognise you next time (this does not tell it your e-mail "
        "address)",
        "See your name and language",
        "See your e-mail address",
        "See your mobile number",
        "See your customer number and your role in it (administrator or user)"]


def test_consent_in_french(provider, partner):
    agent = signed_in(provider, EMMA)
    page = agent.get("/authorize",
                     params=partner.authorization(scope=SCOPES, ui_locales="fr").params)
    assert lang(page) == "fr-BE" and heading(page) == "Autoriser Partner ?"
    assert scope_items(page) == [
        "Savoir qui vous êtes, pour vous reconnaître la prochaine fois (sans connaître votre "
        "adresse e-mail)",
        "Voir votre nom et votre langue",
        "Voir votre adresse e-mail",
        "Voir votre numéro de GSM",
        "Voir votre numéro de client et votre rôle pour celui-ci (administrateur ou "
        "utilisateur)"]
    assert "Vous êtes connecté en tant que <strong>Emma Taylor</strong>." in page.text


def test_a_scope_without_words_is_shown_as_it_is(app):
    with app.test_request_context("/", headers={"Accept-Language": "nl"}):
        assert scope_descriptions("openid loyalty openid") == [
            "Weten wie u bent, om u de volgende keer te herkennen (zonder uw e-mailadres te "
            "kennen)",
            "De toestemming ‘loyalty’ gebruiken"]
    with app.test_request_context("/"):
        assert scope_descriptions("offline_access x:y") == [
            "Keep you signed in, also while you are not using it", "Use the permission “x:y”"]
