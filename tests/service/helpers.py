"""A whole embedded service per test: SQLite, the in-process pool, real bubblewrap."""

from __future__ import annotations

import io
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from grader.grading.specs import Assignment
from grader.sandbox.bwrap import BwrapSandbox
from grader.service.accounts import create_token
from grader.service.api import create_app
from grader.service.db import session_scope
from grader.service.migrate import migrate
from grader.settings import Settings
from submissions_schema import Role
from submissions_schema.challenges import Challenge
from workers.embedded import EmbeddedWorkers

ROOT = Path(__file__).resolve().parents[2]
LAYERS = (ROOT / "examples" / "cnn-layers" / "layers.py").read_bytes()
AUTODIFF = (ROOT / "examples" / "autodiff" / "autodiff.py").read_bytes()


def zip_bytes(members: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o120777 << 16
            zf.writestr(info, target)
    return buffer.getvalue()


HIDDEN_SEED = 11


class Service:
    def __init__(self, client: TestClient, settings: Settings, tokens: dict[str, str]) -> None:
        self.client, self.settings, self.tokens = client, settings, tokens

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}", **extra}

    def submit(
        self,
        who: str,
        data: bytes,
        name: str = "layers.py",
        assignment: str = "cnn-layers",
        key: str | None = None,
    ) -> Any:
        headers = self.headers(who, **({"Idempotency-Key": key} if key else {}))
        return self.client.post(
            "/api/v1/submissions",
            headers=headers,
            files={"file": (name, data)},
            data={"assignment": assignment},
        )

    def wait(self, who: str, submission_id: str, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            detail = self.client.get(
                f"/api/v1/submissions/{submission_id}", headers=self.headers(who)
            ).json()
            if detail["status"] in ("graded", "failed", "rejected"):
                return detail
            time.sleep(0.1)
        raise AssertionError(f"{submission_id} still {detail['status']}")


class QueueOnly:
    """A dispatcher with no workers behind it: it records what the API queues, and rows
    stay queued. For tests of the API itself (auth, uploads, limits, errors)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def dispatch(self, submission_id: str, queue: str, time_limit_s: float) -> None:
        self.sent.append((submission_id, queue))

    def ready(self) -> bool:
        return True

    def waiting(self, queue: str) -> int | None:
        return sum(q == queue for _, q in self.sent)


@contextmanager
def embedded_service(
    tmp_path: Path,
    assignments: dict[str, Assignment] | None = None,
    challenges: dict[str, Challenge] | None = None,
    grading: bool = True,
    **settings: Any,
) -> Iterator[Service]:
    """The API on SQLite; with `grading`, the embedded workers grade in real bubblewrap
    (skipped where there is none), else nothing grades (`QueueOnly`)."""
    if grading and BwrapSandbox.available() is not None:
        pytest.skip("no bubblewrap: this test grades for real")
    settings.setdefault("sandbox", "bwrap")  # the embedded default, whatever else is installed
    config = Settings(data_dir=tmp_path / "data", hidden_seed=HIDDEN_SEED, **settings)
    url = config.resolved_database_url()
    migrate(url)
    tokens = {}
    with session_scope(url) as session:
        for name, role in (
            ("alice", Role.student),
            ("bob", Role.student),
            ("tina", Role.ta),
            ("root", Role.admin),
        ):
            tokens[name] = create_token(session, name, role).token
    workers = EmbeddedWorkers(config).start() if grading else None
    app = create_app(
        config,
        workers or QueueOnly(),
        assignments=assignments,
        challenge_specs=challenges,
    )
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Service(client, config, tokens)
    finally:
        if workers is not None:
            workers.close()
