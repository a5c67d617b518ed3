"""Read every row of every table through a connection of its own, to show
that a refused operation changed nothing."""

from sqlalchemy import select

from idp.infrastructure import database


def snapshot(app) -> dict[str, list[tuple]]:
    with database.engine(app).connect() as connection:
        return {table.name: sorted(map(tuple, connection.execute(select(table))), key=repr)
                for table in database.Base.metadata.sorted_tables}
