"""claims.yaml validation, and the verdict rules on numbers chosen by hand."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.reproduce.job import ClaimsError, load_claims
from grader.reproduce.stats import judge_absolute, judge_comparison, judge_threshold
from submissions_schema.reproduce import (
    AbsoluteClaim,
    ClaimVerdict,
    ComparisonClaim,
    ThresholdClaim,
)

GOOD = """
run: {cmd: "python t.py --seed {seed} --out {out} {args}", variants: {default: "", b: "--b"}}
claims:
  - {id: C1, type: absolute, metric: acc, reported: {value: 90}}
  - {id: C2, type: comparison, metric: acc, a: default, b: b}
  - {id: C3, type: threshold, metric: acc, min: 80}
"""


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "claims.yaml").write_text(text)
    return tmp_path


def test_a_good_file_loads(tmp_path: Path) -> None:
    claims = load_claims(write(tmp_path, GOOD))
    assert [c.type for c in claims.claims] == ["absolute", "comparison", "threshold"]
    assert claims.run.seeds == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda t: t.replace("--seed {seed} ", ""), "run.cmd lacks {seed}"),
        (lambda t: t.replace("b: b}", "b: nope}"), "variant 'nope'"),
        (lambda t: t.replace("min: 80}", "min: 80, max: 99}"), "exactly one of min and max"),
        (lambda t: t.replace("id: C3", "id: C1"), "claim ids must be unique"),
        (lambda t: t.replace("type: absolute", "type: vibes"), "claims.0"),
        (lambda t: t + "data: [{path: x, sha256: nothex}]\n", "data.0.sha256"),
        (lambda t: t.replace("run: {cmd", "run: {seeds: [0, 1], cmd"), "run.seeds"),
        (lambda t: "run: [", "not valid YAML"),
    ],
)
def test_bad_files_say_exactly_what_is_wrong(tmp_path: Path, edit, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(
        ClaimsError, match=words.replace("{", r"\{").replace("}", r"\}").replace(".", r"\.")
    ):
        load_claims(write(tmp_path, edit(GOOD)))


def test_no_claims_file(tmp_path: Path) -> None:
    with pytest.raises(ClaimsError, match=r"has no claims\.yaml"):
        load_claims(tmp_path)


def absolute(**kw: object) -> AbsoluteClaim:
    return AbsoluteClaim.model_validate(
        {"id": "C", "type": "absolute", "metric": "acc", "reported": {"value": 90.0}, **kw}
    )


def test_absolute_rules() -> None:
    assert (
        judge_absolute(absolute(), [90.1, 89.9, 90.0, 90.2, 89.8]).verdict
        == ClaimVerdict.reproduced
    )
    assert (
        judge_absolute(absolute(), [85.0, 85.2, 84.9, 85.1, 85.0]).verdict
        == ClaimVerdict.not_reproduced
    )
    assert judge_absolute(absolute(), [80.0, 99.0, 90.0]).verdict == ClaimVerdict.inconclusive
    assert judge_absolute(absolute(), [90.0, 90.0]).verdict == ClaimVerdict.inconclusive
    higher = absolute(direction="higher")
    assert (
        judge_absolute(higher, [95.0, 95.1, 94.9]).verdict == ClaimVerdict.reproduced
    )  # better is fine
    assert judge_absolute(absolute(), [95.0, 95.1, 94.9]).verdict == ClaimVerdict.not_reproduced
    own = absolute(tolerance=6.0)
    result = judge_absolute(own, [95.0, 95.1, 94.9])
    assert result.verdict == ClaimVerdict.reproduced
    assert result.tolerance == 6.0
    fraction = AbsoluteClaim.model_validate(
        {"id": "F", "type": "absolute", "metric": "acc", "reported": {"value": 0.90}}
    )
    assert judge_absolute(fraction, [0.95, 0.951, 0.949]).verdict == ClaimVerdict.not_reproduced


def test_the_tolerance_follows_the_metric_and_the_paper_never_the_runs_noise() -> None:
    # A loss of 1.88 is not a 0-100 metric: 5% of it, not ±0.5.
    loss = absolute(reported={"value": 1.88}, kind="loss")
    judged = judge_absolute(loss, [2.30, 2.31, 2.29])
    assert judged.verdict == ClaimVerdict.not_reproduced
    assert judged.tolerance == pytest.approx(0.094)
    assert "5% of the reported value" in judged.reason
    percent = absolute(kind="percent")
    assert judge_absolute(percent, [90.5, 90.6, 90.4]).verdict == ClaimVerdict.reproduced
    assert judge_absolute(percent, [92.0, 92.1, 91.9]).verdict == ClaimVerdict.not_reproduced
    # A noisier reproduction is not easier to call reproduced.
    noisy = judge_absolute(percent, [80.0, 100.0, 85.0, 95.0, 90.0])
    assert noisy.verdict == ClaimVerdict.inconclusive
    assert noisy.tolerance == 1.0
    # The paper's std sets τ, and its own uncertainty (std over n) joins the test.
    paper = absolute(reported={"value": 90.0, "std": 1.0, "n": 5})
    judged = judge_absolute(paper, [90.6, 90.4, 90.5, 90.7, 90.3])
    assert judged.tolerance == 2.0
    assert judged.verdict == ClaimVerdict.reproduced
    assert "twice the paper's std" in judged.reason


def test_comparison_rules() -> None:
    claim = ComparisonClaim.model_validate(
        {"id": "C", "type": "comparison", "metric": "acc", "a": "x", "b": "y"}
    )
    better = judge_comparison(
        claim, {0: 2.0, 1: 3.0, 2: 2.5, 3: 2.2}, {0: 1.0, 1: 1.5, 2: 1.2, 3: 1.1}
    )
    assert better.verdict == ClaimVerdict.reproduced
    assert better.details["share_in_order"] == 1.0
    worse = judge_comparison(claim, {0: 1.0, 1: 1.0, 2: 1.0}, {0: 2.0, 1: 2.0, 2: 2.0})
    assert worse.verdict == ClaimVerdict.not_reproduced
    mixed = judge_comparison(
        claim, {0: 2.0, 1: 1.1, 2: 1.95, 3: 1.2}, {0: 1.5, 1: 1.5, 2: 1.5, 3: 1.5}
    )
    assert mixed.verdict == ClaimVerdict.inconclusive
    assert judge_comparison(claim, {0: 1.0}, {0: 0.0}).verdict == ClaimVerdict.inconclusive


def test_threshold_rules() -> None:
    at_least = ThresholdClaim.model_validate(
        {"id": "T", "type": "threshold", "metric": "acc", "min": 90}
    )
    assert judge_threshold(at_least, [95.0, 95.2, 94.8]).verdict == ClaimVerdict.reproduced
    assert judge_threshold(at_least, [80.0, 80.2, 79.8]).verdict == ClaimVerdict.not_reproduced
    assert judge_threshold(at_least, [85.0, 95.0, 90.0]).verdict == ClaimVerdict.inconclusive
    at_most = ThresholdClaim.model_validate(
        {"id": "T", "type": "threshold", "metric": "loss", "max": 0.5}
    )
    assert judge_threshold(at_most, [0.1, 0.11, 0.09]).verdict == ClaimVerdict.reproduced


def test_a_gpu_project_is_refused_by_a_sandbox_without_one(tmp_path: Path) -> None:
    """Run on the CPU, its `torch.device("cuda")` would fail and blame the project."""
    from grader.reproduce.job import ReproduceJob
    from grader.sandbox import SandboxUnavailable
    from grader.sandbox.process import ProcessSandbox

    folder = write(tmp_path, GOOD.replace("variants:", "gpu: true, variants:"))
    with pytest.raises(SandboxUnavailable, match=r"asks for a GPU \(run.gpu: true\)"):
        ReproduceJob(folder, ProcessSandbox())


@pytest.mark.slow  # two CLI processes
def test_the_cli_says_why_a_gpu_project_cannot_run_here(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = write(tmp_path, GOOD.replace("variants:", "gpu: true, variants:"))

    def dlgrader(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "grader.cli", "reproduce", str(folder), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    here = dlgrader("--sandbox", "process")
    assert here.returncode == 3, here.stderr
    assert "asks for a GPU" in here.stderr
    assert "Traceback" not in here.stderr
    wrong = dlgrader("--sandbox", "process", "--gpu", "0")
    assert wrong.returncode == 2
    assert "--gpu needs --sandbox docker" in wrong.stderr
