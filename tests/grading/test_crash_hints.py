"""Crashes of course code written for Python 2 or an older NumPy get a hint naming the
cause, and the sandbox's versions; an unrelated crash gets none."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.grading.hints import crash_hint, runtime_versions
from tests.grading.helpers import EXAMPLES, grade_file, needs_bwrap, plant

RUNTIME = "NumPy 2.4.6, Python 3.11.7"


@pytest.mark.parametrize(
    ("kind", "message", "words"),
    [
        ("TypeError", "'float' object cannot be interpreted as an integer", "use //"),
        (
            "TypeError",
            "Cannot cast array data from dtype('float64') to dtype('int64') according to the "
            "rule 'same_kind'",
            "use //",
        ),  # np.take with indices computed by /
        ("AttributeError", "module 'numpy' has no attribute 'float'", "np.float no longer"),
        ("AttributeError", "module 'numpy.lib' has no attribute 'pad'", "np.lib.pad no longer"),
        ("AttributeError", "module 'numpy' has no attribute 'NaN'", "np.nan"),
        ("TypeError", "reshape() got an unexpected keyword argument 'newshape'", "positionally"),
        ("TypeError", "only 0-dimensional arrays can be converted to Python scalars", "a.item()"),
        ("TypeError", "only length-1 arrays can be converted to Python scalars", "a.item()"),
        ("NameError", "name 'xrange' is not defined", "Python 2"),
        ("SyntaxError", "Missing parentheses in call to 'print'.", "print(...)"),
        ("ModuleNotFoundError", "No module named 'cs231n'", "imports cs231n"),
    ],
)
def test_a_familiar_crash_gets_its_hint(kind: str, message: str, words: str) -> None:
    hint = crash_hint(kind, message, RUNTIME)
    assert hint is not None
    assert words in hint


def test_an_unfamiliar_crash_gets_none() -> None:
    assert crash_hint("ValueError", "operands could not be broadcast together", RUNTIME) is None
    assert crash_hint("AttributeError", "module 'numpy' has no attribute 'foo'", RUNTIME) is None


def test_the_versions_are_read_as_versions_only() -> None:
    start = {"numpy": "2.4.6<script>", "python": "3.11.7" + "9" * 100}
    versions = runtime_versions(start)
    assert versions.startswith("NumPy 2.4.6script, Python 3.11.7")
    assert len(versions) < 60
    assert runtime_versions(None) == ""


@pytest.mark.integration
@needs_bwrap
def test_python2_division_is_hinted_in_the_graded_result(tmp_path: Path) -> None:
    path = plant(
        tmp_path,
        EXAMPLES / "cnn-layers" / "layers.py",
        [
            (
                "Ho, Wo = 1 + (H - ph) // s, 1 + (W - pw) // s",
                "Ho, Wo = 1 + (H - ph) / s, 1 + (W - pw) / s",
            )
        ],
    )
    result = grade_file(path, "cnn-layers")
    pool = [t for t in result.tests if t.function == "max_pool_forward_naive"]
    assert pool
    assert all(t.hint and "use //" in t.hint for t in pool)
