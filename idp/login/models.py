"""Server-side single sign-on sessions and login throttling counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.directory.models import Person, utcnow
from idp.infrastructure.database import Base


class SsoSession(Base):
    """One browser's login at the provider.

    The cookie holds a 256-bit random secret; only its SHA-256 is stored, so a
    copy of the database opens no session. ``sid`` is a separate public id
    (the ``sid`` claim of OIDC Front/Back-Channel Logout)."""

    __tablename__ = "sso_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sid: Mapped[str] = mapped_column(String(43), unique=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    auth_time: Mapped[datetime] = mapped_column()
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    # "web" or "app": the channel of the login that started the session (a
    # login for a native app's authorization request is the app's).
    channel: Mapped[str] = mapped_column(String(10), default="web", server_default="web")
    # What the person's Security page shows of it: the browser and the
    # address it signed in from (the edge's client address).
    user_agent: Mapped[str | None] = mapped_column(String(300), default=None)
    ip_address: Mapped[str | None] = mapped_column(String(45), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column(default=None)

    person: Mapped[Person] = relationship()

    def __repr__(self) -> str:
        return f"<SsoSession {self.sid}>"


class ThrottleCounter(Base):
    """Failures counted under one key ("account:<hash>", "ip:<address>")
    within a window; see :mod:`idp.login.login_limits`."""

    __tablename__ = "throttle_counter"

    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    window_start: Mapped[datetime] = mapped_column()
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until: Mapped[datetime | None] = mapped_column(default=None)
