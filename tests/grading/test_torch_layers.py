"""torch-layers: students' nn.Modules against torch's layers, forward and backward."""

from __future__ import annotations

from pathlib import Path

import pytest

from submissions_schema import TestStatus, Verdict
from tests.grading.helpers import EXAMPLES, broken_functions, grade_file, needs_bwrap, plant
from tests.markers import needs_torch

pytestmark = [pytest.mark.integration, needs_bwrap, needs_torch]
EXAMPLE = EXAMPLES / "torch-layers" / "torch_layers.py"


def test_correct_modules_score_full_marks() -> None:
    result = grade_file(EXAMPLE, "torch-layers")
    assert result.verdict == Verdict.graded
    assert result.score == result.max_score
    assert all("ran on" in t.message for t in result.tests if t.function.endswith(".forward"))


BUGS = [
    ("no bias", [("+ self.bias[:, None]", "")], {"Conv2d.forward", "Conv2d.backward"}),
    (
        "bias added twice",
        [("return x @ self.weight.T + self.bias", "return x @ self.weight.T + 2 * self.bias")],
        {"Linear.forward", "Linear.backward"},
    ),
    (
        "average pooling",
        [("max(dim=-1).values", "mean(dim=-1)")],
        {"MaxPool2d.forward", "MaxPool2d.backward"},
    ),
    (
        "parameter misnamed",
        [
            (
                "self.bias = nn.Parameter(torch.zeros(out_features))",
                "self.b = nn.Parameter(torch.zeros(out_features))",
            ),
            ("return x @ self.weight.T + self.bias", "return x @ self.weight.T + self.b"),
        ],
        {"Linear.forward", "Linear.backward"},
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("name", "edits", "broken"), BUGS, ids=[b[0] for b in BUGS])
def test_buggy_modules_lose_points_where_they_break(
    tmp_path: Path, name: str, edits: list[tuple[str, str]], broken: set[str]
) -> None:
    result = grade_file(plant(tmp_path, EXAMPLE, edits), "torch-layers")
    assert broken_functions(result) == broken


def test_missing_class_is_named(tmp_path: Path) -> None:
    path = plant(tmp_path, EXAMPLE, [("class MaxPool2d(nn.Module):", "class MaxPool(nn.Module):")])
    result = grade_file(path, "torch-layers")
    statuses = {t.status for t in result.tests if t.function.startswith("MaxPool2d")}
    assert statuses == {TestStatus.missing}
