"""the customer an authorization speaks for

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 07:03:30.506444
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_authorization_code_customer_id_customer"),
            "customer",
            ["customer_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("token_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_token_grant_customer_id_customer"),
            "customer",
            ["customer_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("token_grant", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_token_grant_customer_id_customer"), type_="foreignkey"
        )
        batch_op.drop_column("customer_id")

    with op.batch_alter_table("authorization_code", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_authorization_code_customer_id_customer"), type_="foreignkey"
        )
        batch_op.drop_column("customer_id")
