"""Proximus TV on a set-top box: a public ``device`` client that signs in with
the Device Authorization Grant (RFC 8628).

    app = create_app(TvConfig(issuer, client_id, base_url="http://127.0.0.1:8003",
                              cookie_name="tv_box", secret_key=...))

The home page is the box's screen. Not signed in, it starts a device
authorization (scope ``openid profile customer``), shows the user code big
with the verification URL, and refreshes itself every ``interval`` seconds
(``<meta http-equiv="refresh">``, no JavaScript); each refresh polls the
token endpoint at most once, honouring ``interval`` and ``slow_down``. When
the tokens arrive, the access token is verified (audience: the provider's
UserInfo endpoint, or the resource the box asked for) and the ID token gives
the name. With the ``tv`` entitlement the box shows the channels; without it,
the policy's reason and a link to the provider's console, where a user may
become administrator. An expired access token is refreshed (so a promotion
shows at the next refresh); ``GET /logout`` revokes and forgets the tokens.

Each browser is one box, named by a random id in a signed cookie; the
device code and the tokens stay in this process's memory, never in the
cookie (a device code is a credential: whoever polls with it gets the tokens).

With ``security_events_authorization`` (its stream's ``authorization_header``),
``POST /security-events`` takes the provider's security events
(:mod:`services.security_events`): a ``token-claims-change`` about the
person a box shows marks the box's tokens stale, and its next screen
refreshes them (a refresh the provider refuses, the membership removed,
signs the box out); a ``session-revoked`` (the provider session the box
was approved in ended, or every session of the person) forgets the box's
tokens: it shows a new code, to be paired again.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, redirect, render_template, session

from claims import (
    ClaimsError,
    Identity,
    InvalidToken,
    MissingEntitlement,
    SecurityEvent,
    TokenVerifier,
)
from claims.provider_metadata import endpoint
from claims.security_event_types import SESSION_REVOKED, TOKEN_CLAIMS_CHANGE
from claims.vocabulary import Entitlement
from services import security_events
from services.device_client import (
    DENIED,
    EXPIRED,
    GRANTED,
    DeviceAuthorization,
    DeviceClient,
    DeviceFlowError,
)

SCOPE = "openid profile customer"
EXTENSION = "tv"
MAX_BOXES = 10_000  # boxes remembered per process; the least recently seen go first
CHANNELS = ("Eén", "VTM", "Canvas", "Play4", "Proximus 11", "Eleven Sports", "National "
            "Geographic", "Discovery")


@dataclass(frozen=True)
class TvConfig:
    issuer: str  # the provider
    client_id: str  # the box's public client (type device)
    base_url: str  # where this app is served
    cookie_name: str  # the cookie that names the box
    secret_key: str  # signs that cookie
    resource: str | None = None  # RFC 8707: an API the token is for, if any
    scope: str = SCOPE
    # The Authorization header the provider pushes security events with (the
    # stream's authorization_header); None: no security events.
    security_events_authorization: str | None = None

    def __repr__(self) -> str:  # never the secret key
        return f"TvConfig(issuer={self.issuer!r}, client_id={self.client_id!r})"


@dataclass
class Viewer:
    name: str
    identity: Identity
    access_token: str = field(repr=False)
    refresh_token: str | None = field(default=None, repr=False)
    sid: str | None = None  # the provider session the box was approved in
    paired_at: float | None = None  # the provider's iat of the first access token

    @property
    def expired(self) -> bool:
        return time.time() >= self.identity.expires_at

    @property
    def claims_as_of(self) -> float | None:
        return _moment(self.identity.claims.get("iat"))


def _moment(value: object) -> float | None:
    return float(value) if type(value) in (int, float) else None


@dataclass
class Box:
    authorization: DeviceAuthorization | None = None
    viewer: Viewer | None = None
    stale: int | None = None  # the mark of a claims change not yet refreshed


class Tv:
    """The boxes of this process and their way to the provider."""

    def __init__(self, config: TvConfig) -> None:
        self.config = config
        self.device = DeviceClient(config.issuer, config.client_id, scope=config.scope,
                                   resource=config.resource)
        self._verifier: TokenVerifier | None = None
        self._boxes: OrderedDict[str, Box] = OrderedDict()
        self._lock = threading.Lock()
        self._marks = itertools.count(1)
        self.security_events = security_events.receiver_for(config.issuer, config.client_id)
        self.security_events.on(TOKEN_CLAIMS_CHANGE, self.claims_changed)
        self.security_events.on(SESSION_REVOKED, self.session_revoked)

    def box(self, box_id: str) -> Box:
        with self._lock:
            box = self._boxes.get(box_id) or Box()
            self._boxes[box_id] = box
            self._boxes.move_to_end(box_id)
            while len(self._boxes) > MAX_BOXES:
                self._boxes.popitem(last=False)
            return box

    def forget(self, box_id: str) -> Box | None:
        with self._lock:
            return self._boxes.pop(box_id, None)

    # -- security events ---------------------------------------------------------------

    def _showing(self, event: SecurityEvent) -> list[tuple[str, Box]]:
        """The boxes showing the person of ``event`` (under the lock)."""
        return [(box_id, box) for box_id, box in self._boxes.items()
                if box.viewer is not None and event.user is not None
                and box.viewer.identity.subject == event.user]

    def claims_changed(self, event: SecurityEvent) -> None:
        """The person's claims changed (for the customer number ``tenant``):
        their boxes for it refresh their tokens at the next screen."""
        with self._lock:
            mark = next(self._marks)
            for _, box in self._showing(event):
                viewer = box.viewer
                if event.tenant is not None and viewer.identity.customer_number != event.tenant:
                    continue
                as_of = viewer.claims_as_of
                if as_of is None or as_of <= event.issued_at:  # else: newer than the change
                    box.stale = mark

    def session_revoked(self, event: SecurityEvent) -> None:
        """The provider session the box was approved in ended (or every
        session of the person): the box forgets its tokens, and pairs again."""
        with self._lock:
            for box_id, box in self._showing(event):
                viewer = box.viewer
                if event.session is not None and viewer.sid not in (None, event.session):
                    continue
                if viewer.paired_at is not None and viewer.paired_at > event.issued_at:
                    continue  # paired after the event: a late or replayed one
                box.viewer, box.authorization, box.stale = None, None, None
                del self._boxes[box_id]

    @property
    def verifier(self) -> TokenVerifier:
        if self._verifier is None:  # the audience needs discovery: asked at first use
            audience = self.config.resource or endpoint(self.device.metadata,
                                                        "userinfo_endpoint")
            self._verifier = TokenVerifier(self.config.issuer, audience=audience)
        return self._verifier

    def viewer(self, tokens: dict, previous: Viewer | None = None) -> Viewer:
        """Who the tokens speak for, once verified (InvalidToken otherwise)."""
        identity = self.verifier.verify_access_token(tokens["access_token"])
        if previous is not None and identity.subject != previous.identity.subject:
            raise InvalidToken("The refreshed tokens are for another person.")
        name = previous.name if previous else ""
        sid = previous.sid if previous else None
        if isinstance(tokens.get("id_token"), str):
            by_id_token = self.verifier.verify_id_token(tokens["id_token"],
                                                        client_id=self.config.client_id)
            if by_id_token.subject != identity.subject:
                raise InvalidToken("The ID token and the access token are not for one person.")
            name = by_id_token.claims.get("name") or name
            sid = by_id_token.claims.get("sid") or sid
        refresh_token = tokens.get("refresh_token") or (previous.refresh_token if previous
                                                        else None)
        paired_at = previous.paired_at if previous else _moment(identity.claims.get("iat"))
        return Viewer(name, identity, tokens["access_token"], refresh_token, sid, paired_at)

    def advance(self, box: Box) -> str | None:
        """One step of the sign-in: start, poll once when it is time, or
        take the tokens. Returns DENIED when the person said no."""
        authorization = box.authorization
        if authorization is None or authorization.expired:
            box.authorization = self.device.start()
            return None
        if not authorization.may_poll():
            return None
        outcome = self.device.poll(authorization)
        if outcome.status == GRANTED:
            box.authorization = None
            box.viewer = self.viewer(outcome.tokens)
        elif outcome.status == DENIED:
            box.authorization = None
            return DENIED
        elif outcome.status == EXPIRED:
            box.authorization = self.device.start()  # a new code, at once
        return None

    def renew(self, box: Box) -> None:
        """Refresh an expired or stale access token, or sign the box out."""
        viewer, mark = box.viewer, box.stale
        tokens = self.device.refresh(viewer.refresh_token) if viewer.refresh_token else None
        renewed = self.viewer(tokens, viewer) if tokens else None
        with self._lock:
            if box.viewer is not viewer:  # forgotten meanwhile (a revoked session)
                return
            box.viewer = renewed
            if box.stale == mark:  # a change that came meanwhile waits for the next screen
                box.stale = None


blueprint = Blueprint("tv", __name__)


def _tv() -> Tv:
    return current_app.extensions[EXTENSION]


def _box_id() -> str:
    if not isinstance(session.get("box"), str):
        session["box"] = secrets.token_urlsafe(16)
        session.permanent = True
    return session["box"]


def _page(template: str, status: int = 200, **context):
    tv = _tv()
    return render_template(f"tv/{template}", base_url=tv.config.base_url.rstrip("/"),
                           issuer=tv.config.issuer.rstrip("/"), **context), status


@blueprint.get("/")
def home():
    tv, box_id = _tv(), _box_id()
    box = tv.box(box_id)
    try:
        if box.viewer is not None and (box.viewer.expired or box.stale is not None):
            tv.renew(box)
        if box.viewer is None and tv.advance(box) == DENIED:
            return _page("message.html", title="Sign-in declined",
                         text="The sign-in was declined. Start again to get a new code.",
                         again=True)
    except InvalidToken:
        tv.forget(box_id)
        return _page("message.html", 502, title="Sign-in failed",
                     text="The provider's tokens could not be verified.", again=True)
    except (ClaimsError, DeviceFlowError) as error:  # the provider down or refusing the box
        text = error.message if isinstance(error, ClaimsError) else str(error)
        return _page("message.html", 503, title="Cannot sign in now", text=text, refresh=15)
    if box.viewer is None:
        authorization = box.authorization
        return _page("code.html", authorization=authorization, refresh=authorization.interval)
    viewer = box.viewer
    try:
        viewer.identity.require(Entitlement.TV)
    except MissingEntitlement as refusal:
        return _page("refused.html", 403, viewer=viewer, reason=refusal.reason)
    return _page("home.html", viewer=viewer, channels=CHANNELS)


@blueprint.get("/logout")
def logout():
    box = _tv().forget(session.pop("box", None) or "")
    if box is not None and box.viewer is not None and box.viewer.refresh_token:
        _tv().device.revoke(box.viewer.refresh_token)
    return redirect(_tv().config.base_url.rstrip("/") + "/")


def _security_headers(response):
    response.headers["Content-Security-Policy"] = ("default-src 'none'; style-src 'self'; "
                                                   "img-src 'self'; frame-ancestors 'none'")
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"  # the user code, the viewer's name
    return response


def create_app(config: TvConfig) -> Flask:
    app = Flask(__name__, template_folder="templates", static_folder="static/tv",
                static_url_path="/static")
    base = urlsplit(config.base_url)
    app.config.update(SECRET_KEY=config.secret_key, SESSION_COOKIE_NAME=config.cookie_name,
                      SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=base.scheme == "https",
                      SESSION_COOKIE_PATH=base.path or "/")
    tv = app.extensions[EXTENSION] = Tv(config)
    app.register_blueprint(blueprint)
    if config.security_events_authorization is not None:
        security_events.install(app, tv.security_events, config.security_events_authorization)
    app.after_request(_security_headers)
    return app


__all__ = ["CHANNELS", "SCOPE", "Tv", "TvConfig", "create_app"]
