"""Alembic environment of the union index: always run from indexer.pg.index.upgrade with an open connection."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the union index's migrations through indexer.pg.index.upgrade()")
context.configure(connection=connection, target_metadata=None, version_table="index_alembic_version")
with context.begin_transaction():
    context.run_migrations()
