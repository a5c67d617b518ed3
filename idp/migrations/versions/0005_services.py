"""resource indicators, device authorization, back-channel logout

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 07:32:32.832655
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "device_authorization",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_code_hash", sa.String(length=64), nullable=False),
        sa.Column("user_code", sa.String(length=16), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("resources", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("person_id", sa.String(length=32), nullable=True),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved", sa.Boolean(), nullable=True),
        sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["client.id"],
            name=op.f("fk_device_authorization_client_id_client"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_device_authorization_customer_id_customer"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_device_authorization_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_session.id"],
            name=op.f("fk_device_authorization_session_id_sso_session"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_authorization")),
        sa.UniqueConstraint(
            "device_code_hash", name=op.f("uq_device_authorization_device_code_hash")
        ),
        sa.UniqueConstraint("user_code", name=op.f("uq_device_authorization_user_code")),
    )
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resources", sa.JSON(), nullable=False, server_default="[]"))

    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backchannel_logout_uri", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("resource_uri", sa.String(length=300), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_client_resource_uri"), ["resource_uri"])

    with op.batch_alter_table("token_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resources", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("token_grant", schema=None) as batch_op:
        batch_op.drop_column("resources")

    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_client_resource_uri"), type_="unique")
        batch_op.drop_column("resource_uri")
        batch_op.drop_column("backchannel_logout_uri")

    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.drop_column("resources")

    op.drop_table("device_authorization")
