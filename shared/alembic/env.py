"""Alembic environment shared by the four services; each service keeps its own versions directory."""
from alembic import context

from shared.migrations import target_metadata

config = context.config
service = config.attributes["service"]
connection = config.attributes["connection"]

context.configure(
    connection=connection,
    target_metadata=target_metadata(service),
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
