"""Alembic environment: runs against the connection ondo hands it (see ondo.store.migrate)."""

from __future__ import annotations

from alembic import context

from ondo.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - ondo always passes a connection
    raise RuntimeError("ondo migrations run through ondo.store.migrate, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
