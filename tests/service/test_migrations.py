"""The migrations build exactly the schema the models describe, on SQLite and (where the
service's tests have it) PostgreSQL: a column added to a model without a migration, or
the other way round, fails here rather than on a TA's live database."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from grader.service.db import Base
from grader.service.migrate import migrate


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def test_the_migrations_make_the_models_schema(
    tmp_path: Path, request: pytest.FixtureRequest, database: str
) -> None:
    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    migrate(url)
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    engine.dispose()
    assert differences == []
