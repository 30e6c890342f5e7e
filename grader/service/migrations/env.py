"""Alembic environment: the URL comes from the caller (grader.service.migrate)."""

from __future__ import annotations

from alembic import context

from grader.service.db import Base, engine_for

config = context.config
url = config.get_main_option("sqlalchemy.url")
assert url, "grader.service.migrate passes the database URL"

if context.is_offline_mode():
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    with engine_for(url).connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=url.startswith("sqlite"),
        )
        with context.begin_transaction():
            context.run_migrations()
