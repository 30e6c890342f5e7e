"""`dlgrader grade` on cnn-layers through the real bubblewrap: a correct solution,
buggy ones that lose points exactly where they break, with the expected hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grade import grade
from grader.sandbox import select_sandbox
from grader.sandbox.bwrap import BwrapSandbox
from grader.specs import get_assignment
from submissions_schema import TestStatus, Verdict

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cnn-layers" / "layers.py"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="bubblewrap unavailable"),
]


def mutate(tmp_path: Path, old: str, new: str) -> Path:
    source = EXAMPLE.read_text()
    assert old in source, old
    path = tmp_path / "layers.py"
    path.write_text(source.replace(old, new, 1))
    return path


def test_correct_solution_scores_full_marks() -> None:
    result = grade(EXAMPLE, get_assignment("cnn-layers"), select_sandbox("bwrap"), secret_seed=7)
    assert result.verdict == Verdict.graded
    assert result.score == pytest.approx(result.max_score)
    assert all(t.status == TestStatus.passed for t in result.tests)


BUGS = [
    (
        "relu without mask",
        "return dout * (cache > 0)",
        "return dout * 1.0",
        {"relu_backward"},
        "mask",
    ),
    (
        "bias averaged",
        "db = np.sum(dout, axis=0)",
        "db = np.mean(dout, axis=0)",
        {"affine_backward"},
        "sum",
    ),
    (
        "transposed dw",
        "dw = x.reshape(x.shape[0], -1).T.dot(dout)",
        "dw = dout.T.dot(x.reshape(x.shape[0], -1))",
        {"affine_backward"},
        "transposed",
    ),
    (
        "softmax not divided by N",
        "    return loss, dx / N",
        "    return loss, dx",
        {"softmax_loss"},
        "divided by N",
    ),
    (
        "dropout not inverted",
        "mask = (np.random.rand(*x.shape) < p) / p",
        "mask = (np.random.rand(*x.shape) < p) * 1.0",
        {"dropout_forward", "dropout_backward"},
        "inverted",
    ),
    (
        "batchnorm without mean terms",
        "dx = (N * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)",
        "dx = dxhat / std",
        {"batchnorm_backward"},
        "mean and variance",
    ),
    (
        "max-pool distributes",
        "dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]",
        "dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += dout[n, c, i, j]",
        {"max_pool_backward_naive"},
        "winner",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "broken", "hint"), BUGS, ids=[b[0] for b in BUGS])
def test_buggy_solution_loses_points_where_it_breaks(
    tmp_path: Path, name: str, old: str, new: str, broken: set[str], hint: str
) -> None:
    result = grade(
        mutate(tmp_path, old, new),
        get_assignment("cnn-layers"),
        select_sandbox("bwrap"),
        secret_seed=7,
    )
    assert result.verdict == Verdict.graded
    failed = {t.function for t in result.tests if t.status != TestStatus.passed}
    assert failed == broken
    hints = [t.hint or "" for t in result.tests if t.function in broken]
    assert any(hint in h for h in hints), hints


def test_wrong_forward_is_named_before_the_backward(tmp_path: Path) -> None:
    path = mutate(
        tmp_path,
        "out = x.reshape(x.shape[0], -1).dot(w) + b",
        "out = x.reshape(x.shape[0], -1).dot(w)",
    )
    result = grade(path, get_assignment("cnn-layers"), select_sandbox("bwrap"), secret_seed=7)
    forward = [t for t in result.tests if t.function == "affine_forward"]
    backward = [t for t in result.tests if t.function == "affine_backward"]
    assert all(t.status == TestStatus.failed for t in forward)
    assert all(t.status == TestStatus.passed for t in backward)  # its backward is right


def test_backward_inconsistent_with_own_forward_is_told(tmp_path: Path) -> None:
    path = mutate(
        tmp_path, "dx = dout.dot(w.T).reshape(x.shape)", "dx = 2 * dout.dot(w.T).reshape(x.shape)"
    )
    result = grade(path, get_assignment("cnn-layers"), select_sandbox("bwrap"), secret_seed=7)
    bad = [t for t in result.tests if t.function == "affine_backward"]
    assert all("does not match your own forward" in t.message for t in bad)


def test_hidden_cases_follow_the_secret_seed() -> None:
    from grader.cases import build_cases

    spec = get_assignment("cnn-layers")
    a, b = build_cases(spec, 0, secret_seed=1), build_cases(spec, 0, secret_seed=2)
    for ca, cb in zip(a, b, strict=True):
        same = all((ca.inputs[k] == cb.inputs[k]).all() for k in ca.inputs)
        assert same == (ca.visibility.value == "visible")
