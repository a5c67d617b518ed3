"""The app as an OAuth 2.0 native public client (RFC 8252): authorization code
with PKCE S256 (RFC 7636), ``state`` and ``nonce``, resource indicators
(RFC 8707), the authorization response's ``iss`` (RFC 9207), refresh-token
rotation. No secret: the app cannot keep one.

    client = NativeClient(issuer, client_id, resource=api)
    login = client.start(redirect_uri)          # login.url goes to the browser
    tokens, identity = client.finish(login, callback_params)
    tokens = client.refresh(tokens)
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from claims import ClaimsError, Identity, TokenVerifier
from claims.provider_metadata import endpoint, provider_metadata, request_json
from claims.vocabulary import CUSTOMER_NUMBER_PARAMETER
from services.app.token_file import StoredTokens

SCOPE = "openid profile customer phone"
TIMEOUT = 10.0  # seconds, per request to the provider


class AppError(Exception):
    """Something the person should read; the command stops with it."""


class SessionEnded(AppError):
    """The refresh token is no longer accepted: sign in again."""


@dataclass(frozen=True)
class PendingLogin:
    """One authorization request, as the app made it (kept in memory only)."""

    url: str
    redirect_uri: str
    state: str
    nonce: str
    verifier: str


def _same(received: object, expected: str) -> bool:
    return isinstance(received, str) and hmac.compare_digest(received.encode(),
                                                             expected.encode())


class NativeClient:
    def __init__(self, issuer: str, client_id: str, *, resource: str | None = None,
                 scope: str = SCOPE, http: requests.Session | None = None,
                 timeout: float = TIMEOUT) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.resource = resource
        self.scope = scope
        self._http = http or requests.Session()
        self._timeout = timeout
        self._metadata: dict | None = None
        self._verifier: TokenVerifier | None = None

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            self._metadata = provider_metadata(self._http, self.issuer, timeout=self._timeout)
        return self._metadata

    # -- the authorization request ------------------------------------------------

    def start(self, redirect_uri: str, *, customer_number: str | None = None) -> PendingLogin:
        state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        verifier = secrets.token_urlsafe(48)  # 64 characters, RFC 7636 §4.1
        params = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": redirect_uri, "scope": self.scope, "state": state,
                  "nonce": nonce, "code_challenge": create_s256_code_challenge(verifier),
                  "code_challenge_method": "S256"}
        if self.resource:
            params["resource"] = self.resource
        if customer_number:
            params[CUSTOMER_NUMBER_PARAMETER] = customer_number
        url = endpoint(self.metadata, "authorization_endpoint") + "?" + urlencode(params)
        return PendingLogin(url, redirect_uri, state, nonce, verifier)

    def finish(self, login: PendingLogin, params: dict[str, str]
               ) -> tuple[StoredTokens, Identity]:
        """Check the authorization response, redeem the code, verify the ID token."""
        # RFC 9207 §2.4: a provider that says it sends `iss` must send the right one.
        iss_expected = "iss" in params or bool(
            self.metadata.get("authorization_response_iss_parameter_supported"))
        if iss_expected and not _same(params.get("iss"), self.issuer):
            raise AppError("The answer did not come from the provider the app signed in "
                           "with; nothing was accepted.")
        if not _same(params.get("state"), login.state):
            raise AppError("The answer does not belong to this sign-in (state mismatch); "
                           "nothing was accepted.")
        if "error" in params:
            description = params.get("error_description") or "no details"
            raise AppError(f"The sign-in was not completed: {params['error']} ({description}).")
        code = params.get("code")
        if not code:
            raise AppError("The answer carries no authorization code.")
        answer = self._token_request({"grant_type": "authorization_code", "code": code,
                                      "redirect_uri": login.redirect_uri,
                                      "code_verifier": login.verifier})
        if not isinstance(answer.get("id_token"), str):
            raise AppError("The provider answered no ID token.")
        identity = self.verify_id_token(answer["id_token"], nonce=login.nonce)
        return self._stored(answer), identity

    # -- tokens --------------------------------------------------------------------

    def refresh(self, tokens: StoredTokens) -> StoredTokens:
        """New tokens for the stored refresh token (which rotates: save the result)."""
        if not tokens.refresh_token:
            raise SessionEnded("The app has no refresh token; sign in again.")
        answer = self._token_request({"grant_type": "refresh_token",
                                      "refresh_token": tokens.refresh_token},
                                     ended_on_invalid_grant=True)
        if isinstance(answer.get("id_token"), str):
            self.verify_id_token(answer["id_token"])
        return self._stored(answer, previous=tokens)

    def verify_id_token(self, id_token: str, *, nonce: str | None = None) -> Identity:
        if self._verifier is None:
            self._verifier = TokenVerifier(self.issuer, audience=self.client_id,
                                           http=self._http, timeout=self._timeout)
        try:
            return self._verifier.verify_id_token(id_token, client_id=self.client_id,
                                                  nonce=nonce)
        except ClaimsError as error:
            raise AppError(f"The ID token was refused: {error.message}") from error

    def _stored(self, answer: dict, previous: StoredTokens | None = None) -> StoredTokens:
        return StoredTokens.from_token_response(answer, issuer=self.issuer,
                                                client_id=self.client_id,
                                                resource=self.resource, previous=previous)

    def _token_request(self, data: dict[str, str], *,
                       ended_on_invalid_grant: bool = False) -> dict:
        data = {**data, "client_id": self.client_id}  # a public client names itself
        if self.resource:
            data["resource"] = self.resource
        status, answer = request_json(self._http, "POST",
                                      endpoint(self.metadata, "token_endpoint"),
                                      what="token endpoint", timeout=self._timeout, data=data,
                                      headers={"Accept": "application/json"})
        if not isinstance(answer, dict):
            raise AppError(f"The token endpoint answered something else than JSON "
                           f"(HTTP {status}).")
        if status != 200 or not isinstance(answer.get("access_token"), str):
            error = answer.get("error", f"HTTP {status}")
            if ended_on_invalid_grant and error == "invalid_grant":
                raise SessionEnded("Your session has ended; sign in again with "
                                   "`keyholder app login`.")
            description = answer.get("error_description") or "no details"
            raise AppError(f"The provider refused the tokens: {error} ({description}).")
        return answer


__all__ = ["SCOPE", "AppError", "NativeClient", "PendingLogin", "SessionEnded"]
