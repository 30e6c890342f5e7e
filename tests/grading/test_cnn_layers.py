"""`dlgrader grade` on cnn-layers through the real bubblewrap: the corpus of correct
solutions, the bug zoo (examples/cnn-layers/bugs.yaml) losing points exactly where each
bug breaks, with the expected hint, and the messages for particular mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading.cases import build_cases
from grader.grading.course import get_assignment
from grader.grading.mistakes import load_zoo
from grader.grading.zoo import check_corpus, check_zoo, corpus_sources
from grader.sandbox import select_sandbox
from submissions_schema import TestStatus, Verdict
from tests.grading.helpers import (
    EXAMPLES,
    broken_functions,
    grade_file,
    needs_bwrap,
    plant,
)

pytestmark = [pytest.mark.integration, needs_bwrap]

EXAMPLE = EXAMPLES / "cnn-layers" / "layers.py"


def test_the_example_solution_scores_full_marks() -> None:
    result = grade_file(EXAMPLE, "cnn-layers")
    assert result.verdict == Verdict.graded
    assert result.score == pytest.approx(result.max_score)
    assert all(t.status == TestStatus.passed for t in result.tests)


def test_every_correct_style_scores_full_marks_and_every_zoo_bug_loses_exactly_its_points() -> None:
    """The corpus (loops, vectorised with einsum and np.add.at, im2col, 2017-style in
    place with Adam's t from 1) and the bug zoo, as `dlgrader assignment check` runs them."""
    spec = get_assignment("cnn-layers")
    folder = EXAMPLES / "cnn-layers"
    sources = corpus_sources(folder, folder / f"{spec.module}.py")
    assert len(sources) >= 4
    cases = build_cases(spec, 0, secret_seed=7)
    box = select_sandbox("bwrap")
    for verdict in check_corpus(spec, sources, cases, box):
        assert verdict.full_marks, (verdict.name, [t.message for t in verdict.tests])
    bugs = load_zoo(folder / "bugs.yaml")
    assert len(bugs) >= 40
    verdicts = check_zoo(spec, bugs, sources, cases, box)
    wrong = [(v.bug.name, sorted(v.broken)) for v in verdicts if not v.exact]
    assert not wrong
    unnamed = [(v.bug.name, v.hints) for v in verdicts if v.bug.hint and not v.named]
    assert not unnamed
    assert sum(v.named for v in verdicts) >= 20


def test_a_gradient_of_the_wrong_shape_or_missing_is_named_as_such(tmp_path: Path) -> None:
    """Not "your backward does not match your own forward": the values are right in a
    (1, D) array, or there is no array at all."""
    keepdims = plant(
        tmp_path / "keepdims",
        EXAMPLE,
        [
            (
                "dgamma = np.sum(dout * xhat, axis=0)",
                "dgamma = np.sum(dout * xhat, axis=0, keepdims=True)",
            ),
            ("dbeta = np.sum(dout, axis=0)", "dbeta = np.sum(dout, axis=0, keepdims=True)"),
        ],
    )
    result = grade_file(keepdims, "cnn-layers")
    failed = [t for t in result.tests if t.status != TestStatus.passed]
    assert {t.function for t in failed} == {"batchnorm_backward"}
    for t in failed:
        assert "dgamma and dbeta hold the right values: fix the shape" in t.message
        assert "own forward" not in t.message
    missing = plant(
        tmp_path / "none",
        EXAMPLE,
        [
            (
                "dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]\n    return dx",
                "dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]\n    return None",
            )
        ],
    )
    result = grade_file(missing, "cnn-layers")
    failed = [t for t in result.tests if t.status != TestStatus.passed]
    assert {t.function for t in failed} == {"max_pool_backward_naive"}
    assert all("returned None" in t.message and "own forward" not in t.message for t in failed)


def test_an_unfinished_backward_is_named_as_such(tmp_path: Path) -> None:
    """A real 2022 solution left conv's backward at np.zeros_like: not "your backward does
    not match your own forward", but zeros named as zeros."""
    path = plant(
        tmp_path,
        EXAMPLE,
        [
            (
                "    dx = dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]\n",
                "    dx = np.zeros_like(x)\n    dw = np.zeros_like(w)\n",
            )
        ],
    )
    result = grade_file(path, "cnn-layers")
    failed = [t for t in result.tests if t.status != TestStatus.passed]
    assert {t.function for t in failed} == {"conv_backward_naive"}
    for t in failed:
        assert "dx and dw are all zeros: is the backward finished?" in t.message
        assert "own forward" not in t.message


def test_running_statistics_kept_with_keepdims_are_right(tmp_path: Path) -> None:
    """A real solution's running mean of shape (1, D): its values are right and its own
    later calls broadcast it; the message says so, the points stay."""
    path = plant(
        tmp_path,
        EXAMPLE,
        [
            ("mu = x.mean(axis=0)", "mu = x.mean(axis=0, keepdims=True)"),
            ("var = x.var(axis=0)", "var = x.var(axis=0, keepdims=True)"),
        ],
    )
    result = grade_file(path, "cnn-layers")
    assert result.score == result.max_score, [
        t.message for t in result.tests if t.score < t.max_score
    ]
    forward = next(t for t in result.tests if t.function == "batchnorm_forward")
    assert "its values are right" in forward.message


def test_another_starters_convention_is_named_and_the_assignment_decides(tmp_path: Path) -> None:
    """Dropout's p as the drop probability (2016-2017 starters) fails here, saying so;
    Adam's t from 1 (a 2017 starter's default) is accepted by cnn-layers."""
    dropping = plant(
        tmp_path / "dropout",
        EXAMPLE,
        [
            (
                "mask = (np.random.rand(*x.shape) < p) / p",
                "mask = (np.random.rand(*x.shape) >= p) / (1 - p)",
            )
        ],
    )
    result = grade_file(dropping, "cnn-layers")
    assert broken_functions(result) == {"dropout_forward", "dropout_backward"}
    forward = next(t for t in result.tests if t.function == "dropout_forward")
    assert "probability of dropping" in forward.message
    assert "does not accept" in forward.message
    adam = plant(
        tmp_path / "adam", EXAMPLE, [('config.setdefault("t", 0)', 'config.setdefault("t", 1)')]
    )
    result = grade_file(adam, "cnn-layers")
    assert result.score == result.max_score
    step = next(t for t in result.tests if t.function == "adam")
    assert "t starting at 1" in step.message
    assert "accepted here" in step.message


def test_the_adam_papers_efficient_order_is_adam(tmp_path: Path) -> None:
    """Bias corrections folded into the step size, epsilon on the uncorrected sqrt(v)
    (Kingma & Ba, section 2): at epsilon 0.1 it differs from the corrected form."""
    folded = plant(
        tmp_path,
        EXAMPLE,
        [
            (
                '    mt = config["m"] / (1 - config["beta1"] ** config["t"])\n'
                '    vt = config["v"] / (1 - config["beta2"] ** config["t"])\n'
                '    return w - config["learning_rate"] * mt / (np.sqrt(vt) + config["epsilon"]), config',
                '    t = config["t"]\n'
                '    lr = config["learning_rate"] * np.sqrt(1 - config["beta2"] ** t)'
                ' / (1 - config["beta1"] ** t)\n'
                '    return w - lr * config["m"] / (np.sqrt(config["v"]) + config["epsilon"]), config',
            )
        ],
    )
    result = grade_file(folded, "cnn-layers")
    steps = [t for t in result.tests if t.function == "adam"]
    assert [t.score for t in steps] == [t.max_score for t in steps]
    assert any("efficient order" in t.message for t in steps)


def test_wrong_forward_is_named_before_the_backward(tmp_path: Path) -> None:
    path = plant(
        tmp_path,
        EXAMPLE,
        [("out = x.reshape(x.shape[0], -1).dot(w) + b", "out = x.reshape(x.shape[0], -1).dot(w)")],
    )
    result = grade_file(path, "cnn-layers")
    assert broken_functions(result) == {"affine_forward"}  # its backward is right


def test_backward_inconsistent_with_its_own_forward_is_told(tmp_path: Path) -> None:
    path = plant(
        tmp_path,
        EXAMPLE,
        [("dx = dout.dot(w.T).reshape(x.shape)", "dx = 2 * dout.dot(w.T).reshape(x.shape)")],
    )
    result = grade_file(path, "cnn-layers")
    bad = [t for t in result.tests if t.function == "affine_backward"]
    assert all("does not match your own forward" in t.message for t in bad)


def test_backward_consistent_with_a_wrong_forward_is_told_to_fix_the_forward(
    tmp_path: Path,
) -> None:
    path = plant(
        tmp_path,
        EXAMPLE,
        [
            ("return np.maximum(0, x), x", "return np.maximum(0, 2 * x), x"),
            ("return dout * (cache > 0)", "return 2 * dout * (cache > 0)"),
        ],
    )
    result = grade_file(path, "cnn-layers")
    bad = [t for t in result.tests if t.function == "relu_backward"]
    assert all("fix the forward first" in t.message for t in bad)


def test_hidden_cases_follow_the_secret_seed() -> None:
    from grader.grading.cases import build_cases
    from grader.grading.course import get_assignment

    spec = get_assignment("cnn-layers")
    a, b = build_cases(spec, 0, secret_seed=1), build_cases(spec, 0, secret_seed=2)
    for ca, cb in zip(a, b, strict=True):
        same = all((ca.inputs[k] == cb.inputs[k]).all() for k in ca.inputs)
        assert same == (ca.visibility.value == "visible")


def test_a_softmax_without_the_max_shift_fails_on_large_scores_only(tmp_path: Path) -> None:
    naive = plant(
        tmp_path, EXAMPLE, [("shifted = x - np.max(x, axis=1, keepdims=True)", "shifted = x")]
    )
    result = grade_file(naive, "cnn-layers")
    lost = [t for t in result.tests if t.score < t.max_score]
    assert {t.function for t in lost} == {"softmax_loss"}
    assert all("near 1000" in t.name for t in lost), [t.name for t in lost]
    assert all(t.hint and "max" in t.hint for t in lost), [(t.message, t.hint) for t in lost]
