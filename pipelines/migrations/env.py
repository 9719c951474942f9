"""Alembic environment: migrations run on the connection ``Database.upgrade`` hands over."""

from __future__ import annotations

from alembic import context

from pipelines.state import Base

target_metadata = Base.metadata


def run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `switchboard db upgrade` (pipelines.db.Database.upgrade)")
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


run()
