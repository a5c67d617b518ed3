"""A browser for the services, written with ``requests`` only: cookies, and
redirects followed by hand across the services and the provider, signing in
and choosing a customer number on the provider's pages when asked."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin, urlsplit

import requests

from tests.provider.agents import UserAgent

SIGN_IN_FORM = 'action="/login"'
CHOOSER = "Which customer number?"
SERVICE_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


class Browser(UserAgent):
    def __init__(self, issuer: str) -> None:
        super().__init__(issuer)
        self.passwords_typed = 0
        self.visited: list[str] = []
        self.responses: list[requests.Response] = []

    def get(self, url: str, **kwargs) -> requests.Response:
        self.visited.append(url)
        response = super().get(url, **kwargs)
        self.responses.append(response)
        return response

    def last_from(self, prefix: str) -> requests.Response:
        """The last response to a GET of a URL starting with ``prefix``."""
        return next(r for r in reversed(self.responses) if r.url.startswith(prefix))

    def at_provider(self, response: requests.Response) -> bool:
        return response.url.startswith(self.issuer + "/")

    def open(self, url: str, *, person=None, customer: str | None = None,
             limit: int = 15) -> requests.Response:
        """GET ``url`` and follow redirects to the page they end on; type
        ``person``'s password if the provider asks (once; without ``person``,
        the sign-in page is where it ends), choose ``customer`` on the
        provider's account chooser."""
        return self.follow_all(self.get(url), person=person, customer=customer, limit=limit)

    def follow_all(self, response: requests.Response, *, person=None,
                   customer: str | None = None, limit: int = 15) -> requests.Response:
        for _ in range(limit):
            if response.is_redirect:
                response = self.get(urljoin(response.url, response.headers["Location"]))
            elif self.is_sign_in(response) and person is not None:
                response = self.login(person.email, person.password, response)
                self.passwords_typed += 1
                person = None  # a second request for the password is a failure: stop there
            elif self.at_provider(response) and CHOOSER in response.text and customer:
                response = self.submit(response, {"customer": customer})
                customer = None
            else:
                return response
        raise AssertionError("too many redirects: " + " -> ".join(self.visited[-limit:]))

    def is_sign_in(self, response: requests.Response) -> bool:
        return (self.at_provider(response) and response.status_code == 200
                and SIGN_IN_FORM in response.text)

    def post_form(self, page: requests.Response, action: str, fields: dict,
                  **kwargs) -> requests.Response:
        """POST ``fields`` and the page's CSRF token to ``action`` on the page's site."""
        match = SERVICE_CSRF.search(page.text)
        assert match, "no CSRF token on the page"
        self.last = self.http.post(urljoin(page.url, action),
                                   data={"csrf_token": html.unescape(match.group(1)), **fields},
                                   allow_redirects=False, timeout=10, **kwargs)
        return self.last

    def cookie(self, name: str) -> str | None:
        return self.http.cookies.get(name, domain=urlsplit(self.issuer).hostname)
