"""A relying party and a user agent, written with ``requests`` only (an
independent HTTP client; nothing of the provider's code is used)."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
HTML_LANG = re.compile(r'<html lang="([a-z]+)')
FORM_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def language_of(page: requests.Response) -> str:
    """The language a page is written in (its ``<html lang>``): "en", "fr", "nl".
    The provider speaks the reader's language: Mary's is French, Philip's Dutch."""
    match = HTML_LANG.search(page.text)
    assert match, page.text[:300]
    return match.group(1)


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def redirected(response: requests.Response, rp: RelyingParty) -> dict[str, str]:
    """The query of a redirect to ``rp``'s redirect URI (failing on anything else)."""
    assert response.is_redirect, (response.status_code, response.text[:300])
    assert response.headers["Location"].startswith(rp.redirect_uri + "?")
    return query_of(response.headers["Location"])


@dataclass
class Authorization:
    """One authorization request as the RP made it."""

    params: dict[str, str]
    verifier: str

    @property
    def state(self) -> str:
        return self.params["state"]


@dataclass
class RelyingParty:
    issuer: str
    client_id: str
    client_secret: str | None
    redirect_uris: list[str]

    @property
    def redirect_uri(self) -> str:
        return self.redirect_uris[0]

    @property
    def auth(self):
        return (self.client_id, self.client_secret) if self.client_secret else None

    def authorization(self, **overrides) -> Authorization:
        verifier, challenge = pkce_pair()
        params = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": self.redirect_uri, "scope": "openid profile email",
                  "state": secrets.token_urlsafe(8), "nonce": secrets.token_urlsafe(8),
                  "code_challenge": challenge, "code_challenge_method": "S256"}
        params.update(overrides)
        return Authorization({k: v for k, v in params.items() if v is not None}, verifier)

    def token(self, **data) -> requests.Response:
        if self.client_secret is None:
            data.setdefault("client_id", self.client_id)
        return requests.post(f"{self.issuer}/token", data=data, auth=self.auth, timeout=10)

    def redeem(self, code: str, verifier: str, **extra) -> requests.Response:
        return self.token(grant_type="authorization_code", code=code,
                          redirect_uri=self.redirect_uri, code_verifier=verifier, **extra)

    def refresh(self, refresh_token: str, **extra) -> requests.Response:
        return self.token(grant_type="refresh_token", refresh_token=refresh_token, **extra)

    def introspect(self, token: str, **extra) -> requests.Response:
        return requests.post(f"{self.issuer}/introspect", data={"token": token, **extra},
                             auth=self.auth, timeout=10)

    def revoke(self, token: str, **extra) -> requests.Response:
        data = {"token": token, **extra}
        if self.client_secret is None:
            data["client_id"] = self.client_id
        return requests.post(f"{self.issuer}/revoke", data=data, auth=self.auth, timeout=10)


class UserAgent:
    """A browser, as far as the protocol goes: cookies, forms with their CSRF
    token, redirects followed by hand until they leave the provider."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer
        self.http = requests.Session()
        self.last: requests.Response | None = None

    def get(self, url: str, **kwargs) -> requests.Response:
        self.last = self.http.get(urljoin(self.issuer, url), allow_redirects=False,
                                  timeout=10, **kwargs)
        return self.last

    def post(self, url: str, data: dict, **kwargs) -> requests.Response:
        self.last = self.http.post(urljoin(self.issuer, url), data=data,
                                   allow_redirects=False, timeout=10, **kwargs)
        return self.last

    @staticmethod
    def csrf(page: requests.Response) -> str:
        match = CSRF.search(page.text)
        assert match, "no CSRF token on the page"
        return match.group(1)

    def submit(self, page: requests.Response, fields: dict, action: str | None = None):
        """Post the page's form with ``fields`` and its CSRF token."""
        action = action or html.unescape(FORM_ACTION.search(page.text).group(1))
        return self.post(action, {"csrf_token": self.csrf(page), **fields})

    def login(self, email: str, password: str, page: requests.Response | None = None):
        page = page if page is not None else self.get("/login")
        # The login form, in whatever language the page speaks.
        assert page.status_code == 200 and 'action="/login"' in page.text, page.text[:300]
        next_field = re.search(r'name="next" type="hidden" value="([^"]*)"', page.text)
        return self.submit(page, {"email": email, "password": password,
                                  "next": html.unescape(next_field.group(1)) if next_field
                                  else ""}, action="/login")

    def follow(self, response: requests.Response, *, email=None, password=None,
               consent: str = "allow", limit: int = 10) -> requests.Response:
        """Follow redirects inside the provider, logging in and consenting on
        the way; stop at a redirect elsewhere or a page that is neither."""
        for _ in range(limit):
            if response.is_redirect:
                location = response.headers["Location"]
                if not urljoin(self.issuer, location).startswith(self.issuer + "/"):
                    return response
                response = self.get(location)
            elif response.status_code == 200 and 'action="/login"' in response.text and email:
                response, email = self.login(email, password, response), None
            elif response.status_code == 200 and 'name="decision"' in response.text:
                response = self.submit(response, {"decision": consent})
            else:
                return response
        raise AssertionError("too many redirects")

    def authorize(self, authorization: Authorization, *, email=None, password=None,
                  method: str = "GET", consent: str = "allow") -> requests.Response:
        if method == "GET":
            first = self.get("/authorize", params=authorization.params)
        else:
            first = self.post("/authorize", authorization.params)
        return self.follow(first, email=email, password=password, consent=consent)

    def code_for(self, rp: RelyingParty, authorization: Authorization, **login) -> str:
        """Authorize and return the code the client receives."""
        response = self.authorize(authorization, **login)
        assert response.is_redirect, (response.status_code, response.text[:500])
        location = response.headers["Location"]
        assert location.startswith(rp.redirect_uri + "?"), location
        params = query_of(location)
        assert params.get("state") == authorization.state
        assert "code" in params, params
        return params["code"]


def issued_tokens(rp: RelyingParty, email: str, password: str) -> dict:
    """Sign in as ``email`` through ``rp``'s code flow; the token response."""
    agent = UserAgent(rp.issuer)
    authorization = rp.authorization()
    code = agent.code_for(rp, authorization, email=email, password=password)
    response = rp.redeem(code, authorization.verifier)
    assert response.status_code == 200, response.text
    return response.json()
