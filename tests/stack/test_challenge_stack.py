"""The challenge end to end on PostgreSQL, Redis and Celery workers with Docker sandboxes:
three teams across two phases through the CLI, a code submission trained by a worker,
the leaderboard JSON and page, and an EvalAI config imported."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from grader.challenges import digits
from grader.challenges.evaluate import host_splits
from grader.challenges.specs import all_challenges
from grader.sandbox.bwrap import BwrapSandbox
from grader.settings import Settings
from tests.challenges.test_bundles import write_bundle
from tests.services import ROOT, RedisServer
from tests.stack.stack import Stack

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap"),
]


@pytest.fixture
def stack(tmp_path: Path, postgres_url: str, redis_server: RedisServer) -> Iterator[Stack]:
    s = Stack(tmp_path, postgres_url, redis_server.url, DLGRADER_SANDBOX="auto")
    s.start_api()
    s.start_worker()
    s.start_worker()
    yield s
    s.stop()


def host_data() -> dict[str, digits.Split]:
    settings = Settings(hidden_seed=Stack.HIDDEN_SEED)
    return host_splits(all_challenges()["digits-convnet"], settings)


def predictions(tmp: Path, name: str, split: str, accuracy: float) -> Path:
    truth = host_data()[split].labels.copy()
    wrong = round(len(truth) * (1 - accuracy))
    if wrong:
        truth[-wrong:] = (truth[-wrong:] + 1) % 10
    path = tmp / f"{name}.csv"
    path.write_text("id,label\n" + "\n".join(f"{i},{int(v)}" for i, v in enumerate(truth)))
    return path


def test_challenge_through_the_stack(stack: Stack, tmp_path: Path) -> None:
    ta = stack.token("tina", "ta")
    for user in ("alice", "carol", "bob", "dave"):
        stack.token(user)
    for team, members in (("ants", ["alice", "carol"]), ("bees", ["bob"])):
        r = httpx.post(
            f"{stack.server}/api/v1/admin/challenges/digits-convnet/teams",
            timeout=10,
            params={"team": team, "members": members},
            headers={"Authorization": f"Bearer {ta}"},
        )
        assert r.status_code == 201, r.text
    for user, acc in (("alice", 0.90), ("carol", 0.96), ("bob", 0.93), ("dave", 0.93)):
        stack.login(user)
        proc = stack.cli(
            "challenge",
            "submit",
            str(predictions(tmp_path, user, "dev", acc)),
            "-c",
            "digits-convnet",
            "--phase",
            "dev",
            "--method",
            f"{user}'s",
            "--wait",
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr + stack.logs()
        assert f"accuracy {acc:.4g}" in proc.stdout
    stack.login("bob")
    fetched = stack.cli(
        "challenge", "data", "digits-convnet", "--split", "test", "-o", str(tmp_path / "x.npz")
    )
    assert fetched.returncode == 0, fetched.stderr
    assert "x (300, 1, 8, 8)" in fetched.stdout
    with np.load(tmp_path / "x.npz") as images:  # the host's drawn digits, no labels
        np.testing.assert_array_equal(images["x"], host_data()["test"].images)
        assert images.files == ["x"]
    test_phase = stack.cli(
        "challenge",
        "submit",
        str(predictions(tmp_path, "bob-test", "test", 0.91)),
        "-c",
        "digits-convnet",
        "--phase",
        "test",
        "--wait",
    )
    assert test_phase.returncode == 0, test_phase.stderr
    stack.login("tina", "ta")  # the course baseline: a code submission trained by a worker
    code = stack.cli(
        "challenge",
        "submit",
        str(ROOT / "examples" / "digits-convnet" / "baseline_model.py"),
        "-c",
        "digits-convnet",
        "--phase",
        "dev",
        "--method",
        "course baseline",
        "--wait",
        timeout=600,
    )
    assert code.returncode == 0, code.stdout + code.stderr + stack.logs()
    assert "accuracy 0.97" in code.stdout
    out = tmp_path / "board.json"
    page = tmp_path / "board.html"
    board = stack.cli(
        "leaderboard",
        "digits-convnet",
        "--phase",
        "dev",
        "--split",
        "dev",
        "--json",
        str(out),
        "--html",
        str(page),
    )
    assert board.returncode == 0, board.stderr
    rows = json.loads(out.read_text())["results"]
    assert [
        (r["submission__participant_team__team_name"], r["rank"], r["submission__is_baseline"])
        for r in rows
    ] == [("tina", None, True), ("ants", 1, False), ("bees", 2, False), ("dave", 2, False)]
    assert rows[0]["result"][2] == 1898  # parameters of the trained baseline
    assert rows[1]["submission__method_name"] == "carol's"  # the best of team ants
    assert "ants" in page.read_text()
    public = httpx.get(
        f"{stack.server}/api/v1/challenges/digits-convnet/leaderboard",
        params={"phase": "dev", "split": "dev"},
        timeout=10,
    ).json()
    assert public["results"] == rows
    hidden = httpx.get(
        f"{stack.server}/api/v1/challenges/digits-convnet/leaderboard",
        params={"phase": "test", "split": "test"},
        timeout=10,
    )
    assert hidden.status_code == 403
    bundle = write_bundle(tmp_path / "bundle")  # an EvalAI bundle with its own evaluate()
    imported = stack.cli("challenge", "import", str(bundle), "--name", "rng")
    assert imported.returncode == 0, imported.stderr
    assert "not supported, ignored: remote_evaluation (top level)" in imported.stdout
    assert "rng" in stack.cli("challenges").stdout
    served = httpx.get(f"{stack.server}/api/v1/challenges", timeout=10).json()
    assert "rng" in [c["name"] for c in served]  # no restart needed
