"""What the provider remembers of what it issued.

Access tokens are self-contained JWTs (RFC 9068) and are not stored; their
``jti`` names the token family (``<grant id>.<random>``) so that revoking the
family, or the person's suspension, makes them inactive at introspection.
Codes and refresh tokens are stored as SHA-256 hashes: they are 256-bit random
strings, so a keyed or slow hash would add nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.clients.models import Client
from idp.directory.models import Person, utcnow
from idp.infrastructure.database import Base
from idp.login.models import SsoSession


class AuthorizationCode(Base):
    """RFC 6749 §4.1.2: single use, short-lived, bound to client, redirect URI
    and PKCE challenge. Kept after use (``used_at``) so that a second use is
    recognised and the tokens of the first are revoked (RFC 9700 §4.1.2)."""

    __tablename__ = "authorization_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sso_session.id", ondelete="SET NULL"), default=None)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text, default=None)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    auth_time: Mapped[datetime] = mapped_column()
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    sid: Mapped[str | None] = mapped_column(String(43), default=None)
    # The customer this authorization speaks for (docs/design.md, "One token speaks
    # for one customer"); None: no membership.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), default=None)
    # RFC 8707: the resources the client asked for (their URIs); [] for none.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship()

    # -- Authlib's AuthorizationCodeMixin (and its OIDC extension) --------------

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return int(self.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> list[str]:
        return list(self.amr)


class TokenGrant(Base):
    """A token family: what one authorization (or one client-credentials
    request) granted. Refresh tokens rotate inside it; revoking it ends every
    token of the family. ``expires_at`` is the absolute limit of the family."""

    __tablename__ = "token_grant"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True, default=None)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sso_session.id", ondelete="SET NULL"), index=True, default=None)
    code_id: Mapped[int | None] = mapped_column(
        ForeignKey("authorization_code.id", ondelete="SET NULL"), index=True, default=None)
    scope: Mapped[str] = mapped_column(Text, default="")
    auth_time: Mapped[datetime | None] = mapped_column(default=None)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    sid: Mapped[str | None] = mapped_column(String(43), default=None)
    # The chosen customer holds for the whole family; switching is a new authorization.
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), default=None)
    # RFC 8707: the resources granted; each token may ask for some of them.
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(40), default=None)

    client: Mapped[Client] = relationship()
    person: Mapped[Person | None] = relationship()


class RefreshToken(Base):
    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    grant_id: Mapped[str] = mapped_column(
        ForeignKey("token_grant.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when the token was exchanged for a new one: a second use is theft.
    used_at: Mapped[datetime | None] = mapped_column(default=None)

    grant: Mapped[TokenGrant] = relationship()

    # -- what Authlib's refresh grant asks of the token (TokenMixin) -------------

    def check_client(self, client: Client) -> bool:
        return self.grant.client_id == client.id

    def get_scope(self) -> str:
        return self.scope


class RevokedAccessToken(Base):
    """A single access token revoked by RFC 7009; forgotten once it has expired."""

    __tablename__ = "revoked_access_token"

    jti: Mapped[str] = mapped_column(String(80), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class DeviceAuthorization(Base):
    """RFC 8628: a device's pending request, approved or denied on the
    verification page, redeemed once for tokens."""

    __tablename__ = "device_authorization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_code: Mapped[str] = mapped_column(String(16), unique=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    resources: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    interval: Mapped[int] = mapped_column(Integer, default=5)
    last_polled_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set on the verification page: who approved (or denied) and for which customer.
    person_id: Mapped[str | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), default=None)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("sso_session.id", ondelete="SET NULL"), default=None)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    approved: Mapped[bool | None] = mapped_column(default=None)
    redeemed_at: Mapped[datetime | None] = mapped_column(default=None)

    client: Mapped[Client] = relationship()
    person: Mapped[Person | None] = relationship()
    session: Mapped[SsoSession | None] = relationship()


class Consent(Base):
    """The scopes a person granted to a client that is not first-party."""

    __tablename__ = "consent"
    __table_args__ = (UniqueConstraint("person_id", "client_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
