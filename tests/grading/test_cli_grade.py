"""The grading commands end to end, as a student or a TA runs them."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from tests.grading.helpers import EXAMPLES, needs_bwrap

pytestmark = [pytest.mark.integration, needs_bwrap]

LAYERS = EXAMPLES / "cnn-layers" / "layers.py"


def dlgrader(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def test_grade_prints_a_table_and_writes_json_and_gradescope(tmp_path: Path) -> None:
    proc = dlgrader(
        "grade",
        str(LAYERS),
        "--assignment",
        "cnn-layers",
        "--json",
        str(tmp_path / "r.json"),
        "--gradescope",
        str(tmp_path / "gs.json"),
    )
    assert proc.returncode == 0, proc.stderr
    assert "total: 52 / 52" in proc.stdout
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["verdict"] == "graded"
    assert result["score"] == result["max_score"] == 52
    gs = json.loads((tmp_path / "gs.json").read_text())
    assert gs["score"] == 52
    assert isinstance(gs["execution_time"], float)
    assert gs["execution_time"] > 0
    assert {t["status"] for t in gs["tests"]} == {"passed"}
    assert {"name", "score", "max_score", "status", "output", "visibility"} <= set(gs["tests"][0])
    assert {t["visibility"] for t in gs["tests"]} == {"visible", "hidden"}
    assert gs["leaderboard"][0] == {"name": "Score", "value": 52}
    assert gs["leaderboard"][1]["order"] == "asc"


def test_grading_result_validates_against_its_exported_schema(tmp_path: Path) -> None:
    assert dlgrader("schema", "export", str(tmp_path / "schemas")).returncode == 0
    schema = json.loads((tmp_path / "schemas" / "GradingResult.schema.json").read_text())
    dlgrader("grade", str(LAYERS), "-a", "cnn-layers", "--json", str(tmp_path / "r.json"))
    jsonschema.validate(json.loads((tmp_path / "r.json").read_text()), schema)


def test_a_folder_and_a_zip_are_graded_like_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "hw" / "cs231n"
    folder.mkdir(parents=True)
    (folder / "layers.py").write_text(LAYERS.read_text())
    assert "total: 52 / 52" in dlgrader("grade", str(tmp_path / "hw"), "-a", "cnn-layers").stdout
    archive = tmp_path / "hw.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(folder / "layers.py", "cs231n/layers.py")
    assert "total: 52 / 52" in dlgrader("grade", str(archive), "-a", "cnn-layers").stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["grade", "nowhere.py", "-a", "cnn-layers"], "does not exist"),
        (["grade", str(LAYERS), "-a", "no-such-assignment"], "no assignment"),
        (["grade", str(LAYERS), "-a", "cnn-layers", "--sandbox", "chroot"], "unknown sandbox"),
        (
            ["grade", str(LAYERS), "-a", "cnn-layers", "--gradescope", "no/such/dir/r.json"],
            "no/such/dir is not a folder",
        ),
        (["grade", str(LAYERS), "-a", "cnn-layers", "--json", "/proc/r.json"], "cannot write"),
        (["grade", str(LAYERS)], "Missing option"),
        (["reproduce", "nowhere"], "claims.yaml"),
        (["reproduce", str(EXAMPLES / "reproduce" / "digits-study"), "--runs", "2"], "at least 3"),
        (["reproduce", ".", "--submit", "--runs", "5"], "run.seeds"),
        (["assignment", "show", "nope"], "no assignment"),
        (["init", "cnn-layers", "/proc/hw"], "cannot write into /proc/hw"),
        (["sandbox", "status", "--require", "chroot"], "unknown sandbox"),
        (["admin", "token", "create", "--user", "x", "--role", "king", "--local"], "no role"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], words: str) -> None:
    proc = dlgrader(*args)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_unreadable_submission_is_rejected_not_graded(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    results = tmp_path / "results.json"
    results.write_text('{"score": 52}')  # a stale one from an earlier run
    proc = dlgrader("grade", str(tmp_path), "-a", "cnn-layers", "--gradescope", str(results))
    assert proc.returncode == 4
    assert "no layers.py" in proc.stderr
    # Gradescope records no zero: without results.json the run "failed to execute".
    assert not results.exists()
    bad_zip = tmp_path / "bad.zip"
    bad_zip.write_bytes(b"PK\x03\x04 not really")
    proc = dlgrader("grade", str(bad_zip), "-a", "cnn-layers")
    assert proc.returncode == 4
    assert "not a valid zip" in proc.stderr


def test_a_graded_submission_exits_0_whatever_its_score(tmp_path: Path) -> None:
    wrong = tmp_path / "layers.py"
    wrong.write_text(LAYERS.read_text().replace("np.maximum(0, x)", "x"))
    proc = dlgrader("grade", str(wrong), "-a", "cnn-layers")
    assert proc.returncode == 0
    assert "total: 52 / 52" not in proc.stdout


def test_a_data_folder_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DLGRADER_DATA_DIR": "/proc/no-such-place"}
    proc = subprocess.run(
        [sys.executable, "-m", "grader.cli", "admin", "token", "create", "--user", "x", "--local"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert proc.returncode == 3, proc.stderr
    assert "cannot use the data folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_process_sandbox_grades_too_and_warns() -> None:
    proc = dlgrader("grade", str(LAYERS), "-a", "cnn-layers", "--sandbox", "process")
    assert proc.returncode == 0
    assert "total: 52 / 52" in proc.stdout
    assert "unisolated" in proc.stderr


def test_init_writes_stubs_that_grade_to_zero_without_errors_of_ours(tmp_path: Path) -> None:
    for name, module in (("cnn-layers", "layers"), ("autodiff", "autodiff")):
        assert dlgrader("init", name, str(tmp_path / name)).returncode == 0
        stub = tmp_path / name / f"{module}.py"
        text = stub.read_text()
        assert "raise NotImplementedError" in text
        assert "np.dot" not in text  # signatures and docs only
        proc = dlgrader("grade", str(stub), "-a", name, "--json", str(tmp_path / "r.json"))
        assert proc.returncode == 0
        result = json.loads((tmp_path / "r.json").read_text())
        assert result["score"] == 0
        assert {t["status"] for t in result["tests"]} <= {"error", "not_run"}
    assert dlgrader("init", "autodiff", str(tmp_path / "autodiff")).returncode == 2  # exists


def test_assignment_show_lists_every_student_function() -> None:
    proc = dlgrader("assignment", "show", "autodiff")
    assert proc.returncode == 0
    for name in ("MaxGate", "topological_order", "backward_pass", "forward_mode", "relu_jacobian"):
        assert name in proc.stdout
    listing = dlgrader("assignments").stdout
    assert "cnn-layers" in listing
    assert "autodiff" in listing
