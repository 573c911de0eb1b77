"""Alembic's entry point for honed's store: run on the connection the Store hands over."""

from alembic import context

connection = context.config.attributes["connection"]
# SQLite alters tables by copying them (batch mode); PostgreSQL alters them in place.
context.configure(connection=connection, target_metadata=None, render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
