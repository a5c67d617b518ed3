"""What the transmitter remembers: the receivers' streams (SSF 1.0 §8.1.1),
the subjects a stream added or removed (§8.1.3), and every event queued for
delivery, in the push outbox, with the back-channel logout tokens.

A row of :class:`PushDelivery` is written in the transaction of the change it
reports, so a change is never pushed without happening nor happens without
being pushed; its token is signed when it is delivered (or polled), with the
key active then, and keeps its ``jti`` across attempts so receivers can drop
repeats (delivery is at least once)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.clients.models import Client
from idp.directory.models import utcnow
from idp.infrastructure.database import Base


class StreamStatus(StrEnum):
    ENABLED = "enabled"    # events are delivered
    PAUSED = "paused"      # events are held, and delivered once enabled again
    DISABLED = "disabled"  # no event is delivered nor held


class DeliveryKind(StrEnum):
    SET = "set"          # a Security Event Token on a stream
    LOGOUT = "logout"    # an OIDC back-channel logout token to a client


class EventStream(Base):
    __tablename__ = "ssf_stream"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    # One stream per receiver (SSF §8.1.1.1 allows a transmitter that rule).
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"),
                                           index=True, unique=True)
    method: Mapped[str] = mapped_column(String(40))  # urn:ietf:rfc:8935 or :8936
    endpoint_url: Mapped[str | None] = mapped_column(Text, default=None)  # push only
    # Sent as the Authorization header of every push (SSF §6.1.1); a credential
    # of the receiver's: never shown again, never logged.
    authorization_header: Mapped[str | None] = mapped_column(Text, default=None)
    events_requested: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(String(300), default=None)
    status: Mapped[str] = mapped_column(String(10), default=StreamStatus.ENABLED.value)
    reason: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)  # last verify request

    client: Mapped[Client] = relationship()


class StreamSubject(Base):
    """A person added to a stream (``added``) or removed from it."""

    __tablename__ = "ssf_stream_subject"
    __table_args__ = (UniqueConstraint("stream_id", "person_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream_id: Mapped[str] = mapped_column(ForeignKey("ssf_stream.id", ondelete="CASCADE"))
    person_id: Mapped[str] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"),
                                           index=True)
    added: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PushDelivery(Base):
    __tablename__ = "push_delivery"
    __table_args__ = (Index(None, "delivered_at", "next_attempt_at"),
                      Index(None, "stream_id", "delivered_at"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    stream_id: Mapped[str | None] = mapped_column(
        ForeignKey("ssf_stream.id", ondelete="CASCADE"), default=None)
    client_id: Mapped[str] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    jti: Mapped[str] = mapped_column(String(43), unique=True)
    # The token's claims but iss, jti and iat (and exp for a logout token),
    # which are set when it is signed.
    claims: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Pushed and accepted (202, or 200 for a logout), refused for good (400),
    # acknowledged by a poll, or given up: the row is done.
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    last_error: Mapped[str | None] = mapped_column(String(300), default=None)

    def __repr__(self) -> str:
        return f"<PushDelivery {self.id} {self.kind} {self.stream_id or self.client_id}>"
