"""Alembic environment: the engine comes from ``keyholder init`` (or the
settings, when a developer runs ``alembic`` by hand)."""

from alembic import context

import idp.models  # noqa: F401  (registers every table)
from idp.database import Base, UTCDateTime, create_database_engine
from idp.settings import load_settings

config = context.config


def render_item(type_, obj, autogen_context):
    """Migrations name the plain column type, not our Python-side decorator."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


engine = config.attributes.get("engine") or create_database_engine(load_settings().DATABASE_URL)

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite ALTERs by copy
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()
