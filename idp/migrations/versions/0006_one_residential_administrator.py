"""one administrator per residential customer, kept by the database

Each membership gets a copy of its customer's type (``customer_type``), held
equal to it by a composite foreign key to customer(id, type) with ON UPDATE
CASCADE, so that a partial unique index can allow one administrator row per
residential customer. Changing a customer's type cascades into the copy, and
is refused when the customer has more administrators than the new type allows.

Refuses, changing nothing, when the data already breaks the rule.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from idp.infrastructure.migrate import MigrationRefused

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_membership_one_residential_administrator"
WHERE = sa.text("role = 'administrator' AND customer_type = 'residential'")
FOREIGN_KEY = "fk_membership_customer_id_customer"


def _customer_type() -> sa.Enum:
    return sa.Enum("business", "residential", name="customer_type", native_enum=False,
                   create_constraint=True, length=20)


def _refuse_if_broken() -> None:
    """Stop before any change when a residential customer has two administrators."""
    rows = op.get_bind().execute(sa.text(
        "SELECT c.number, p.email FROM membership m"
        " JOIN customer c ON c.id = m.customer_id JOIN person p ON p.id = m.person_id"
        " WHERE c.type = 'residential' AND m.role = 'administrator' AND m.customer_id IN ("
        "   SELECT m2.customer_id FROM membership m2 WHERE m2.role = 'administrator'"
        "   GROUP BY m2.customer_id HAVING COUNT(*) > 1)"
        " ORDER BY c.number, p.email")).all()
    if not rows:
        return
    by_customer: dict[str, list[str]] = {}
    for number, email in rows:
        by_customer.setdefault(number, []).append(email)
    listed = "; ".join(f"{number}: {', '.join(emails)}" for number, emails in by_customer.items())
    raise MigrationRefused(
        "The database was not changed: a residential customer has one administrator at most, "
        f"and these have more ({listed}). Make all but one of each customer's administrators "
        "users with the version you run now (keyholder member set-role EMAIL --customer NUMBER "
        "--role user), then upgrade again.")


def upgrade() -> None:
    _refuse_if_broken()
    # A unique index is enough as the foreign key's parent key, on both
    # databases. A unique *constraint* would make SQLite copy the customer
    # table, and dropping the old copy (foreign keys on) would cascade-delete
    # every row that refers to a customer.
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_customer_id_type"), ["id", "type"], unique=True)

    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.add_column(sa.Column("customer_type", _customer_type(), nullable=True))
    op.execute("UPDATE membership SET customer_type ="
               " (SELECT customer.type FROM customer WHERE customer.id = membership.customer_id)")

    # On SQLite this copies the membership table (no table refers to it).
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.alter_column("customer_type", existing_type=_customer_type(), nullable=False)
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch_op.create_foreign_key(FOREIGN_KEY, "customer", ["customer_id", "customer_type"],
                                    ["id", "type"], ondelete="CASCADE", onupdate="CASCADE")
        batch_op.create_index(INDEX, ["customer_id"], unique=True,
                              postgresql_where=WHERE, sqlite_where=WHERE)


def downgrade() -> None:
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(INDEX, postgresql_where=WHERE, sqlite_where=WHERE)
        batch_op.drop_constraint(FOREIGN_KEY, type_="foreignkey")
        batch_op.create_foreign_key(FOREIGN_KEY, "customer", ["customer_id"], ["id"],
                                    ondelete="CASCADE")
        batch_op.drop_constraint(batch_op.f("ck_membership_customer_type"), type_="check")
        batch_op.drop_column("customer_type")

    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_id_type"))
