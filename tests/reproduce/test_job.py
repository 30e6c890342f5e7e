"""`dlgrader reproduce` on real projects, through bubblewrap."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader.reproduce.job import ReproduceJob, sha256_path
from grader.sandbox import select_sandbox
from grader.sandbox.bwrap import BwrapSandbox
from submissions_schema.reproduce import ClaimVerdict, DeterminismClass
from tests.browser import dump_dom, require_chromium

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap"),
]
ROOT = Path(__file__).resolve().parents[2]
STUDY = ROOT / "examples" / "reproduce" / "digits-study"


def project(tmp_path: Path, train: str, claims: str) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "train.py").write_text(train)
    (tmp_path / "claims.yaml").write_text(claims)
    return tmp_path


CLOCK_SEEDED = """
import json, sys, time, random
from pathlib import Path
out = Path(sys.argv[sys.argv.index("--out") + 1]); out.mkdir(parents=True, exist_ok=True)
random.seed(time.time_ns())  # the bug: the seed comes from the clock
(out / "metrics.json").write_text(json.dumps({"score": 1 + random.random() / 1000}))
"""
SEEDED = CLOCK_SEEDED.replace(
    "random.seed(time.time_ns())  # the bug: the seed comes from the clock",
    "random.seed(int(sys.argv[sys.argv.index('--seed') + 1]))",
)
CLAIMS = """
run: {cmd: "python train.py --seed {seed} --out {out}", seeds: [0, 1, 2], time_limit_s: 30, packages: [numpy]}
claims: [{id: C1, type: threshold, metric: score, min: 0.0}]
"""


@pytest.mark.slow
def test_the_example_study_gets_each_verdict(tmp_path: Path) -> None:
    report = ReproduceJob(STUDY, select_sandbox("bwrap"), runs=3).execute()
    verdicts = {c.id: c.verdict for c in report.claims}
    assert verdicts == {
        "C1": ClaimVerdict.reproduced,
        "C2": ClaimVerdict.not_reproduced,
        "C3": ClaimVerdict.reproduced,
        "C4": ClaimVerdict.inconclusive,
    }
    assert report.determinism is not None
    assert report.determinism.result == DeterminismClass.bitwise
    assert len(report.runs) == 9
    assert all(r.ok and r.peak_memory_mb for r in report.runs)
    assert report.fingerprint["packages"]["scikit-learn"]  # type: ignore[index]
    assert "python" in report.fingerprint
    assert report.data == {"data/README.md": sha256_path(STUDY / "data" / "README.md")}
    assert {a.metric for a in report.aggregates} == {"test_acc", "macro_f1"}


def test_a_clock_seeded_project_is_divergent_and_a_seeded_one_bitwise(tmp_path: Path) -> None:
    divergent = ReproduceJob(
        project(tmp_path / "a", CLOCK_SEEDED, CLAIMS), select_sandbox("bwrap")
    ).determinism()
    assert divergent.result == DeterminismClass.divergent
    assert divergent.metric.startswith("score (seed ")  # which metric, which seed
    assert divergent.seeds == [0, 1]
    bitwise = ReproduceJob(
        project(tmp_path / "b", SEEDED, CLAIMS), select_sandbox("bwrap")
    ).determinism()
    assert bitwise.result == DeterminismClass.bitwise


def test_a_changed_data_file_stops_the_job(tmp_path: Path) -> None:
    copy = tmp_path / "study"
    shutil.copytree(STUDY, copy)
    (copy / "data" / "README.md").write_text("changed\n")
    report = ReproduceJob(copy, select_sandbox("bwrap"), runs=3).execute()
    assert report.verdict == "input_mismatch"
    assert "data/README.md" in report.message
    assert report.runs == []


def test_a_crashing_run_fails_to_run_with_its_log(tmp_path: Path) -> None:
    crash = "raise RuntimeError('CUDA out of memory (pretend)')\n"
    report = ReproduceJob(project(tmp_path, crash, CLAIMS), select_sandbox("bwrap")).execute()
    assert report.claims[0].verdict == ClaimVerdict.failed_to_run
    assert "CUDA out of memory (pretend)" in report.claims[0].reason
    assert report.determinism is not None
    assert report.determinism.result == DeterminismClass.failed


@pytest.mark.slow  # a reproduce job and a browser
def test_cli_writes_every_report_and_the_page_reads_in_chromium(tmp_path: Path) -> None:
    proj = project(tmp_path / "p", SEEDED, CLAIMS)
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "reproduce",
            str(proj),
            "--sandbox",
            "bwrap",
            "--json",
            str(out / "r.json"),
            "--html",
            str(out / "r.html"),
            "--markdown",
            str(out / "r.md"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "C1" in proc.stdout
    assert "determinism: bitwise" in proc.stdout
    report = json.loads((out / "r.json").read_text())
    assert report["claims"][0]["verdict"] == "reproduced"
    markdown = (out / "r.md").read_text()
    assert "## Reproducibility summary (skeleton)" in markdown
    assert "What was difficult" in markdown
    require_chromium()
    dom = dump_dom(out / "r.html")
    assert 'class="verdict reproduced"' in dom
    assert "data:image/png;base64," in dom
    # The page carries what only the JSON or the Markdown had: every package, the
    # per-variant spread, the summary skeleton; a claim's reason wraps inside its card.
    assert "packages installed</summary>" in dom
    assert "<h2>Per variant</h2>" in dom
    assert "Reproducibility summary (skeleton)" in dom
    assert "overflow-wrap:anywhere" in dom
    bad = subprocess.run(
        [sys.executable, "-m", "grader.cli", "reproduce", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2
    assert "has no claims.yaml" in bad.stderr


def test_a_hostile_project_tree_is_read_never_executed(tmp_path: Path) -> None:
    """git is never run on a project (core.fsmonitor ran as root before); links, FIFOs
    and .git stay out of the sandbox; the commit is read from .git's own files."""
    marker = tmp_path / "fsmonitor-ran"
    proj = project(tmp_path / "p", SEEDED, CLAIMS)
    git = proj / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "refs" / "heads" / "main").write_text("a" * 40 + "\n")
    (git / "config").write_text(f"[core]\n\tfsmonitor = touch {marker}\n")
    (git / "hooks").mkdir()
    os.mkfifo(proj / "fifo")
    (proj / "passwd").symlink_to("/etc/passwd")
    (proj / "train.py").write_text(
        SEEDED
        + "\nimport os\n"
        + "assert not os.path.exists('passwd') and not os.path.exists('.git'), 'leaked'\n"
    )
    report = ReproduceJob(proj, select_sandbox("bwrap")).execute()
    assert not marker.exists()
    assert report.git_commit == "a" * 40
    assert report.git_dirty is None  # unknowable without running git
    assert report.claims[0].verdict == ClaimVerdict.reproduced, report.claims[0].reason


def test_claims_with_yaml_aliases_are_refused_at_once(tmp_path: Path) -> None:
    import time

    from grader.reproduce.job import ClaimsError, load_claims

    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    proj = project(tmp_path / "bomb", SEEDED, "\n".join(levels) + "\n" + CLAIMS)
    start = time.monotonic()
    with pytest.raises(ClaimsError, match="aliases"):
        load_claims(proj)
    assert time.monotonic() - start < 1


def test_run_packages_must_be_on_the_hosts_list(tmp_path: Path) -> None:
    """Naming dlgrader (or anything the host did not allow) mounted the grader itself."""
    from grader.reproduce.job import ClaimsError

    for asked in ("dlgrader", "pydantic"):
        claims = CLAIMS.replace("packages: [numpy]", f"packages: [numpy, {asked}]")
        proj = project(tmp_path / asked, SEEDED, claims)
        with pytest.raises(ClaimsError, match=f"{asked} not allowed here"):
            ReproduceJob(proj, select_sandbox("bwrap"))
