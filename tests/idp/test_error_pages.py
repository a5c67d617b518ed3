"""Error pages a person can read (idp.pages.errors), over real HTTP on both
databases: 400, 403, 404, 405 and 500 as the provider's own styled pages in
the reader's language, the 500 page without a word of its cause; the
protocol endpoints still answer exactly as before, whatever the client
accepts; refusals name the wire code for the helpdesk, in plain words.

Refusal tables: the tests share one provider per database (tests/README.md,
"Sharing a provider"); none changes the demo people."""

from __future__ import annotations

import html
import re

import pytest
import requests

from tests.provider.agents import UserAgent
from tests.support.people import PHILIP

BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
JSON = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def provider(shared_provider):
    return shared_provider


def lang(page) -> str:
    return re.search(r'<html lang="([^"]+)"', page.text).group(1)


def heading(page) -> str:
    found = re.search(r'<h1 id="title">(.*?)</h1>', page.text, re.S)
    return html.unescape(" ".join(found.group(1).split())) if found else ""


def styled(page) -> bool:
    return 'class="masthead"' in page.text and "/static/keyholder.css" in page.text


@pytest.mark.parametrize(("language", "tag", "title"), [
    (None, "en-BE", "Page not found"),
    ("fr-BE,fr;q=0.8", "fr-BE", "Page introuvable"),
    ("nl", "nl-BE", "Pagina niet gevonden"),
])
def test_a_missing_page_is_a_styled_404_in_the_readers_language(provider, language, tag, title):
    headers = {**BROWSER, **({"Accept-Language": language} if language else {})}
    page = requests.get(f"{provider.url}/no/such/page", headers=headers, timeout=10)
    assert page.status_code == 404 and styled(page)
    assert (lang(page), heading(page)) == (tag, title)
    assert f"<title>{title} · MyProximus</title>" in page.text
    assert "<code>404</code>" in page.text and "Not Found" not in page.text


def test_a_signed_in_person_gets_his_own_language_and_the_header(provider):
    agent = UserAgent(provider.url)
    agent.http.headers.update({**BROWSER, "Accept-Language": "fr"})
    assert agent.login(PHILIP.email, PHILIP.password).status_code == 303
    page = agent.get("/no/such/page")
    assert page.status_code == 404 and lang(page) == "nl-BE"
    assert heading(page) == "Pagina niet gevonden"
    assert '<span class="who-name">Philip Smith</span>' in page.text


def test_a_wrong_method_on_a_page_is_a_styled_405_that_keeps_allow(provider):
    page = requests.put(f"{provider.url}/login", headers=BROWSER, timeout=10)
    assert page.status_code == 405 and styled(page)
    assert heading(page) == "This page cannot be used this way"
    assert set(page.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


def test_a_client_that_asks_for_json_gets_no_page(provider):
    for path in ("/no/such/page", "/nothing.json"):
        answer = requests.get(f"{provider.url}{path}", headers=JSON, timeout=10)
        assert answer.status_code == 404 and not styled(answer)


# Protocol endpoints: the same answer, whatever the client accepts.
PROTOCOL = [
    ("POST", "/token", {}),
    ("POST", "/token", {"grant_type": "authorization_code", "code": "x"}),
    ("GET", "/token", None),  # no such method: the framework's 405, as before
    ("POST", "/introspect", {"token": "x"}),
    ("POST", "/revoke", {"token": "x"}),
    ("POST", "/device_authorization", {"scope": "openid"}),
    ("GET", "/userinfo", None),
    ("POST", "/userinfo", {}),
    ("GET", "/ssf/streams", None),
    ("POST", "/ssf/verify", {}),
    ("GET", "/ssf/no-such-thing", None),
    ("GET", "/.well-known/no-such-thing", None),
    ("DELETE", "/jwks.json", None),
]


@pytest.mark.parametrize(("method", "path", "data"), PROTOCOL,
                         ids=[f"{m} {p}" for m, p, _ in PROTOCOL])
def test_protocol_endpoints_answer_as_before_even_to_a_browser(provider, method, path, data):
    asked = {name: requests.request(method, f"{provider.url}{path}", data=data, timeout=10,
                                    headers=headers)
             for name, headers in (("browser", BROWSER), ("json", JSON), ("plain", {}))}
    browser = asked["browser"]
    assert browser.status_code >= 400 and not styled(browser)
    for other in (asked["json"], asked["plain"]):
        assert (other.status_code, other.headers.get("Content-Type"), other.content) == \
            (browser.status_code, browser.headers.get("Content-Type"), browser.content)
    if browser.headers.get("Content-Type", "").startswith("application/json") and \
            browser.status_code != 401:
        assert "error" in browser.json()


def test_the_token_endpoint_still_says_why_in_json(provider):
    answer = requests.post(f"{provider.url}/token", data={"grant_type": "nonsense"},
                           headers=BROWSER, timeout=10)
    assert answer.status_code in (400, 401)
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"] in {"unsupported_grant_type", "invalid_client"}


# -- refusals, worded for people, the code kept ---------------------------------------


def test_an_unknown_client_is_told_plainly_with_the_code(provider):
    params = {"response_type": "code", "client_id": "nobody-knows-me", "scope": "openid",
              "redirect_uri": "https://evil.example/cb"}
    for language, words in ((None, "We do not know the service that sent you here."),
                            ("fr", "Nous ne connaissons pas le service qui vous a envoyé ici."),
                            ("nl", "We kennen de dienst niet die u hierheen heeft gestuurd.")):
        headers = {**BROWSER, **({"Accept-Language": language} if language else {})}
        page = requests.get(f"{provider.url}/authorize", params=params, headers=headers,
                            timeout=10, allow_redirects=False)
        assert page.status_code in (400, 401) and "Location" not in page.headers
        assert styled(page) and words in html.unescape(page.text), language
        assert "<code>invalid_client</code>" in page.text
        if language is None:  # the technical description, for the service's developers
            assert re.search(r'<summary>Details for the service.s developers \(in English\)'
                             r'</summary>\s*<p lang="en">', page.text)


def test_a_refusal_at_the_edge_is_in_plain_words(provider):
    for language, words in ((None, "a character that is not allowed (a control character)"),
                            ("fr", "un caractère non autorisé (un caractère de contrôle)")):
        headers = {**BROWSER, **({"Accept-Language": language} if language else {})}
        page = requests.get(f"{provider.url}/login?next=a%00b", headers=headers, timeout=10)
        assert page.status_code == 400 and styled(page)
        assert words in html.unescape(page.text) and "<code>invalid_request</code>" in page.text
        # A quiet header (no person, no language switcher): a refusal starts no session.
        assert "Set-Cookie" not in page.headers and "language-switcher" not in page.text


# -- the 500 page -----------------------------------------------------------------------


def test_the_500_page_says_nothing_of_the_cause(make_app, database_url):
    app = make_app(database_url, PROPAGATE_EXCEPTIONS=False)

    def broken():
        raise RuntimeError("the secret detail: postgresql://keyholder:hunter2@db")

    app.add_url_rule("/broken", "broken", broken)
    client = app.test_client()
    page = client.get("/broken", headers={**BROWSER, "Accept-Language": "nl"})
    assert page.status_code == 500
    body = page.get_data(as_text=True)
    assert 'class="masthead"' in body and '<html lang="nl-BE">' in body
    assert "Er ging bij ons iets mis" in body and "<code>500</code>" in body
    for leak in ("secret", "hunter2", "RuntimeError", "Traceback"):
        assert leak not in body, leak
    assert "Set-Cookie" not in page.headers  # the quiet header starts no session
    # A JSON client gets the framework's bare answer, with no detail either.
    bare = client.get("/broken", headers=JSON)
    assert bare.status_code == 500 and "secret" not in bare.get_data(as_text=True)
