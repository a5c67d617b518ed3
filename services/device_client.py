"""The client side of the OAuth 2.0 Device Authorization Grant (RFC 8628), for
a box without a keyboard: ask for a user code, then poll the token endpoint
until the person has approved it on another device.

    device = DeviceClient(issuer, client_id, scope="openid profile customer")
    authorization = device.start()          # show authorization.user_code
    outcome = device.poll(authorization)    # once per refresh of the screen
    if outcome.tokens: ...

Polling honours the interval the provider asked for, and ``slow_down``
lengthens it by 5 seconds for good (§3.5). A public client names itself
with ``client_id`` and has no secret.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests

from claims import ProviderUnavailable
from claims.provider_metadata import DEFAULT_TIMEOUT, endpoint, provider_metadata, request_json

DEVICE_CODE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
DEFAULT_INTERVAL = 5  # seconds, RFC 8628 §3.2
SLOW_DOWN_STEP = 5  # seconds, §3.5
MAX_INTERVAL = 60

PENDING = "authorization_pending"
SLOW_DOWN = "slow_down"
DENIED = "access_denied"
EXPIRED = "expired_token"
GRANTED = "granted"

log = logging.getLogger("services.device_client")


class DeviceFlowError(Exception):
    """The provider refused the box itself (unknown client, bad answer...)."""


@dataclass
class DeviceAuthorization:
    """One device authorization (§3.2), with when the box may poll next."""

    device_code: str = field(repr=False)  # the box's secret for this authorization
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_at: float  # time.monotonic()
    interval: int = DEFAULT_INTERVAL
    next_poll: float = 0.0

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.expires_at

    def may_poll(self) -> bool:
        return time.monotonic() >= self.next_poll


@dataclass(frozen=True)
class Outcome:
    """What one poll learnt: one of PENDING, SLOW_DOWN, DENIED, EXPIRED, GRANTED."""

    status: str
    tokens: dict | None = field(default=None, repr=False)


def _web_url(value: object) -> bool:
    return isinstance(value, str) and urlsplit(value).scheme in {"http", "https"} \
        and bool(urlsplit(value).netloc)


class DeviceClient:
    def __init__(self, issuer: str, client_id: str, *, scope: str,
                 resource: str | None = None, http: requests.Session | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.issuer = issuer
        self.client_id = client_id
        self.scope = scope
        self.resource = resource
        self._http = http or requests.Session()
        self._timeout = timeout
        self._metadata: dict | None = None

    @property
    def metadata(self) -> dict:
        if self._metadata is None:
            self._metadata = provider_metadata(self._http, self.issuer, timeout=self._timeout)
        return self._metadata

    def start(self) -> DeviceAuthorization:
        """Ask the provider for a user code (§3.1, §3.2)."""
        data = {"client_id": self.client_id, "scope": self.scope}
        if self.resource:
            data["resource"] = self.resource
        status, answer = self._post("device_authorization_endpoint", data,
                                    "device authorization endpoint")
        if status != 200:
            raise DeviceFlowError(_refusal("device authorization", status, answer))
        device_code, user_code = answer.get("device_code"), answer.get("user_code")
        expires_in, interval = answer.get("expires_in"), answer.get("interval", DEFAULT_INTERVAL)
        complete = answer.get("verification_uri_complete")
        if not (isinstance(device_code, str) and device_code and isinstance(user_code, str)
                and user_code and _web_url(answer.get("verification_uri"))
                and type(expires_in) is int and expires_in > 0
                and type(interval) is int and interval >= 0):
            raise DeviceFlowError("The provider's device authorization is not one of RFC 8628.")
        interval = min(max(interval, 1), MAX_INTERVAL)
        now = time.monotonic()  # the first poll waits an interval too (§3.5)
        return DeviceAuthorization(
            device_code, user_code, answer["verification_uri"],
            complete if _web_url(complete) else None, now + expires_in, interval,
            now + interval)

    def poll(self, authorization: DeviceAuthorization) -> Outcome:
        """Ask the token endpoint once (§3.4), and say when to ask again."""
        if authorization.expired:
            return Outcome(EXPIRED)
        data = {"grant_type": DEVICE_CODE_GRANT, "device_code": authorization.device_code,
                "client_id": self.client_id}
        status, answer = self._post("token_endpoint", data, "token endpoint")
        authorization.next_poll = time.monotonic() + authorization.interval
        if status == 200 and isinstance(answer.get("access_token"), str):
            return Outcome(GRANTED, answer)
        error = answer.get("error")
        if error == SLOW_DOWN:
            authorization.interval = min(authorization.interval + SLOW_DOWN_STEP, MAX_INTERVAL)
            authorization.next_poll = time.monotonic() + authorization.interval
        if error in {PENDING, SLOW_DOWN, DENIED, EXPIRED}:
            return Outcome(error)
        raise DeviceFlowError(_refusal("token request", status, answer))

    def refresh(self, refresh_token: str) -> dict | None:
        """New tokens, or None when the refresh token is no longer accepted."""
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token,
                "client_id": self.client_id}
        status, answer = self._post("token_endpoint", data, "token endpoint")
        if status == 200 and isinstance(answer.get("access_token"), str):
            return answer
        return None

    def revoke(self, token: str) -> None:
        """RFC 7009, best effort: the box forgets the token whatever happens."""
        try:  # answered with an empty 200, which is not JSON: not request_json
            self._http.post(endpoint(self.metadata, "revocation_endpoint"),
                            data={"token": token, "client_id": self.client_id,
                                  "token_type_hint": "refresh_token"},
                            timeout=self._timeout, allow_redirects=False).close()
        except (requests.RequestException, ProviderUnavailable) as error:
            log.warning("revocation failed: %s", type(error).__name__)

    def _post(self, name: str, data: dict, what: str) -> tuple[int, dict]:
        status, answer = request_json(self._http, "POST", endpoint(self.metadata, name),
                                      what=what, timeout=self._timeout, data=data,
                                      headers={"Accept": "application/json"})
        return status, answer if isinstance(answer, dict) else {}


def _refusal(what: str, status: int, answer: dict) -> str:
    error = answer.get("error") if isinstance(answer.get("error"), str) else f"HTTP {status}"
    return f"The provider refused the {what}: {error}."


__all__ = ["DENIED", "DEVICE_CODE_GRANT", "EXPIRED", "GRANTED", "PENDING", "SLOW_DOWN",
           "DeviceAuthorization", "DeviceClient", "DeviceFlowError", "Outcome"]
