"""Alembic environment: the engine comes from ``keyholder init`` (or the
settings, when a developer runs ``alembic`` by hand).

Every upgrade or downgrade runs in one transaction of
:func:`idp.infrastructure.migrate.migration_connection`, which on SQLite migrates with
foreign keys off (so that copying a table loses no rows) and checks them
before the commit."""

from alembic import context

import idp.infrastructure.tables  # noqa: F401  (registers every table)
from idp.infrastructure.database import Base, UTCDateTime, create_database_engine
from idp.infrastructure.migrate import migration_connection
from idp.settings import load_settings

config = context.config


def render_item(type_, obj, autogen_context):
    """Migrations name the plain column type, not our Python-side decorator."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


engine = config.attributes.get("engine") or create_database_engine(load_settings().DATABASE_URL)

with migration_connection(engine) as connection:
    # The transaction is the connection's: Alembic sees it and does not
    # commit per migration (its default on SQLite).
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs by copy
        compare_type=True,
        render_item=render_item,
    )
    context.run_migrations()
