"""The device authorization grant (RFC 8628), for TV boxes.

The device asks at ``/device_authorization`` and shows the user code; the
person types it on the verification page (:mod:`idp.pages.device`) and allows or
denies; the device polls the token endpoint. Authlib never marks a device
code as used, so every poll after approval would issue tokens: here the
redemption is a conditional UPDATE, once."""

from __future__ import annotations

import secrets
from datetime import timedelta

from authlib.oauth2.rfc6749.errors import InvalidGrantError, UnauthorizedClientError
from authlib.oauth2.rfc8628 import DeviceAuthorizationEndpoint as _DeviceAuthorizationEndpoint
from authlib.oauth2.rfc8628 import DeviceCodeGrant as _DeviceCodeGrant
from flask import current_app, url_for
from sqlalchemy import select, update

from idp.clients.models import GrantType
from idp.directory.models import utcnow
from idp.infrastructure import database
from idp.protocol import resources
from idp.protocol.grants.token_generation import IssuingGrant
from idp.protocol.tokens import minting
from idp.protocol.tokens.models import DeviceAuthorization

USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"  # no vowels: no words; 20^8 ≈ 2^34.6
LIFETIME = 600
INTERVAL = 5


def new_user_code() -> str:
    return "-".join("".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(4))
                    for _ in range(2))


def normalise_user_code(typed: str) -> str | None:
    """``bcdf ghjk`` and ``BCDF-GHJK`` alike; None when it cannot be a code."""
    letters = "".join(c for c in typed.upper() if c not in " -")[:16]
    if len(letters) != 8 or any(c not in USER_CODE_ALPHABET for c in letters):
        return None
    return f"{letters[:4]}-{letters[4:]}"


class DeviceAuthorizationEndpoint(_DeviceAuthorizationEndpoint):
    """RFC 8628 §3.1-3.2. Authlib's response, with the client's grant types,
    its allowed scopes and the resources (RFC 8707) checked and kept."""

    EXPIRES_IN = LIFETIME
    INTERVAL = INTERVAL

    def authenticate_client(self, request):
        client = super().authenticate_client(request)
        if not client.check_grant_type(GrantType.DEVICE_CODE):
            raise UnauthorizedClientError("This client may not use the device flow.")
        return client

    def generate_user_code(self):
        return new_user_code()

    def get_verification_uri(self):
        return current_app.config["KEYHOLDER"].ISSUER + url_for("device.verify")

    def create_endpoint_response(self, request):
        client = self.authenticate_client(request)
        asked = resources.requested(request.payload.datalist.get(resources.PARAMETER, []))
        device_code = self.generate_device_code()
        user_code = self.generate_user_code()
        verification_uri = self.get_verification_uri()
        db = database.session()
        now = utcnow()
        db.add(DeviceAuthorization(
            device_code_hash=minting.digest(device_code), user_code=user_code,
            client_id=client.id, scope=client.get_allowed_scope(request.payload.scope),
            resources=asked, created_at=now, expires_at=now + timedelta(seconds=LIFETIME),
            interval=INTERVAL))
        db.commit()
        return 200, {
            "device_code": device_code, "user_code": user_code,
            "verification_uri": verification_uri,
            "verification_uri_complete": f"{verification_uri}?user_code={user_code}",
            "expires_in": LIFETIME, "interval": INTERVAL,
        }, [("Content-Type", "application/json"), ("Cache-Control", "no-store"),
            ("Pragma", "no-cache")]


class InvalidDeviceCode(InvalidGrantError):
    description = "This device code is not valid: it is unknown, used already, or another client's."


class DeviceCredential:
    """What Authlib's grant asks of a device request."""

    def __init__(self, row: DeviceAuthorization) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_scope(self) -> str:
        return self.row.scope

    def get_user_code(self) -> str:
        return self.row.user_code

    def is_expired(self) -> bool:
        return self.row.expires_at <= utcnow()


class DeviceCodeGrant(IssuingGrant, _DeviceCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]

    def authenticate_token_endpoint_client(self):
        # Authlib sets request.client only after query_device_credential, which needs it.
        self.request.client = super().authenticate_token_endpoint_client()
        return self.request.client

    def query_device_credential(self, device_code):
        """RFC 8628 §3.5 with RFC 6749 §5.2: a device code that is unknown,
        spent or another client's is ``invalid_grant`` (Authlib would answer
        ``invalid_request`` or ``unauthorized_client``), the same for all three."""
        row = database.session().scalar(select(DeviceAuthorization).where(
            DeviceAuthorization.device_code_hash == minting.digest(device_code)))
        if row is None or row.redeemed_at is not None or \
                row.client_id != self.request.client.get_client_id():
            raise InvalidDeviceCode()
        return DeviceCredential(row)

    def query_user_grant(self, user_code):
        row = database.session().scalar(select(DeviceAuthorization).where(
            DeviceAuthorization.user_code == user_code))
        if row is None or row.decided_at is None:
            return None
        person = row.person
        if row.approved and (person is None or not person.is_active):
            raise InvalidGrantError("The person who approved is not active.")
        return person, bool(row.approved)

    def should_slow_down(self, credential):
        row = credential.row
        now = utcnow()
        too_soon = row.last_polled_at is not None and \
            now - row.last_polled_at < timedelta(seconds=row.interval)
        row.last_polled_at = now
        if too_soon:
            row.interval += 5  # RFC 8628 §3.5: and for every later request
        return too_soon

    def token_family(self, person, scope):
        row = self.request.credential.row
        redeemed = database.session().execute(
            update(DeviceAuthorization)
            .where(DeviceAuthorization.id == row.id, DeviceAuthorization.redeemed_at.is_(None))
            .values(redeemed_at=utcnow()))
        if redeemed.rowcount != 1:
            raise InvalidGrantError("This device code was used already.")
        sso = row.session
        family = minting.new_family(
            current_app, client=self.request.client, person=person, scope=scope,
            session_id=row.session_id, code_id=None,
            auth_time=sso.auth_time if sso else row.decided_at, amr=sso.amr if sso else [],
            sid=sso.sid if sso else None, customer_id=row.customer_id, resources=row.resources)
        database.session().add(family)
        return family
