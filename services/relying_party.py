"""A reusable OpenID Connect web relying party for the services: its
configuration, the relying party itself, and the helpers views use.

Each service (the Cloud, Foot 11, OneDrive, the portal) is a confidential web
client of Keyholder that knows only what its tokens say; it never reads the
provider's database. This module builds the Flask app every service shares:

    config = WebServiceConfig(name="cloud", title="The Cloud", issuer=ISSUER,
                              client_id=..., client_secret=..., cookie_name="cloud_session",
                              base_url="http://127.0.0.1:8101", secret_key=...,
                              required_entitlement=Entitlement.CLOUD)
    app = create_service_app(config, cloud_blueprint)

- ``/login``, ``/callback``, ``/logout``, ``/signed-out``,
  ``POST /backchannel-logout`` (:mod:`services.rp_views`); register the
  client with the redirect URI ``base_url + "/callback"``, the post-logout
  redirect URI ``base_url + "/signed-out"`` (the "You are signed out" page)
  and the back-channel logout URI ``base_url + "/backchannel-logout"``.
- Every other page needs a signed-in person: without one the browser goes to
  ``/login`` and on to the provider (which answers at once when its own
  session is alive: single sign-on). With ``required_entitlement``, a person
  whose token lacks it gets a 403 page saying why, in the policy's words
  (translated: :mod:`services.reasons`).
- Pages in English, French or Dutch (:mod:`services.language`), with the
  shared header (:mod:`services.masthead`) and styled error pages
  (:mod:`services.error_pages`).
- Server-side sessions (:mod:`services.rp_session`), CSRF tokens on every
  form (Flask-WTF), and the provider's security headers.
- With ``security_events_authorization`` (the ``authorization_header`` of
  the service's stream at the provider), ``POST /security-events`` takes the
  provider's security events: a role change refreshes the person's sessions
  at their next request, a revoked session ends (:mod:`services.security_events`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from flask import current_app, session

from claims import Identity, LogoutTokenVerifier
from claims.errors import MissingEntitlement
from claims.vocabulary import Entitlement
from services import refusals
from services.logout_receiver import LogoutReceiver
from services.oidc_client import ProviderClient
from services.rp_session import SessionStore

EXTENSION = "services.rp"
IDENTITY = "identity"  # the session key of the signed-in person's Identity
ID_TOKEN = "id_token"  # the latest ID token (the sign-in's, or a refresh's)
REFRESH_TOKEN = "refresh_token"  # kept to refresh the session when its claims change
SIGN_IN = "sign_in"  # what a refreshed ID token is held to (oidc_client.sign_in_facts)
DEFAULT_SCOPE = "openid profile customer phone"
SIGNED_OUT_PATH = "/signed-out"  # the post-logout redirect URI's path: "You are signed out"
MIN_SECRET_KEY = 32
_COOKIE_NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _check_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if not parts.hostname or parts.query or parts.fragment or parts.path not in {"", "/"}:
        raise ValueError(f"{what} is an origin such as https://cloud.example: {url!r}")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        raise ValueError(f"{what} must be https (http only on loopback): {url!r}")
    return url.rstrip("/")


@dataclass(frozen=True, kw_only=True)
class WebServiceConfig:
    """What a service needs to know; checked when it is built."""

    name: str  # short, for logs: "cloud"
    title: str  # for people: "The Cloud"
    issuer: str  # the provider's issuer URL, exactly as in its tokens
    client_id: str
    client_secret: str = field(repr=False)
    base_url: str  # the service's own origin
    cookie_name: str  # distinct per service: cookies do not tell ports apart
    secret_key: str = field(repr=False)  # signs the CSRF tokens
    scope: str = DEFAULT_SCOPE
    required_entitlement: str | None = None
    # The Authorization header the provider pushes security events with (the
    # stream's authorization_header); None: this service receives none.
    security_events_authorization: str | None = field(default=None, repr=False)
    # The shared header: the operator's name and logo (empty: the built-in
    # mark), the time zone of dates, and (title, URL) of the places of the
    # operator (the portal, the console, the services, this one too: it is
    # marked as the current one) to link to; the first is where the brand leads.
    operator_name: str = "MyProximus"
    operator_logo_url: str = ""
    time_zone: str = "Europe/Brussels"
    links: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("name", "title", "issuer", "client_id", "client_secret"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"{name} is required")
        _check_url(self.issuer, "issuer")
        object.__setattr__(self, "base_url", _check_url(self.base_url, "base_url"))
        if not _COOKIE_NAME.fullmatch(self.cookie_name) or \
                self.cookie_name.lower().startswith("keyholder"):
            raise ValueError("cookie_name is letters, digits, '-' and '_', and not the "
                             "provider's (keyholder...)")
        if self.cookie_name.startswith("__Host-") and not self.base_url.startswith("https:"):
            raise ValueError("a __Host- cookie needs an https base_url")
        if len(self.secret_key or "") < MIN_SECRET_KEY:
            raise ValueError(f"secret_key needs at least {MIN_SECRET_KEY} characters")
        if "openid" not in self.scope.split():
            raise ValueError("scope must include openid")
        if self.required_entitlement is not None:
            Entitlement(self.required_entitlement)  # ValueError for one the policy lacks
        events = self.security_events_authorization
        if events is not None and (not isinstance(events, str) or len(events.strip()) < 16
                                   or not events.isascii() or not events.isprintable()):
            raise ValueError("security_events_authorization is a header value (printable "
                             "ASCII) of at least 16 characters")

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{self.base_url}{SIGNED_OUT_PATH}"

    @property
    def backchannel_logout_uri(self) -> str:
        return f"{self.base_url}/backchannel-logout"

    @property
    def console_url(self) -> str:
        return f"{self.issuer}/console/become-administrator"

    @property
    def security_events_uri(self) -> str:
        """Where the provider pushes this service's security events (its stream's endpoint_url)."""
        return f"{self.base_url}/security-events"


class WebRelyingParty:
    """The per-app state: the provider client, the sessions, the logout
    receiver; with security events, their receiver and the session refresher
    (set by :func:`services.web_rp.create_service_app`)."""

    def __init__(self, config: WebServiceConfig) -> None:
        self.config = config
        self.provider = ProviderClient(config.issuer, config.client_id, config.client_secret)
        self.sessions = SessionStore()
        logout_tokens = LogoutTokenVerifier(config.issuer, client_id=config.client_id,
                                            http=self.provider.http,
                                            timeout=self.provider.timeout)
        self.logout_receiver = LogoutReceiver(logout_tokens, self.sessions)
        self.security_events = None  # a claims.Receiver
        self.refresher = None  # a services.security_events.SessionRefresher


def current_rp() -> WebRelyingParty:
    return current_app.extensions[EXTENSION]


def current_identity() -> Identity | None:
    """The signed-in person of this request, or None."""
    identity = session.get(IDENTITY)
    return identity if isinstance(identity, Identity) else None


def identity_required() -> Identity:
    """The signed-in person (pages behind the guard always have one)."""
    identity = current_identity()
    if identity is None:
        raise RuntimeError("no signed-in person: is this view behind the guard?")
    return identity


def requires(entitlement: Entitlement | str) -> Callable:
    """A page for people whose token grants ``entitlement``; the view gets the
    Identity as its first argument. Others get the refusal page (403)."""
    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            identity = identity_required()
            try:
                identity.require(entitlement)
            except MissingEntitlement as refusal:
                return refusals.refused(identity, str(entitlement), refusal.reason)
            return view(identity, *args, **kwargs)
        return guarded
    return decorate


def for_entitlement(config: WebServiceConfig, entitlement: Entitlement) -> WebServiceConfig:
    """``config`` for a service that is ``entitlement``: fills ``required_entitlement``
    in, and refuses a config that names another one."""
    if config.required_entitlement in (None, entitlement):
        return replace(config, required_entitlement=entitlement.value)
    raise ValueError(f"{config.title} requires {entitlement.value!r}, not "
                     f"{config.required_entitlement!r}")


__all__ = ["IDENTITY", "ID_TOKEN", "REFRESH_TOKEN", "SIGNED_OUT_PATH", "SIGN_IN", "WebRelyingParty",
           "WebServiceConfig", "current_identity", "current_rp", "for_entitlement",
           "identity_required", "requires"]
