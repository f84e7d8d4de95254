"""Alembic migrations of the ILL store (script location `ill:migrations`); run by ill.store.upgrade()."""
