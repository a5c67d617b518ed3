"""The services' side of the authorization code flow (OIDC Core §3.1), with
``requests`` and the ``claims`` toolkit only.

- Endpoints come from the provider's discovery document, fetched at the
  first sign-in (the provider may start after the service) and kept.
- Every authorization request has its own ``state``, ``nonce`` and PKCE
  verifier (S256, RFC 7636), 256 bits each; the caller keeps them server-side.
- The code is redeemed with ``client_secret_basic`` (RFC 6749 §2.3.1: the id
  and secret form-encoded before Basic encoding).
- The ID token is verified by ``claims.TokenVerifier`` (signature against the
  provider's JWKS, ``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce``).
- A refresh (RFC 6749 §6; the session's claims changed at the provider)
  gets a new ID token, verified the same way and then held to the sign-in's
  (OIDC Core §12.2): the same ``iss``, ``sub``, ``aud``, ``azp``, ``sid``
  and ``auth_time``, and no ``nonce`` but the sign-in's. A refresh token
  the provider no longer accepts is :class:`SignInFailed`.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from claims import Identity, TokenVerifier
from claims.errors import InvalidToken, ProviderUnavailable, WrongNonce
from claims.provider_metadata import DEFAULT_TIMEOUT, endpoint, provider_metadata, request_json
from claims.vocabulary import CUSTOMER_NUMBER_PARAMETER

ENDPOINTS = ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
             "end_session_endpoint")
# OIDC Core §12.2: what an ID token from a refresh keeps of the sign-in's.
# ``iss``, ``sub`` and ``aud`` must be there and the same; ``azp`` and ``sid``
# the same when the sign-in's had them; ``auth_time`` the same when both have it.
SAME_AS_SIGN_IN = ("iss", "sub", "aud")
SAME_IF_SIGN_IN_HAD = ("azp", "sid")
NONCE = "nonce"


def sign_in_facts(identity: Identity, nonce: str) -> dict[str, Any]:
    """What a later refresh's ID token is held to: the sign-in's ID token
    claims of §12.2 and the nonce of its authentication request."""
    facts = {name: _claim(identity, name) for name in
             (*SAME_AS_SIGN_IN, *SAME_IF_SIGN_IN_HAD, "auth_time")}
    facts[NONCE] = nonce
    return facts


def _claim(identity: Identity, name: str) -> Any:
    """A claim, comparable across tokens: ``aud`` as a tuple (one string or an array)."""
    return identity.audience if name == "aud" else identity.claims.get(name)


class SignInFailed(Exception):
    """The provider did not complete the sign-in; ``code``: the provider's
    error, if it said one (for the helpdesk), else what failed."""

    def __init__(self, message: str, code: str = "sign_in_failed") -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class AuthorizationRequest:
    url: str
    state: str
    nonce: str
    code_verifier: str


class ProviderClient:
    """One web client of one provider; thread-safe, one per service app."""

    def __init__(self, issuer: str, client_id: str, client_secret: str, *,
                 http: requests.Session | None = None, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self._auth = (quote(client_id, safe=""), quote(client_secret, safe=""))
        self.http = http or requests.Session()
        self.timeout = timeout
        self._endpoints: dict[str, str] | None = None
        self._verifier: TokenVerifier | None = None
        self._lock = threading.Lock()

    def endpoint(self, name: str) -> str:
        """An endpoint named by discovery (ProviderUnavailable until it answers)."""
        if self._endpoints is None:
            with self._lock:
                if self._endpoints is None:
                    metadata = provider_metadata(self.http, self.issuer, timeout=self.timeout)
                    if "S256" not in metadata.get("code_challenge_methods_supported", ()):
                        raise ProviderUnavailable("The provider does not support PKCE S256.")
                    self._endpoints = {name: endpoint(metadata, name) for name in ENDPOINTS}
        return self._endpoints[name]

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:
            userinfo, jwks_uri = self.endpoint("userinfo_endpoint"), self.endpoint("jwks_uri")
            with self._lock:
                if self._verifier is None:
                    self._verifier = TokenVerifier(self.issuer, audience=userinfo,
                                                   jwks_uri=jwks_uri, http=self.http,
                                                   timeout=self.timeout)
        return self._verifier

    def authorization_request(self, redirect_uri: str, scope: str, *,
                              customer_number: str | None = None,
                              prompt: str | None = None,
                              ui_locales: str | None = None) -> AuthorizationRequest:
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)  # 86 characters (RFC 7636 §4.1: 43-128)
        params = {"response_type": "code", "client_id": self.client_id,
                  "redirect_uri": redirect_uri, "scope": scope, "state": state, "nonce": nonce,
                  "code_challenge": create_s256_code_challenge(code_verifier),
                  "code_challenge_method": "S256"}
        if customer_number:
            params[CUSTOMER_NUMBER_PARAMETER] = customer_number
        if prompt:
            params["prompt"] = prompt
        if ui_locales:
            params["ui_locales"] = ui_locales
        url = f"{self.endpoint('authorization_endpoint')}?{urlencode(params)}"
        return AuthorizationRequest(url, state, nonce, code_verifier)

    def redeem(self, code: str, redirect_uri: str, code_verifier: str) -> dict:
        """The token response for ``code`` (RFC 6749 §4.1.3), or SignInFailed."""
        status, body = request_json(
            self.http, "POST", self.endpoint("token_endpoint"), what="provider's token endpoint",
            timeout=self.timeout, auth=self._auth,
            data={"grant_type": "authorization_code", "code": code,
                  "redirect_uri": redirect_uri, "code_verifier": code_verifier})
        if status != 200 or not isinstance(body, dict):
            error = body.get("error") if isinstance(body, dict) else None
            raise SignInFailed("The provider did not accept the sign-in"
                               + (f" ({error})." if isinstance(error, str) else "."),
                               _code(error))
        if not isinstance(body.get("id_token"), str):
            raise SignInFailed("The provider's answer has no ID token.", "no_id_token")
        return body

    def verify_id_token(self, id_token: str, nonce: str) -> Identity:
        """The person the ID token speaks for (claims.InvalidToken if it is not
        one for us, from this sign-in)."""
        return self.verifier.verify_id_token(id_token, client_id=self.client_id, nonce=nonce)

    def refresh(self, refresh_token: str) -> dict:
        """The token response to a refresh (RFC 6749 §6), with an ID token.
        SignInFailed when the provider refuses the refresh token (revoked, the
        membership removed: HTTP 400); ProviderUnavailable when it cannot be
        asked or refuses this service itself (401, 429...)."""
        if not isinstance(refresh_token, str) or not refresh_token:
            raise SignInFailed("There is no refresh token to renew the sign-in with.")
        status, body = request_json(
            self.http, "POST", self.endpoint("token_endpoint"), what="provider's token endpoint",
            timeout=self.timeout, auth=self._auth,
            data={"grant_type": "refresh_token", "refresh_token": refresh_token})
        error = body.get("error") if isinstance(body, dict) else None
        if status == 400:
            raise SignInFailed("The provider did not renew the sign-in"
                               + (f" ({error})." if isinstance(error, str) else "."),
                               _code(error))
        if status != 200 or not isinstance(body, dict):
            raise ProviderUnavailable(f"The provider's token endpoint refused the refresh "
                                      f"(HTTP {status}).")
        if not isinstance(body.get("id_token"), str):
            raise SignInFailed("The provider's answer to the refresh has no ID token.")
        return body

    def verify_refreshed_id_token(self, id_token: str, sign_in: Mapping[str, Any]) -> Identity:
        """The person an ID token from a refresh speaks for: verified as any ID
        token (signature, ``iss``, ``aud``, ``azp``, ``exp``, ``iat``), then
        held to the sign-in's ``sign_in`` (:func:`sign_in_facts`) as OIDC Core
        §12.2 asks. claims.InvalidToken otherwise."""
        identity = self.verifier.verify_id_token(id_token, client_id=self.client_id)
        claims = identity.claims
        for name in SAME_AS_SIGN_IN:
            if sign_in.get(name) is None or _claim(identity, name) != sign_in[name]:
                raise InvalidToken(f"The renewed ID token is not for the same sign-in "
                                   f"(its '{name}' differs).")
        for name in SAME_IF_SIGN_IN_HAD:
            if sign_in.get(name) is not None and _claim(identity, name) != sign_in[name]:
                raise InvalidToken(f"The renewed ID token is not for the same sign-in "
                                   f"(its '{name}' differs).")
        if sign_in.get("auth_time") is not None and claims.get("auth_time") is not None \
                and claims["auth_time"] != sign_in["auth_time"]:
            raise InvalidToken("The renewed ID token does not keep the time of the sign-in.")
        presented = claims.get(NONCE)  # §12.2: none, or the sign-in's
        if presented is not None:
            expected = sign_in.get(NONCE)
            if not isinstance(presented, str) or not isinstance(expected, str) \
                    or not hmac.compare_digest(presented.encode("utf-8", "surrogatepass"),
                                               expected.encode("utf-8", "surrogatepass")):
                raise WrongNonce()
        return identity

    def end_session_url(self, id_token: str | None, post_logout_redirect_uri: str, *,
                        state: str | None = None, ui_locales: str | None = None) -> str:
        """Where to send the browser to sign out at the provider too
        (RP-Initiated Logout 1.0 §2; ``state`` comes back to us, ``ui_locales``
        is the language of the provider's pages on the way)."""
        params = {"client_id": self.client_id,
                  "post_logout_redirect_uri": post_logout_redirect_uri}
        if id_token:
            params["id_token_hint"] = id_token
        if state:
            params["state"] = state
        if ui_locales:
            params["ui_locales"] = ui_locales
        return f"{self.endpoint('end_session_endpoint')}?{urlencode(params)}"


def _code(error: object) -> str:
    """The provider's error code, if it is one (RFC 6749 §5.2: printable ASCII)."""
    if isinstance(error, str) and 0 < len(error) <= 64 and error.isascii() \
            and error.isprintable():
        return error
    return "sign_in_failed"


__all__ = ["AuthorizationRequest", "ProviderClient", "SignInFailed", "sign_in_facts"]
