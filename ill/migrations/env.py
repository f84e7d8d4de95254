"""Alembic environment: always run from ill.store with an open connection (no ini file, no URL here)."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ill.store.upgrade() or 'balis request migrate'")
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
