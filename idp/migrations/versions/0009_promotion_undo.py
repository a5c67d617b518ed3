"""promotion undo: the promoted person of an "I did not agree" link

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain column, no foreign key: SQLite adds it in place, without copying the table.
    with op.batch_alter_table("account_link", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account_link", schema=None) as batch_op:
        batch_op.drop_column("subject_id")
