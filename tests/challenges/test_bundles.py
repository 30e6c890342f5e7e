"""EvalAI bundles: a bundle of our own in the EvalAI-Starters layout (its evaluate() scores
accuracy against annotations, with ints, floats and error bars, over two phases, one
with partial evaluation), checked as hostile input, run in real bubblewrap through the
embedded service: imported as a folder and a zip, submitted to, ranked, re-imported as
a new version with the leaderboards before and after; a crash is the submission's
failure and counts, a script printing its annotations leaks nothing to the student, a
result outside the host's own schema is the host's error, visible to staff."""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.challenges.bundle import BundleError, stage_bundle, store_bundle
from grader.challenges.bundle_eval import HostError, evaluate_submission, judge
from grader.sandbox.bwrap import BwrapSandbox
from grader.sandbox.process import ProcessSandbox
from grader.service.challenges import meta_answers, unzip_bundle
from grader.service.submissions import ServiceError
from grader.settings import Settings
from submissions_schema.challenges import ChallengeResult
from tests.service.helpers import ROOT, Service, embedded_service

SECRET = "zebra-annotation-7f3"  # an annotation no student may ever see

CONFIG = """
title: Tiny Accuracy Challenge
short_description: accuracy against hidden labels
description: templates/description.html
evaluation_script: evaluation_script.zip
remote_evaluation: False
leaderboard:
  - id: 1
    schema:
      labels: ["accuracy", "correct"]
      default_order_by: accuracy
      metadata:
        correct: {sort_ascending: false, description: "right answers"}
challenge_phases:
  - id: 1
    name: Dev Phase
    description: templates/phase_dev.html
    codename: dev
    test_annotation_file: annotations/dev.json
    max_submissions_per_day: 3
    allowed_submission_file_types: ".json"
    is_submission_public: True
    submission_meta_attributes:
      - {name: model, description: "what you ran", type: text, required: true}
      - {name: size, description: "its size", type: radio, options: ["S", "L"]}
      - {name: tricks, description: "what helped", type: checkbox, options: ["aug", "tta"]}
      - {name: pretrained, description: "pretrained?", type: boolean}
  - id: 2
    name: Test Phase
    codename: test
    test_annotation_file: annotations/test.json
    allowed_submission_file_types: ".json"
    is_partial_submission_evaluation_enabled: True
    execution_time_limit: 4
dataset_splits:
  - {id: 1, name: Dev Split, codename: dev_split}
  - {id: 2, name: Test Split, codename: test_split}
challenge_phase_splits:
  - {challenge_phase_id: 1, leaderboard_id: 1, dataset_split_id: 1, visibility: 3}
  - {challenge_phase_id: 2, leaderboard_id: 1, dataset_split_id: 1, visibility: 3}
  - {challenge_phase_id: 2, leaderboard_id: 1, dataset_split_id: 2, visibility: 3}
"""

# Our own evaluate(): the submission is {"answers": {id: label}, "mode": ...}; the
# annotations are {split: {id: label}}. `mode` asks for the failure cases.
MAIN = """
import json


def evaluate(test_annotation_file, user_submission_file, phase_codename, **kwargs):
    truth = json.load(open(test_annotation_file))
    sub = json.load(open(user_submission_file))
    mode = sub.get("mode", "")
    if mode == "crash":
        print("annotations:", json.dumps(truth))  # a careless host's debugging
        raise ValueError("no match in " + json.dumps(truth))
    if mode == "sleep":
        import time
        time.sleep(60)
    if mode == "lazy-import":
        import no_such_metrics_pkg  # a requirement the host did not list
    if mode == "download":  # as nltk.download does: the error is caught, the lookup fails
        import urllib.request
        try:
            urllib.request.urlopen("http://127.0.0.1:9/punkt.zip", timeout=2)
        except OSError:
            pass
        raise LookupError("Resource punkt not found")
    if mode == "garbage":
        return {"result": [{"no_such_split": {"accuracy": 1.0}}]}
    result, error = [], []
    for split, labels in truth.items():
        if mode == "dev-only" and split != "dev_split":
            continue
        right = sum(sub["answers"].get(k) == v for k, v in labels.items())
        accuracy = right / len(labels) * SCALE
        result.append({split: {"accuracy": accuracy, "correct": right}})
        error.append({split: {"accuracy": 0.05}})
    meta = kwargs["submission_metadata"]
    return {
        "result": result,
        "error": error,
        "submission_result": {"model": meta["submission_metadata"].get("model"),
                              "team": meta["participant_team_name"]},
    }
"""

DEV = {"dev_split": {"a": 1, "b": 2, "c": 3, "d": 4, "e": SECRET}}
TEST = {"dev_split": {"a": 1, "b": 2, "c": 3, "d": 4}, "test_split": {"x": SECRET, "y": 0}}


def write_bundle(root: Path, scale: float = 1.0, script_zip: bool = False) -> Path:
    (root / "annotations").mkdir(parents=True)
    (root / "templates").mkdir()
    (root / "challenge_config.yaml").write_text(CONFIG)
    (root / "annotations" / "dev.json").write_text(json.dumps(DEV))
    (root / "annotations" / "test.json").write_text(json.dumps(TEST))
    (root / "templates" / "description.html").write_text("<p>Guess the <b>labels</b>.</p>")
    (root / "templates" / "phase_dev.html").write_text("<p>dev phase</p>")
    files = {
        "__init__.py": "from .main import evaluate\n",
        "main.py": MAIN.replace("SCALE", repr(scale)),
    }
    if script_zip:  # EvalAI's own upload: the config's evaluation_script.zip
        with zipfile.ZipFile(root / "evaluation_script.zip", "w") as zf:
            for name, text in files.items():
                zf.writestr(name, text)
    else:
        (root / "evaluation_script").mkdir()
        for name, text in files.items():
            (root / "evaluation_script" / name).write_text(text)
    return root


def zipped(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


# --- fast: the bundle as hostile input, the result's judgement, the metadata form ----------


def test_a_folder_and_its_zip_stage_alike(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b")
    (tmp_path / "b.zip").write_bytes(zipped(folder))
    a, staged_a = stage_bundle(folder, tmp_path / "wa", None, 1 << 20, unzip_bundle)
    b, staged_b = stage_bundle(tmp_path / "b.zip", tmp_path / "wb", None, 1 << 20, unzip_bundle)
    assert a.name == b.name == "tiny-accuracy-challenge"
    assert a.evaluation == "evalai-script"
    assert a.unsupported == ["remote_evaluation (top level)"]
    assert a.phase("test").is_partial_submission_evaluation_enabled
    assert [m.name for m in a.phase("dev").submission_meta_attributes] == [
        "model",
        "size",
        "tricks",
        "pretrained",
    ]
    for staged in (staged_a, staged_b):
        assert (staged / "evaluation_script" / "main.py").is_file()
        assert json.loads((staged / "annotations" / "test.json").read_text()) == TEST
        assert (staged / "templates" / "description.html").read_text().startswith("<p>Guess")
    zipped_script = write_bundle(tmp_path / "c", script_zip=True)
    _, staged_c = stage_bundle(zipped_script, tmp_path / "wc", "c", 1 << 20, unzip_bundle)
    assert (staged_c / "evaluation_script" / "__init__.py").is_file()


def test_a_starters_repository_as_published(tmp_path: Path) -> None:
    # The Starters' run.sh and GitHub workflow rebuild evaluation_script.zip from the
    # folder: a zip committed beside it is stale, and the folder is the script. EvalAI
    # keeps a phase whose description file is absent; a phase split naming a leaderboard
    # that does not exist is refused with EvalAI's reason, not a schema dump.
    folder = write_bundle(tmp_path / "b")
    with zipfile.ZipFile(folder / "evaluation_script.zip", "w") as zf:
        zf.writestr("__init__.py", "from .main import evaluate\n")
        zf.writestr("main.py", "def evaluate(*a, **k):\n    return 'stale'\n")
    (folder / "templates" / "phase_dev.html").unlink()
    challenge, staged = stage_bundle(folder, tmp_path / "w", None, 1 << 20, unzip_bundle)
    assert "stale" not in (staged / "evaluation_script" / "main.py").read_text()
    notes = challenge.unsupported
    assert any(n.startswith("evaluation_script (evaluation_script.zip is ignored") for n in notes)
    assert any(n.startswith("challenge_phases[dev].description (templates/") for n in notes)
    assert not (staged / "templates" / "phase-dev.html").exists()
    (folder / "templates" / "description.html").unlink()  # the challenge's own: required
    with pytest.raises(BundleError, match=r"description 'templates/description\.html' is not a"):
        stage_bundle(folder, tmp_path / "w2", None, 1 << 20, unzip_bundle)
    named = CONFIG.replace(
        "{challenge_phase_id: 1, leaderboard_id: 1,",
        "{challenge_phase_id: 1, leaderboard_id: main,",
    )
    (folder / "challenge_config.yaml").write_text(named)
    with pytest.raises(BundleError, match=r"\[1\]\.leaderboard_id is 'main', which names no lead"):
        stage_bundle(folder, tmp_path / "w3", None, 1 << 20, unzip_bundle)


def test_hostile_bundles_are_refused(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path / "b")
    (folder / "annotations" / "dev.json").unlink()
    (folder / "annotations" / "dev.json").symlink_to("/etc/passwd")  # a link out: not read
    with pytest.raises(BundleError, match="is not a file in the bundle"):
        stage_bundle(folder, tmp_path / "w1", None, 1 << 20, unzip_bundle)
    escaping = CONFIG.replace("annotations/dev.json", "../../etc/passwd")
    (folder / "challenge_config.yaml").write_text(escaping)
    with pytest.raises(BundleError, match="must be a path inside the bundle"):
        stage_bundle(folder, tmp_path / "w2", None, 1 << 20, unzip_bundle)
    for members, words in (
        ({"../evil.py": b"x"}, "'..' in a path"),
        ({"challenge_config.yaml": b"a" * 200_000}, "compressed"),
    ):
        bad = tmp_path / "bad.zip"
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        bad.write_bytes(buffer.getvalue())
        with pytest.raises(BundleError, match=words):
            stage_bundle(bad, tmp_path / f"w{len(words)}", None, 1 << 20, unzip_bundle)
    with pytest.raises(BundleError, match="a bundle may hold 2000"):
        stage_bundle(write_bundle(tmp_path / "big"), tmp_path / "w9", None, 2000, unzip_bundle)


def test_results_are_judged_against_the_hosts_schema(tmp_path: Path) -> None:
    challenge, _ = stage_bundle(
        write_bundle(tmp_path / "b"), tmp_path / "w", None, 1 << 20, unzip_bundle
    )
    scores, status, _ = judge(
        challenge,
        "test",
        {
            "result": [
                {"dev_split": {"accuracy": 0.5, "correct": 2}},
                {"test_split": {"accuracy": math.nan, "correct": 0}},
            ],
            "error": [{"dev_split": {"error_accuracy": 0.1}}],
        },
        "sha",
    )
    assert status == "finished"
    assert scores[0].metrics == {"accuracy": 0.5, "correct": 2}
    assert isinstance(scores[0].metrics["correct"], int)  # ints stay ints
    assert scores[0].error == {"accuracy": 0.1}
    assert scores[1].metrics["accuracy"] is None  # NaN: missing, never ranked
    partial = {"result": [{"dev_split": {"accuracy": 1.0}}]}
    assert judge(challenge, "test", partial, "sha")[1] == "partially_evaluated"
    scores, status, _message = judge(
        challenge, "dev", {"result": [{"dev_split": {"accuracy": 1}}], "x": 1}, "sha"
    )
    assert status == "finished"
    assert scores[0].fingerprint == "sha"
    for returned, words in (
        (None, "without a 'result' key"),
        ({"result": {"dev_split": {}}}, "not a list"),
        ({"result": [{"test_split": {"accuracy": 1}}]}, "dev is not evaluated on|not evaluated"),
        ({"result": [{"dev_split": {"f1": 1}}]}, "'f1' is not a label"),
        ({"result": [{"dev_split": {"accuracy": "high"}}]}, "str, not a number"),
        ({"result": [{"dev_split": {"accuracy": 1}, "test_split": {}}]}, "one split"),
        ({"result": []}, "empty result"),
    ):
        with pytest.raises(HostError, match=words):
            judge(challenge, "dev", returned, "sha")
    # Without partial evaluation a split left out is the script's doing, not the team's.
    no_partial = challenge.model_copy(
        update={
            "phases": [
                p.model_copy(update={"is_partial_submission_evaluation_enabled": False})
                for p in challenge.phases
            ]
        }
    )
    with pytest.raises(HostError, match="not test_split, which test is evaluated on"):
        judge(no_partial, "test", partial, "sha")


def _evaluate_with(tmp_path: Path, init: str, body: dict[str, object]) -> ChallengeResult:
    """Our bundle with its own __init__.py, stored and run once (no isolation: fast)."""
    folder = write_bundle(tmp_path / "b")
    (folder / "evaluation_script" / "__init__.py").write_text(init)
    settings = Settings(data_dir=tmp_path / "data")
    staged, bundle = stage_bundle(folder, tmp_path / "w", None, 1 << 20, unzip_bundle)
    challenge, _ = store_bundle(staged, bundle, settings.data_dir)
    upload = tmp_path / "sub.json"
    upload.write_text(json.dumps(body))
    meta = {"submission_metadata": {"model": "m"}, "participant_team_name": "ants"}
    return evaluate_submission(
        challenge, "dev", upload, "sub.json", ProcessSandbox(), settings, meta
    )


def test_a_script_that_cannot_import_is_the_hosts_failure(tmp_path: Path) -> None:
    # A real Starters bundle that imports pandas without listing it, or pip-installs at
    # import with no network: it fails before any submission is read, for every team.
    answers = {"answers": {"a": 1, "b": 2}}
    missing = _evaluate_with(
        tmp_path / "1", "import no_such_pkg_xyz\nfrom .main import evaluate\n", answers
    )
    assert (missing.status, missing.failed_by) == ("failed", "host")
    assert "importing it raised ModuleNotFoundError" in missing.message
    assert "does not count" in missing.message
    assert "no_such_pkg_xyz" in missing.host_log
    assert "no_such_pkg_xyz" not in missing.message
    crashing = _evaluate_with(tmp_path / "2", "from .main import evaluate\n", {"mode": "crash"})
    assert (crashing.status, crashing.failed_by) == ("failed", "submission")  # evaluate() raised
    # The sandbox met inside evaluate(), not the data: a lazy import of an unlisted package,
    # a download (nltk.download catches its error; the lookup after it raises).
    for i, (mode, said) in enumerate(
        [("lazy-import", "a module the challenge's environment lacks"), ("download", "network")]
    ):
        met = _evaluate_with(tmp_path / f"m{i}", "from .main import evaluate\n", {"mode": mode})
        assert (met.status, met.failed_by) == ("failed", "host"), met.message
        assert said in met.message
        assert "does not count" in met.message
    fine = _evaluate_with(tmp_path / "3", "from .main import evaluate\n", answers)
    assert fine.status == "finished"
    assert fine.scores[0].metrics["correct"] == 2


def test_submission_metadata_is_checked_against_the_phase(tmp_path: Path) -> None:
    challenge, _ = stage_bundle(
        write_bundle(tmp_path / "b"), tmp_path / "w", None, 1 << 20, unzip_bundle
    )
    dev = challenge.phase("dev")
    good = {"model": "resnet", "size": "S", "tricks": ["aug"], "pretrained": True}
    assert meta_answers(dev, json.dumps(good)) == good
    for given, words in (
        ("{not json", "not valid JSON"),
        ("[1]", "JSON object"),
        ("{}", "requires submission_metadata model"),
        ('{"model": "x", "colour": "red"}', "asks no colour"),
        ('{"model": "x", "size": "XL"}', "one of S, L"),
        ('{"model": "x", "tricks": ["magic"]}', "some of aug, tta"),
        ('{"model": "x", "pretrained": "yes"}', "true or false"),
    ):
        with pytest.raises(ServiceError, match=words) as caught:
            meta_answers(dev, given)
        assert caught.value.status == 422


# --- slow: the whole path in real bubblewrap ------------------------------------------------


def _import(s: Service, folder: Path, who: str = "tina", **params: str):  # type: ignore[no-untyped-def]
    return s.client.post(
        "/api/v1/admin/challenges",
        headers=s.headers(who),
        files={"file": ("bundle.zip", zipped(folder))},
        params={"name": "tiny", **params},
    )


def _submit(s: Service, who: str, phase: str, body: dict, meta: dict | None = None, **form: str):  # type: ignore[no-untyped-def, type-arg]
    data = {"phase": phase, **form}
    if meta is not None:
        data["submission_metadata"] = json.dumps(meta)
    return s.client.post(
        "/api/v1/challenges/tiny/submissions",
        headers=s.headers(who),
        files={"file": ("answers.json", json.dumps(body).encode())},
        data=data,
    )


def _board(s: Service, phase: str, split: str, who: str = "tina") -> list[dict]:  # type: ignore[type-arg]
    response = s.client.get(
        "/api/v1/challenges/tiny/leaderboard",
        headers=s.headers(who),
        params={"phase": phase, "split": split},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["results"])


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap")
@pytest.mark.parametrize("database", ["sqlite", "postgres"])
def test_a_bundle_end_to_end_in_bubblewrap(
    tmp_path: Path, database: str, request: pytest.FixtureRequest
) -> None:
    url = None if database == "sqlite" else str(request.getfixturevalue("postgres_url"))
    with embedded_service(tmp_path, database_url=url) as s:
        folder = write_bundle(tmp_path / "b")
        assert _import(s, folder, who="alice").status_code == 403
        bad = s.client.post(
            "/api/v1/admin/challenges",
            headers=s.headers("tina"),
            files={"file": ("b.zip", b"PK\x05\x06" + b"\x00" * 18)},
        )
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_bundle"
        first = _import(s, folder)
        assert first.status_code == 201, first.text
        v1 = first.json()
        assert v1["previous_version"] is None
        assert v1["evaluation"] == "evalai-script"

        meta = {"model": "lookup", "pretrained": False}
        refused = _submit(s, "alice", "dev", {"answers": {}}, {"size": "S"})
        assert refused.status_code == 422
        assert "requires submission_metadata model" in refused.text
        good = _submit(s, "alice", "dev", {"answers": {"a": 1, "b": 2, "c": 3}}, meta).json()
        done = s.wait("alice", good["id"])
        result = done["challenge_result"]
        assert done["status"] == "graded"
        assert result["status"] == "finished", result
        assert result["scores"][0]["metrics"] == {"accuracy": 0.6, "correct": 3}
        assert result["scores"][0]["error"] == {"accuracy": 0.05}
        assert result["challenge_version"] == v1["version"]
        assert result["execution_time_s"] > 0
        assert result["submission_metadata"] == meta
        assert result["host_log"] == ""
        assert result["submission_result"] is None
        staff = s.client.get(f"/api/v1/submissions/{good['id']}", headers=s.headers("tina"))
        assert staff.json()["challenge_result"]["submission_result"] == {
            "model": "lookup",
            "team": "alice",
        }
        bob = _submit(s, "bob", "dev", {"answers": {"a": 1}}, {"model": "m"}).json()
        s.wait("bob", bob["id"])
        rows = _board(s, "dev", "dev_split", who="bob")
        assert [(r["submission__participant_team__team_name"], r["rank"]) for r in rows] == [
            ("alice", 1),
            ("bob", 2),
        ]
        assert rows[0]["result"][:2] in ([0.6, 3], [0.6, 3.0])
        assert rows[0]["submission__is_public"] is True  # the phase's is_submission_public

        # A crash: the submission's failure, counted; the annotations it printed and
        # quoted in its exception reach staff only.
        crash = _submit(s, "alice", "dev", {"mode": "crash"}, {"model": "m"}).json()
        crashed = s.wait("alice", crash["id"])
        said = json.dumps(crashed)
        assert crashed["challenge_result"]["status"] == "failed"
        assert crashed["challenge_result"]["failed_by"] == "submission"
        assert "ValueError" in crashed["challenge_result"]["message"]
        assert SECRET not in said
        staff = s.client.get(f"/api/v1/submissions/{crash['id']}", headers=s.headers("tina"))
        assert SECRET in staff.json()["challenge_result"]["host_log"]
        third = _submit(s, "alice", "dev", {"answers": {}}, {"model": "m"})  # 3 of 3 today
        s.wait("alice", third.json()["id"])
        over = _submit(s, "alice", "dev", {"answers": {}}, {"model": "m"})
        assert over.status_code == 429  # the crash counted

        # A result outside the host's schema: the host's error, shown to staff, not counted.
        for _ in range(2):
            garbage = _submit(s, "bob", "dev", {"mode": "garbage"}, {"model": "m"}).json()
            broken = s.wait("bob", garbage["id"])["challenge_result"]
            assert broken["status"] == "failed"
            assert broken["failed_by"] == "host"
            assert "evaluation script is broken" in broken["message"]
        staff = s.client.get(f"/api/v1/submissions/{garbage['id']}", headers=s.headers("tina"))
        assert "no_such_split" in staff.json()["challenge_result"]["host_log"]
        # bob: 1 counted (the garbage twice did not count) of dev's 3 a day
        again = _submit(s, "bob", "dev", {"answers": {}}, {"model": "m"})
        assert again.status_code == 201
        s.wait("bob", again.json()["id"])
        assert _submit(s, "bob", "dev", {"answers": {}}, {"model": "m"}).status_code == 201

        # Past the phase's execution_time_limit (4 s): the submission's failure.
        slow = _submit(s, "alice", "test", {"mode": "sleep"}).json()
        slept = s.wait("alice", slow["id"], timeout=60)["challenge_result"]
        assert slept["status"] == "failed"
        assert slept["failed_by"] == "submission"
        assert "ran past this phase's 4 s limit" in slept["message"]

        # Partial evaluation in the test phase: ranked on the split it has.
        body = {"mode": "dev-only", "answers": {"a": 1}}
        partial = _submit(s, "alice", "test", body, is_public="true").json()
        part = s.wait("alice", partial["id"])["challenge_result"]
        assert part["status"] == "partially_evaluated"
        assert [x["split"] for x in part["scores"]] == ["dev_split"]
        assert len(_board(s, "test", "dev_split")) == 1
        assert _board(s, "test", "test_split") == []

        # Re-import: a new version (scores doubled), kept beside the old; every
        # submission evaluated again, the leaderboards before and after.
        second = _import(s, write_bundle(tmp_path / "b2", scale=2.0), wait_s="60")
        assert second.status_code == 201, second.text
        v2 = second.json()
        assert v2["previous_version"] == v1["version"] != v2["version"]
        assert v2["reevaluated"] >= 6
        assert v2["pending"] == []
        dev = next(
            b for b in v2["leaderboards"] if (b["phase"], b["split"]) == ("dev", "dev_split")
        )
        assert [r["value"] for r in dev["before"]][:2] == [0.6, 0.2]
        assert [r["value"] for r in dev["after"]][:2] == [1.2, 0.4]
        versions = s.settings.data_dir / "challenges" / "tiny"
        assert {v1["version"], v2["version"]} <= {p.name for p in versions.iterdir()}
        rescored = s.client.get(f"/api/v1/submissions/{good['id']}", headers=s.headers("alice"))
        assert rescored.json()["challenge_result"]["challenge_version"] == v2["version"]
        # The data route serves no annotations of an imported bundle.
        assert s.client.get("/api/v1/challenges/tiny/data/test_split").status_code == 404


@pytest.mark.slow
def test_the_cli_imports_a_folder_and_refuses_an_unknown_evaluation(tmp_path: Path) -> None:
    env = {**os.environ, "DLGRADER_DATA_DIR": str(tmp_path / "data")}
    folder = write_bundle(tmp_path / "b")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "grader.cli", "challenge", "import", *args]
        return subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT)

    unknown = cli(str(folder), "--evaluation", "my_eval")
    assert unknown.returncode == 2
    assert "unknown evaluation 'my_eval'" in unknown.stderr
    done = cli(str(folder), "--name", "tiny", "--json", str(tmp_path / "imported.json"))
    assert done.returncode == 0, done.stderr
    assert "imported tiny version" in done.stdout
    assert json.loads((tmp_path / "imported.json").read_text())["phases"] == ["dev", "test"]
    again = cli(str(folder), "--name", "tiny")  # the same content: the same version
    assert again.returncode == 0
    assert "(was " in again.stdout
