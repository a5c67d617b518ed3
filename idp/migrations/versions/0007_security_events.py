"""shared signals: receivers' streams, their subjects, the push outbox

The push outbox carries Security Event Tokens and back-channel logout tokens.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 18:05:37.153654
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ssf_stream",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=40), nullable=False),
        sa.Column("endpoint_url", sa.Text(), nullable=True),
        sa.Column("authorization_header", sa.Text(), nullable=True),
        sa.Column("events_requested", sa.JSON(), nullable=False),
        sa.Column("description", sa.String(length=300), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_ssf_stream_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssf_stream")),
    )
    with op.batch_alter_table("ssf_stream", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ssf_stream_client_id"), ["client_id"], unique=True)

    op.create_table(
        "push_delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("stream_id", sa.String(length=32), nullable=True),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=43), nullable=False),
        sa.Column("claims", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=True),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_push_delivery_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["ssf_stream.id"],
            name=op.f("fk_push_delivery_stream_id_ssf_stream"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_delivery")),
        sa.UniqueConstraint("jti", name=op.f("uq_push_delivery_jti")),
    )
    with op.batch_alter_table("push_delivery", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_push_delivery_delivered_at_next_attempt_at"),
            ["delivered_at", "next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_push_delivery_stream_id_delivered_at"),
            ["stream_id", "delivered_at"],
            unique=False,
        )

    op.create_table(
        "ssf_stream_subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stream_id", sa.String(length=32), nullable=False),
        sa.Column("person_id", sa.String(length=32), nullable=False),
        sa.Column("added", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_ssf_stream_subject_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stream_id"],
            ["ssf_stream.id"],
            name=op.f("fk_ssf_stream_subject_stream_id_ssf_stream"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ssf_stream_subject")),
        sa.UniqueConstraint(
            "stream_id", "person_id", name=op.f("uq_ssf_stream_subject_stream_id_person_id")
        ),
    )
    with op.batch_alter_table("ssf_stream_subject", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ssf_stream_subject_person_id"), ["person_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ssf_stream_subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ssf_stream_subject_person_id"))

    op.drop_table("ssf_stream_subject")
    with op.batch_alter_table("push_delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_delivery_stream_id_delivered_at"))
        batch_op.drop_index(batch_op.f("ix_push_delivery_delivered_at_next_attempt_at"))

    op.drop_table("push_delivery")
    with op.batch_alter_table("ssf_stream", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ssf_stream_client_id"))

    op.drop_table("ssf_stream")
