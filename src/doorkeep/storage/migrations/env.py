"""Alembic environment: doorkeep runs migrations on a connection it passes in."""

from alembic import context

from doorkeep.storage.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - doorkeep always passes a connection
    raise RuntimeError("run migrations through doorkeep (`doorkeep migrate`)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
