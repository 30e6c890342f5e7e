"""`dlgrader grade` on cnn-layers through the real bubblewrap: two correct solutions,
and buggy ones that lose points exactly where they break, with the expected hint."""

from __future__ import annotations

from pathlib import Path

import pytest

from submissions_schema import TestStatus, Verdict
from tests.grading.helpers import (
    EXAMPLES,
    FIXTURES,
    broken_functions,
    grade_file,
    hints_for,
    needs_bwrap,
    plant,
)

pytestmark = [pytest.mark.integration, needs_bwrap]

EXAMPLE = EXAMPLES / "cnn-layers" / "layers.py"
XP_PAD = 'xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")'


@pytest.mark.parametrize(
    "solution",
    [EXAMPLE, FIXTURES / "cnn-layers-vectorised" / "layers.py"],
    ids=["loops", "vectorised"],
)
def test_correct_solutions_score_full_marks(solution: Path) -> None:
    result = grade_file(solution, "cnn-layers")
    assert result.verdict == Verdict.graded
    assert result.score == pytest.approx(result.max_score)
    assert all(t.status == TestStatus.passed for t in result.tests)


# (name, edits, functions it breaks, words of the expected hint or None)
BUGS: list[tuple[str, list[tuple[str, str]], set[str], str | None]] = [
    (
        "relu without mask",
        [("return dout * (cache > 0)", "return dout * 1.0")],
        {"relu_backward"},
        "mask",
    ),
    (
        "bias averaged",
        [("db = np.sum(dout, axis=0)", "db = np.mean(dout, axis=0)")],
        {"affine_backward"},
        "sum it",
    ),
    (
        "transposed dw",
        [
            (
                "dw = x.reshape(x.shape[0], -1).T.dot(dout)",
                "dw = dout.T.dot(x.reshape(x.shape[0], -1))",
            )
        ],
        {"affine_backward"},
        "transposed",
    ),
    (
        "softmax not divided by N",
        [("    return loss, dx / N", "    return loss, dx")],
        {"softmax_loss"},
        "divided by N",
    ),
    (
        "svm not divided by N",
        [("    return loss, positive / N", "    return loss, positive")],
        {"svm_loss"},
        "divided by N",
    ),
    (
        "dropout not inverted",
        [
            (
                "mask = (np.random.rand(*x.shape) < p) / p",
                "mask = (np.random.rand(*x.shape) < p) * 1.0",
            )
        ],
        {"dropout_forward", "dropout_backward"},
        "inverted",
    ),
    (
        "batchnorm without mean terms",
        [
            (
                "dx = (N * dxhat - dxhat.sum(axis=0) - xhat * np.sum(dxhat * xhat, axis=0)) / (N * std)",
                "dx = dxhat / std",
            )
        ],
        {"batchnorm_backward"},
        "mean and variance",
    ),
    (
        "max-pool spreads",
        [
            (
                "dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]",
                "dx[n, c, i * s:i * s + ph, j * s:j * s + pw] += dout[n, c, i, j]",
            )
        ],
        {"max_pool_backward_naive"},
        "winner",
    ),
    (
        "conv kernel flipped",
        [
            (
                "out[n, f, i, j] = np.sum(patch * w[f]) + b[f]",
                "out[n, f, i, j] = np.sum(patch * w[f, :, ::-1, ::-1]) + b[f]",
            )
        ],
        {"conv_forward_naive"},
        "flipped",
    ),
    (
        "conv dx kernel flipped",
        [
            (
                "dxp[n, :, rs : rs + HH, cs : cs + WW] += dout[n, f, i, j] * w[f]",
                "dxp[n, :, rs : rs + HH, cs : cs + WW] += dout[n, f, i, j] * w[f, :, ::-1, ::-1]",
            )
        ],
        {"conv_backward_naive"},
        "flipped",
    ),
    (
        "conv padding off by one",
        [
            (
                "Ho = 1 + (H + 2 * pad - HH) // stride",
                "Ho = 1 + (H + 2 * (pad + 1) - HH) // stride",
            ),
            (
                "Wo = 1 + (W + 2 * pad - WW) // stride",
                "Wo = 1 + (W + 2 * (pad + 1) - WW) // stride",
            ),
            (
                XP_PAD,
                XP_PAD.replace("(pad, pad), (pad, pad)", "(pad + 1, pad + 1), (pad + 1, pad + 1)"),
            ),
        ],
        {"conv_forward_naive"},
        "off by one",
    ),  # its backward, from its own cache, is right
    (
        "conv dx cropped off by one",
        [
            (
                "dx = dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]",
                "dx = dxp[:, :, pad + 1:pad + 1 + x.shape[2], pad + 1:pad + 1 + x.shape[3]]",
            )
        ],
        {"conv_backward_naive"},
        "one pixel off",
    ),
    (
        "momentum sign",
        [
            (
                'v = config["momentum"] * v - config["learning_rate"] * dw',
                'v = config["momentum"] * v + config["learning_rate"] * dw',
            )
        ],
        {"sgd_momentum"},
        None,
    ),
    # Bugs from real students' solutions that a single square shape gave full marks:
    (
        "conv dx cropped with pad:-pad (empty at pad 0)",
        [
            (
                "dx = dxp[:, :, pad : pad + x.shape[2], pad : pad + x.shape[3]]",
                "dx = dxp[:, :, pad:-pad, pad:-pad]",
            )
        ],
        {"conv_backward_naive"},
        "empty when pad is 0",
    ),
    (
        "max-pool backward assigns (wrong where windows overlap)",
        [
            (
                "dx[n, c, i * s + a, j * s + b] += dout[n, c, i, j]",
                "dx[n, c, i * s + a, j * s + b] = dout[n, c, i, j]",
            )
        ],
        {"max_pool_backward_naive"},
        "assigned, not added",
    ),
    (
        "adam without bias correction",
        [
            ('mt = config["m"] / (1 - config["beta1"] ** config["t"])', 'mt = config["m"]'),
            ('vt = config["v"] / (1 - config["beta2"] ** config["t"])', 'vt = config["v"]'),
        ],
        {"adam"},
        "bias-corrected",
    ),
    (
        "pool output width from the pool height",
        [
            (
                "Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s",
                "Ho, Wo = 1 + (H - ph) // s, 1 + (W - ph) // s",
            )
        ],
        {"max_pool_forward_naive"},
        None,
    ),  # its backward, from its own cache and dout, is right
    (
        "conv output width from the kernel height",
        [("Wo = 1 + (W + 2 * pad - WW) // stride", "Wo = 1 + (W + 2 * pad - HH) // stride")],
        {"conv_forward_naive"},
        None,
    ),
    # More of the mistakes students make, caught without a hint (yet):
    (
        "affine dx not reshaped back",
        [("dx = dout.dot(w.T).reshape(x.shape)", "dx = dout.dot(w.T)")],
        {"affine_backward"},
        None,
    ),
    ("softmax dx forgets the -1", [("dx[np.arange(N), y] -= 1", "pass")], {"softmax_loss"}, None),
    (
        "svm margin counted at the correct class",
        [("margins[np.arange(N), y] = 0", "pass")],
        {"svm_loss"},
        None,
    ),
    (
        "svm margin 0 instead of 1",
        [("margins = np.maximum(0, x - correct + 1.0)", "margins = np.maximum(0, x - correct)")],
        {"svm_loss"},
        None,
    ),
    ("momentum velocity not stored", [('config["velocity"] = v', "pass")], {"sgd_momentum"}, None),
    (
        "conv stride ignored in the patch",
        [
            (
                "patch = xp[n, :, i * stride : i * stride + HH, j * stride : j * stride + WW]",
                "patch = xp[n, :, i : i + HH, j : j + WW]",
            )
        ],
        {"conv_forward_naive"},
        None,
    ),
    (
        "conv bias forgotten",
        [
            (
                "out[n, f, i, j] = np.sum(patch * w[f]) + b[f]",
                "out[n, f, i, j] = np.sum(patch * w[f])",
            )
        ],
        {"conv_forward_naive"},
        None,
    ),
    (
        "running var unbiased",
        [
            (
                "running_var = momentum * running_var + (1 - momentum) * var",
                "running_var = momentum * running_var + (1 - momentum) * x.var(axis=0, ddof=1)",
            )
        ],
        {"batchnorm_forward"},
        None,
    ),
]


@pytest.mark.parametrize(("name", "edits", "broken", "hint"), BUGS, ids=[b[0] for b in BUGS])
def test_buggy_solution_loses_points_where_it_breaks(
    tmp_path: Path, name: str, edits: list[tuple[str, str]], broken: set[str], hint: str | None
) -> None:
    result = grade_file(plant(tmp_path, EXAMPLE, edits), "cnn-layers")
    assert result.verdict == Verdict.graded
    assert broken_functions(result) == broken
    assert 0 < result.score < result.max_score
    if hint is not None:
        hints = hints_for(result, broken)
        assert any(hint in h for h in hints), hints


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
    from grader.grading.specs import get_assignment

    spec = get_assignment("cnn-layers")
    a, b = build_cases(spec, 0, secret_seed=1), build_cases(spec, 0, secret_seed=2)
    for ca, cb in zip(a, b, strict=True):
        same = all((ca.inputs[k] == cb.inputs[k]).all() for k in ca.inputs)
        assert same == (ca.visibility.value == "visible")
