"""The API against its own OpenAPI schema, property-based: no input gives a 500."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from grader.service.accounts import create_token
from grader.service.api import create_app
from grader.service.db import session_scope
from grader.service.migrate import migrate
from grader.settings import Settings
from submissions_schema import Role

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TOKENS: dict[str, str] = {}


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    data: Path = tmp_path_factory.mktemp("schemathesis")
    config = Settings(data_dir=data, hidden_seed=1, sandbox="bwrap", embedded_workers=1)
    url = config.resolved_database_url()
    migrate(url)
    with session_scope(url) as session:
        TOKENS["ta"] = create_token(session, "tina", Role.ta).token
        TOKENS["admin"] = create_token(session, "root", Role.admin).token
    from fastapi.testclient import TestClient

    from workers.embedded import EmbeddedWorkers

    workers = EmbeddedWorkers(config).start()
    app = create_app(config, workers)
    try:
        with TestClient(app):  # runs the lifespan: migrations
            yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        workers.close()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_makes_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKENS['admin']}"}, checks=[not_a_server_error]
    )
