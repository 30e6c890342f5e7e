"""Hostile *data*: what a submission leaves in its output folder is read only through
grader.untrusted_fs. Every case ends in the submission's own verdict (graded, counted),
never a hang, a crash of ours or "could not grade"; and the job folder is gone after."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.sandbox import select_sandbox
from grader.settings import scratch_dir
from grader.untrusted_fs import UnreadableTree, load_npy, remove_tree, tree_bytes, walk_files
from submissions_schema import Verdict
from tests.grading.helpers import EXAMPLES, needs_bwrap

GOOD = (EXAMPLES / "cnn-layers" / "layers.py").read_text()

# Appended to a correct solution: at exit, after the harness wrote its outputs.
AT_EXIT = """
import atexit as _atexit, os as _os
def _vandalise():
{body}
_atexit.register(_vandalise)
"""

VANDALS = {
    "deep folder chain": """
    path = "/out"
    for _ in range(1500):
        path += "/d"
        _os.mkdir(path)
""",
    "FIFOs for every output": """
    for name in _os.listdir("/out"):
        _os.unlink("/out/" + name)
        _os.mkfifo("/out/" + name)
""",
    "npy headers claiming 8 TiB": """
    for name in _os.listdir("/out"):
        if name.endswith(".npy"):
            with open("/out/" + name, "r+b") as f:
                head = f.read(128).replace(b"(", b"(1099511627776, ", 1)
                f.seek(0)
                f.write(head)
""",
    "symlinks to host files": """
    for name in _os.listdir("/out"):
        _os.unlink("/out/" + name)
        _os.symlink("/etc/passwd", "/out/" + name)
""",
    "status nested a million deep": """
    with open("/out/status.jsonl", "w") as f:
        f.write("[" * 1_000_000 + "\\n")
""",
}


def jobs_left() -> set[str]:
    where = scratch_dir() or Path("/tmp")
    return {p.name for p in where.glob("dlgrader-job-*")}


@needs_bwrap
@pytest.mark.integration
@pytest.mark.parametrize("vandal", sorted(VANDALS))
def test_vandalised_outputs_are_the_submissions_verdict(tmp_path: Path, vandal: str) -> None:
    source = tmp_path / "layers.py"
    source.write_text(GOOD + AT_EXIT.format(body=VANDALS[vandal]))
    before = jobs_left()
    start = time.monotonic()
    result = grade(source, get_assignment("cnn-layers"), select_sandbox("bwrap"))
    assert time.monotonic() - start < 60
    assert result.verdict == Verdict.graded, result.message
    assert result.tests
    if vandal != "deep folder chain":  # that one leaves the outputs readable
        assert result.score < result.max_score
    assert jobs_left() <= before  # the job folder, however deep, was removed


def test_walk_and_remove_a_tree_deeper_than_recursion_and_path_max(tmp_path: Path) -> None:
    path = tmp_path / "root"
    path.mkdir()
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(3000):  # 3000 x 100 characters: far past PATH_MAX and recursion
        os.mkdir("d" * 100, dir_fd=fd)
        child = os.open("d" * 100, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = child
    os.close(os.open("f", os.O_WRONLY | os.O_CREAT, dir_fd=fd))
    os.close(fd)
    with pytest.raises(UnreadableTree):
        list(walk_files(path))
    assert tree_bytes(path) > 1 << 40  # a watchdog counts what it cannot see as too much
    remove_tree(path)
    assert not path.exists()


def test_readers_open_no_fifo_link_or_lying_header(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo.npy")
    (tmp_path / "link.npy").symlink_to("/etc/passwd")
    good = tmp_path / "good.npy"
    np.save(good, np.arange(6.0).reshape(2, 3))
    lying = tmp_path / "lying.npy"
    lying.write_bytes(good.read_bytes().replace(b"(2, 3)", b"(2, 3000000000000)", 1))
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert load_npy(tmp_path / "fifo.npy", 1 << 20) is None  # returns at once, no block
    assert load_npy(tmp_path / "link.npy", 1 << 20) is None
    assert load_npy(lying, 1 << 20) is None
    assert load_npy(objects, 1 << 20) is None
    loaded = load_npy(good, 1 << 20)
    assert loaded is not None
    assert np.array_equal(loaded, np.arange(6.0).reshape(2, 3))
    fortran = tmp_path / "fortran.npy"
    np.save(fortran, np.asfortranarray(np.arange(6.0).reshape(2, 3)))
    loaded = load_npy(fortran, 1 << 20)
    assert loaded is not None
    assert np.array_equal(loaded, np.arange(6.0).reshape(2, 3))


@needs_bwrap
@pytest.mark.integration
def test_inside_the_sandbox_hidden_cases_look_like_any_other(tmp_path: Path) -> None:
    """Call ids, input names and output names are opaque tokens, the cases in a random
    order: nothing in the manifest or the inputs names a problem, a case number or a
    visibility (they used to read "relu.2.b", hidden cases last)."""
    spy = tmp_path / "layers.py"
    spy.write_text(
        "import json, numpy as np\n"
        "manifest = open('/manifest.json').read()\n"
        "names = ' '.join(np.load('/inputs/inputs.npz').files)\n"
        "raise ImportError('SEEN ' + manifest + ' ' + names)\n"
    )
    seen = []
    for _ in range(2):
        result = grade(spy, get_assignment("cnn-layers"), select_sandbox("bwrap"), secret_seed=3)
        seen.append(result.message)
    for message in seen:
        assert "SEEN" in message
        for giveaway in ("relu.", "affine.", "conv", "hidden", "batchnorm.", ".2."):
            assert giveaway not in message.split("SEEN", 1)[1].replace("conv_", "")
    assert seen[0] != seen[1]  # fresh tokens and order for every job


def test_a_public_seed_equal_to_the_hidden_seed_shows_no_hidden_input() -> None:
    """A student's --seed set to the hidden seed draws other inputs, case for case."""
    from grader.grading.cases import case_seed

    spec = get_assignment("cnn-layers")
    for problem in spec.problems:
        for index in range(problem.cases + problem.hidden_cases):
            visible = case_seed(spec, problem, index, 7, hidden=False)
            assert visible != case_seed(spec, problem, index, 7, hidden=True)
