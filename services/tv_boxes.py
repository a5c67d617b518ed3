"""The TV box's state (:mod:`services.tv` has its screens): its
configuration, the boxes of this process, each with its device
authorization under way or the person it shows, and how they follow the
provider (polling, refreshing, security events)."""

from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from claims import (
    Identity,
    InvalidToken,
    SecurityEvent,
    TokenVerifier,
)
from claims.provider_metadata import endpoint
from claims.security_event_types import SESSION_REVOKED, TOKEN_CLAIMS_CHANGE
from idp import i18n
from services import security_events
from services.device_client import (
    DENIED,
    EXPIRED,
    GRANTED,
    DeviceAuthorization,
    DeviceClient,
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
    # The shared header, as for the web services (relying_party.WebServiceConfig).
    title: str = "Proximus TV"
    operator_name: str = "MyProximus"
    operator_logo_url: str = ""
    time_zone: str = "Europe/Brussels"
    links: tuple[tuple[str, str], ...] = ()

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
    locale: str | None = None  # the person's language (the ID token's locale claim)

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
    # One screen at a time asks the provider: two polls with one device code
    # (the screen's own refresh and a reload) would have the second refused.
    turn: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


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

    def showing(self, box_id: object) -> Viewer | None:
        """Who the box ``box_id`` shows, if anyone (the box is not created)."""
        with self._lock:
            box = self._boxes.get(box_id) if isinstance(box_id, str) else None
            return box.viewer if box is not None else None

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
        locale = previous.locale if previous else None
        if isinstance(tokens.get("id_token"), str):
            by_id_token = self.verifier.verify_id_token(tokens["id_token"],
                                                        client_id=self.config.client_id)
            if by_id_token.subject != identity.subject:
                raise InvalidToken("The ID token and the access token are not for one person.")
            name = by_id_token.claims.get("name") or name
            sid = by_id_token.claims.get("sid") or sid
            locale = i18n.language_of(by_id_token.claims.get("locale")) or locale
        refresh_token = tokens.get("refresh_token") or (previous.refresh_token if previous
                                                        else None)
        paired_at = previous.paired_at if previous else _moment(identity.claims.get("iat"))
        return Viewer(name, identity, tokens["access_token"], refresh_token, sid, paired_at,
                      locale)

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



__all__ = ["CHANNELS", "EXTENSION", "SCOPE", "Box", "Tv", "TvConfig", "Viewer"]
