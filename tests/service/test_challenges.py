"""Challenges through the embedded service: three teams across two phases, limits,
baselines, private splits, a regrade that changes the ranking, and a code submission
trained and ranked by the worker (SQLite, the in-process pool, bubblewrap)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from grader.challenges import digits
from grader.challenges.evaluate import host_splits
from grader.challenges.specs import all_challenges
from grader.sandbox.bwrap import BwrapSandbox
from grader.service.accounts import create_token
from grader.service.db import session_scope
from grader.settings import Settings
from submissions_schema import Role
from tests.challenges.test_leaderboard_shape import EVALAI_ENTRY, EVALAI_TIMED, OURS_ADDED
from tests.service.helpers import HIDDEN_SEED, ROOT, Service, embedded_service

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap"),
]
CHALLENGE = "digits-convnet"


def host_data() -> dict[str, digits.Split]:
    """The splits as the test service's host has them (its hidden seed draws the test split)."""
    return host_splits(all_challenges()[CHALLENGE], Settings(hidden_seed=HIDDEN_SEED))


def predictions(split: str, accuracy: float) -> bytes:
    """Predictions for a split that are right on the first `accuracy` fraction of ids."""
    truth = host_data()[split].labels.copy()
    wrong = round(len(truth) * (1 - accuracy))
    if wrong:
        truth[-wrong:] = (truth[-wrong:] + 1) % 10
    return ("id,label\n" + "\n".join(f"{i},{int(v)}" for i, v in enumerate(truth))).encode()


def challenges_with(**phase_changes: dict) -> dict:  # type: ignore[type-arg]
    specs = dict(all_challenges())
    c = specs[CHALLENGE]
    phases = [p.model_copy(update=phase_changes.get(p.codename, {})) for p in c.phases]
    specs[CHALLENGE] = c.model_copy(update={"phases": phases})
    return specs


def submit(
    s: Service,
    who: str,
    phase: str,
    data: bytes,
    name: str = "preds.csv",
    method: str = "",
    public: bool = True,
):  # type: ignore[no-untyped-def]
    return s.client.post(
        f"/api/v1/challenges/{CHALLENGE}/submissions",
        headers=s.headers(who),
        files={"file": (name, data)},
        data={"phase": phase, "method_name": method, "is_public": str(public).lower()},
    )


def board(s: Service, who: str | None, phase: str, split: str, **params: str):  # type: ignore[no-untyped-def]
    headers = s.headers(who) if who else {}
    return s.client.get(
        f"/api/v1/challenges/{CHALLENGE}/leaderboard",
        headers=headers,
        params={"phase": phase, "split": split, **params},
    )


def add_users(s: Service, *names: str) -> None:
    with session_scope(s.settings.resolved_database_url()) as session:
        for name in names:
            s.tokens[name] = create_token(session, name, Role.student).token


@pytest.fixture(params=["sqlite", "postgres"])
def database(request: pytest.FixtureRequest) -> str | None:
    """The embedded default, and the production database (a fresh one per test)."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def service(tmp_path: Path, database: str | None):  # type: ignore[no-untyped-def]
    specs = challenges_with(test={"end_date": datetime.now(UTC) + timedelta(days=7)})
    with embedded_service(tmp_path, challenges=specs, database_url=database) as s:
        add_users(s, "carol", "dave", "erin")
        s.client.post(
            f"/api/v1/admin/challenges/{CHALLENGE}/teams",
            headers=s.headers("tina"),
            params={"team": "ants", "members": ["alice", "carol"]},
        )
        s.client.post(
            f"/api/v1/admin/challenges/{CHALLENGE}/teams",
            headers=s.headers("tina"),
            params={"team": "bees", "members": ["bob"]},
        )
        yield s


def test_three_teams_two_phases_leaderboard_field_by_field(service: Service) -> None:
    s = service
    ids = {}
    for who, acc, method in (
        ("alice", 0.90, "first try"),
        ("carol", 0.95, "bigger net"),
        ("bob", 0.95, "bn"),
        ("dave", 0.80, "mlp"),
        ("tina", 0.92, "staff"),
    ):
        response = submit(s, who, "dev", predictions("dev", acc), method=method)
        assert response.status_code == 201, response.text
        ids[(who, acc)] = response.json()["id"]
    for i in ids.values():
        assert s.wait("tina", i)["status"] == "graded"
    page = board(s, None, "dev", "dev").json()  # public: no token needed
    assert page["count"] == 4
    assert page["next"] is None
    assert page["previous"] is None
    rows = page["results"]
    first = rows[0]
    # Field by field in tests/challenges/test_leaderboard_shape.py; dev shows execution time.
    assert set(first) == {*EVALAI_ENTRY, *EVALAI_TIMED, *OURS_ADDED}
    schema = all_challenges()[CHALLENGE].leaderboards[0].schema_
    assert first["leaderboard__schema"] == schema.model_dump()
    assert first["submission__execution_time"] > 0
    assert first["leaderboard__schema"]["metadata"]["params"]["sort_ascending"] is True
    assert isinstance(first["submission__participant_team"], int)  # ants is a team row
    assert first["challenge_phase_split"] == 1
    summary = [
        (
            r["submission__participant_team__team_name"],
            r["rank"],
            r["filtering_score"],
            r["submission__is_baseline"],
        )
        for r in rows
    ]
    assert summary == [
        ("ants", 1, 0.95, False),
        ("bees", 1, 0.95, False),
        ("tina", None, 0.92, True),
        ("dave", 3, 0.8, False),
    ]
    assert rows[0]["submission__id"] == ids[("carol", 0.95)]  # best of the team, not the latest
    assert rows[0]["result"][2:] == ["#", "#"]  # params, time: n/a for predictions
    # Test phase: its split is private to hosts until the phase ends.
    assert submit(s, "bob", "test", predictions("test", 0.9)).status_code == 201
    hidden = board(s, "bob", "test", "test")
    assert hidden.status_code == 403
    assert hidden.json()["code"] == "leaderboard_private"
    assert board(s, None, "test", "test").status_code == 403
    staff = board(s, "tina", "test", "test")
    assert staff.status_code == 200


def test_order_by_and_pagination(service: Service) -> None:
    s = service
    for who, acc in (("alice", 0.9), ("bob", 0.8), ("dave", 0.7), ("erin", 0.6)):
        s.wait(who, submit(s, who, "dev", predictions("dev", acc)).json()["id"])
    first = board(s, None, "dev", "dev", page_size="2").json()
    assert first["count"] == 4
    assert [r["rank"] for r in first["results"]] == [1, 2]
    assert "page=2" in first["next"]
    second = board(s, None, "dev", "dev", page_size="2", page="2").json()
    assert [r["rank"] for r in second["results"]] == [3, 4]
    assert second["previous"] is not None
    by_f1 = board(s, None, "dev", "dev", order_by="macro_f1")
    assert by_f1.status_code == 200
    bad = board(s, None, "dev", "dev", order_by="loss")
    assert bad.status_code == 400
    assert "order_by must be one of" in bad.json()["message"]


def test_limits_in_flight_and_failures_not_counted(tmp_path: Path, database: str | None) -> None:
    specs = challenges_with(dev={"max_submissions_per_day": 2})
    with embedded_service(tmp_path, challenges=specs, database_url=database) as s:
        bad = submit(s, "alice", "dev", b"id,label\n0,1\n")  # rejected when scored: not counted
        assert s.wait("alice", bad.json()["id"])["status"] == "rejected"
        assert "299 of 300 ids have no prediction" in s.wait("alice", bad.json()["id"])["reason"]
        for _ in range(2):
            s.wait("alice", submit(s, "alice", "dev", predictions("dev", 0.5)).json()["id"])
        third = submit(s, "alice", "dev", predictions("dev", 0.5))
        assert third.status_code == 429
        assert third.json()["code"] == "limit_reached"
        wrong_type = submit(s, "bob", "dev", b"{}", name="preds.txt")
        assert wrong_type.status_code == 422
        assert wrong_type.json()["code"] == "wrong_file_type"


def test_flagged_private_and_selected(service: Service) -> None:
    s = service
    a = submit(s, "alice", "dev", predictions("dev", 0.99)).json()["id"]
    b = submit(s, "bob", "dev", predictions("dev", 0.90), public=False).json()["id"]
    for i in (a, b):
        s.wait("tina", i)
    teams = [
        r["submission__participant_team__team_name"]
        for r in board(s, None, "dev", "dev").json()["results"]
    ]
    assert teams == ["ants"]  # bees' only entry is private
    flagged = s.client.patch(
        f"/api/v1/admin/challenges/{CHALLENGE}/submissions/{a}",
        params={"is_flagged": "true"},
        headers=s.headers("tina"),
    )
    assert flagged.status_code == 200
    assert board(s, None, "dev", "dev").json()["results"] == []
    elsewhere = s.client.patch(  # the address names the challenge the submission is in
        f"/api/v1/admin/challenges/another/submissions/{b}",
        params={"is_public": "true"},
        headers=s.headers("tina"),
    )
    assert elsewhere.status_code == 404


def test_a_regrade_after_a_scoring_change_changes_the_ranking(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = service
    a = submit(s, "alice", "dev", predictions("dev", 0.95)).json()["id"]
    b = submit(s, "bob", "dev", predictions("dev", 0.90)).json()["id"]
    for i in (a, b):
        s.wait("tina", i)
    before = [
        r["submission__participant_team__team_name"]
        for r in board(s, None, "dev", "dev").json()["results"]
    ]
    assert before == ["ants", "bees"]
    # The host fixes the dev labels: the last 10% were mislabelled, as bees had them.
    real = host_data()
    fixed = dict(real)
    labels = real["dev"].labels.copy()
    labels[-30:] = (labels[-30:] + 1) % 10
    fixed["dev"] = digits.Split("dev", real["dev"].images, labels)
    monkeypatch.setattr(digits, "splits", lambda seed: fixed)
    summary = s.client.post(
        f"/api/v1/admin/assignments/{CHALLENGE}/regrade",
        params={"wait_s": 60},
        headers=s.headers("tina"),
    )
    assert summary.status_code == 200, summary.text
    assert [c["owner"] for c in summary.json()["changed"]] == [
        "bob"
    ]  # 0.90 -> 1.00; ants stay 0.95
    after = [
        r["submission__participant_team__team_name"]
        for r in board(s, None, "dev", "dev").json()["results"]
    ]
    assert after == ["bees", "ants"]


@pytest.mark.slow
def test_a_code_submission_trains_and_is_ranked(service: Service) -> None:
    s = service
    model = (ROOT / "examples" / "digits-convnet" / "baseline_model.py").read_bytes()
    response = submit(s, "tina", "dev", model, name="model.py", method="course baseline")
    detail = s.wait("tina", response.json()["id"], timeout=300)
    assert detail["status"] == "graded", detail["reason"]
    score = detail["challenge_result"]["scores"][0]
    assert score["metrics"]["accuracy"] > 0.95
    assert score["metrics"]["params"] == 1898
    assert score["fingerprint"] == host_data()["dev"].fingerprint
    rows = board(s, None, "dev", "dev").json()["results"]
    assert rows[0]["submission__is_baseline"] is True
    assert rows[0]["result"][2] == 1898
    broken = submit(s, "alice", "dev", b"def build_model():\n    return 42\n", name="model.py")
    failed = s.wait("alice", broken.json()["id"], timeout=300)
    assert failed["status"] == "rejected"
    assert "not a torch.nn.Module" in failed["reason"]


def test_leaderboard_page_is_served(service: Service) -> None:
    s = service
    s.wait("bob", submit(s, "bob", "dev", predictions("dev", 0.9), method="x<y").json()["id"])
    page = s.client.get(
        f"/api/v1/challenges/{CHALLENGE}/leaderboard.html", params={"phase": "dev", "split": "dev"}
    )
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "x&lt;y" in page.text
    assert "bees" in page.text


def test_host_only_scores_stay_hidden_from_their_owner_until_the_phase_ends(
    service: Service,
) -> None:
    s = service
    mine = submit(s, "bob", "test", predictions("test", 0.9)).json()
    assert s.wait("tina", mine["id"])["status"] == "graded"
    owner = s.client.get(f"/api/v1/submissions/{mine['id']}", headers=s.headers("bob")).json()
    assert owner["challenge_result"]["scores"] == []
    host = s.client.get(f"/api/v1/submissions/{mine['id']}", headers=s.headers("tina")).json()
    assert [score["split"] for score in host["challenge_result"]["scores"]] == ["test"]


@pytest.mark.slow  # trains the baseline
def test_params_and_train_time_come_from_trusted_code(service: Service) -> None:
    """A model that rewrites meta.json at exit (params=1, 0.001 s) is listed with the
    parameters counted in its saved weights and the time measured around its sandbox."""
    s = service
    model = (ROOT / "examples" / "digits-convnet" / "baseline_model.py").read_text()
    model += (
        "\nimport atexit, json\n"
        "def _lie():\n"
        "    meta = json.load(open('/out/meta.json'))\n"
        "    meta.update(params=1, train_time_s=0.001)\n"
        "    json.dump(meta, open('/out/meta.json', 'w'))\n"
        "atexit.register(_lie)\n"
    )
    response = submit(s, "bob", "dev", model.encode(), name="model.py", method="liar")
    detail = s.wait("tina", response.json()["id"], timeout=300)
    assert detail["status"] == "graded", detail["reason"]
    metrics = detail["challenge_result"]["scores"][0]["metrics"]
    assert metrics["params"] == 1898
    assert metrics["train_time_s"] > 0.5


def test_teams_download_images_never_the_labels_of_evaluated_splits(service: Service) -> None:
    """The test split's images come from the host (drawn from its secret), without labels;
    only the train split's labels are handed out."""
    arrays = {}
    for split in ("train", "dev", "test"):
        response = service.client.get(f"/api/v1/challenges/{CHALLENGE}/data/{split}")
        assert response.status_code == 200, response.text
        with np.load(io.BytesIO(response.content), allow_pickle=False) as npz:
            arrays[split] = {k: npz[k] for k in npz.files}
    assert set(arrays["train"]) == {"x", "y"}
    assert set(arrays["dev"]) == set(arrays["test"]) == {"x"}
    assert arrays["test"]["x"].shape == (300, 1, 8, 8)
    np.testing.assert_array_equal(arrays["test"]["x"], host_data()["test"].images)
    other_host = host_splits(all_challenges()[CHALLENGE], Settings(hidden_seed=HIDDEN_SEED + 1))
    assert not np.array_equal(other_host["test"].images, arrays["test"]["x"])
    missing = service.client.get(f"/api/v1/challenges/{CHALLENGE}/data/holdout")
    assert missing.status_code == 404
    assert missing.json()["code"] == "unknown_split"


def test_a_phase_that_is_not_public_is_the_hosts_alone(tmp_path: Path) -> None:
    specs = challenges_with(test={"is_public": False})
    with embedded_service(tmp_path, challenges=specs) as s:
        for who in (None, "bob"):
            headers = s.headers(who) if who else {}
            listed = s.client.get("/api/v1/challenges", headers=headers).json()
            phases = next(c["phases"] for c in listed if c["name"] == CHALLENGE)
            assert [p["codename"] for p in phases] == ["dev"]
            assert board(s, who, "test", "test").json()["code"] == "unknown_phase"
            page = s.client.get(f"/challenges/{CHALLENGE}/test/test", headers=headers)
            assert page.status_code == 404
        refused = submit(s, "bob", "test", predictions("test", 0.9))
        assert (refused.status_code, refused.json()["code"]) == (404, "unknown_phase")
        assert "/test/" not in s.client.get("/leaderboards").text
        listed = s.client.get("/api/v1/challenges", headers=s.headers("tina")).json()
        phases = next(c["phases"] for c in listed if c["name"] == CHALLENGE)
        assert [p["codename"] for p in phases] == ["dev", "test"]
        baseline = submit(s, "tina", "test", predictions("test", 0.9))  # staff try it out
        assert s.wait("tina", baseline.json()["id"])["status"] == "graded"
        assert board(s, "tina", "test", "test").json()["count"] == 1
