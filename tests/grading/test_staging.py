"""Which files are graded: the course's zip layout (cs231n/layers.py beside optim.py and
the given im2col.py), a folder with several assignments, and refusals that say why."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from grader.grading.course import get_assignment
from grader.grading.staging import SubmissionRejected, stage_submission
from submissions_schema import Verdict
from tests.grading.helpers import EXAMPLES, grade_file, needs_bwrap

SPEC = get_assignment("cnn-layers")
SOURCE = (EXAMPLES / "cnn-layers" / "layers.py").read_text()
SPLIT = SOURCE.index("def sgd_momentum(")
LAYERS = SOURCE[:SPLIT].replace(
    "import numpy as np\n", "import numpy as np\nfrom cs231n.im2col import *\n", 1
)
OPTIM = "import numpy as np\n\n\n" + SOURCE[SPLIT:]
IM2COL = "import numpy as np\n\n\ndef get_im2col_indices(*args):\n    return None\n"
DECOY = "import numpy as np\n\n\ndef affine_forward(x, w, b):\n    pass\n"


# The shape of CS231n's handed-out stubs (2022+ assignment1 ships later layers empty).
STUBS = """

def conv_forward_naive(x, w, b, conv_param):
    \"\"\"The forward pass of a convolutional layer.\"\"\"
    out = None
    # TODO: Implement the convolutional forward pass.
    pass
    cache = (x, w, b, conv_param)
    return out, cache


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        # TODO: the training-time forward pass
        pass
    elif mode == "test":
        # TODO: the test-time forward pass
        pass
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)
    bn_param["running_mean"] = running_mean
    return out, cache


def dropout_forward(x, dropout_param):
    raise NotImplementedError
"""


def functions_of(source: str, *names: str) -> str:
    """The module with only the named top-level functions (and its imports)."""
    blocks = source.split("\ndef ")
    kept = [b for b in blocks[1:] if b.split("(", 1)[0] in names]
    return blocks[0] + "".join("\ndef " + b for b in kept)


def defined(source: str) -> set[str]:
    return {n for n in SPEC.function_names if f"def {n}(" in source}


def course_zip(tmp_path: Path, extra: dict[str, str] | None = None, optim: str = OPTIM) -> Path:
    path = tmp_path / "submission.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("cs231n/layers.py", LAYERS)
        zf.writestr("cs231n/optim.py", optim)
        zf.writestr("cs231n/im2col.py", IM2COL)
        zf.writestr("ConvolutionalNetworks.ipynb", "{}")
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return path


def stage(path: Path, dest: Path) -> list[str]:
    dest.mkdir()
    staged = stage_submission(path, SPEC.module, dest, SPEC.other_modules, SPEC.function_names)
    return staged.graded


def test_the_course_zip_is_staged_with_its_package(tmp_path: Path) -> None:
    zipped = course_zip(tmp_path, {"assignment1/cs231n/layers.py": DECOY})
    assert stage(zipped, tmp_path / "job") == ["cs231n/layers.py", "cs231n/optim.py"]
    assert (tmp_path / "job" / "layers.py").read_text() == LAYERS
    assert (tmp_path / "job" / "optim.py").read_text() == OPTIM
    assert (tmp_path / "job" / "cs231n" / "im2col.py").is_file()  # `from cs231n.im2col import *`
    assert (tmp_path / "job" / "cs231n" / "__init__.py").is_file()


def test_two_modules_that_could_each_be_the_one_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    for hw in ("assignment1", "assignment2"):
        (folder / hw).mkdir(parents=True)
        (folder / hw / "layers.py").write_text(SOURCE)
    with pytest.raises(SubmissionRejected, match=r"2 layers\.py files"):
        stage(folder, tmp_path / "job")


def test_a_folder_picks_the_module_that_defines_the_assignment(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    (folder / "assignment1").mkdir(parents=True)
    (folder / "assignment2").mkdir(parents=True)
    (folder / "assignment1" / "layers.py").write_text(DECOY)
    (folder / "assignment2" / "layers.py").write_text(SOURCE)
    assert stage(folder, tmp_path / "job") == ["assignment2/layers.py"]


def cs231n_folder(tmp_path: Path) -> tuple[Path, str, str]:
    """A student's whole CS231n folder: assignment1's layers.py implements the early
    layers and holds empty stubs of later ones (so it *defines* more of the assignment);
    assignment2's implements the later ones and, as in 2021+, lacks svm_loss."""
    early = ("affine_forward", "affine_backward", "relu_forward", "relu_backward")
    losses = ("softmax_loss", "svm_loss")
    optim = ("sgd_momentum", "adam")  # optim.py's, in both years
    later = [n for n in SPEC.function_names if n not in (*early, *losses, *optim)]
    stubs = STUBS + "".join(
        f"\n\ndef {n}(*args):\n    dx = None\n    pass\n    return dx\n"
        for n in later
        if f"def {n}(" not in STUBS
    )
    folder = tmp_path / "work"
    for hw in ("assignment1", "assignment2"):
        (folder / hw / "cs231n").mkdir(parents=True)
    first = functions_of(SOURCE, *early, *losses) + stubs
    second = functions_of(SOURCE, *early, "softmax_loss", *later)
    (folder / "assignment1" / "cs231n" / "layers.py").write_text(first)
    (folder / "assignment2" / "cs231n" / "layers.py").write_text(second)
    (folder / "assignment2" / "cs231n" / "optim.py").write_text(OPTIM)
    return folder, first, second


def test_implemented_functions_outrank_the_stubs_of_a_later_assignment(tmp_path: Path) -> None:
    folder, first, second = cs231n_folder(tmp_path)
    dest = tmp_path / "job"
    dest.mkdir()
    staged = stage_submission(folder, SPEC.module, dest, SPEC.other_modules, SPEC.function_names)
    assert len(defined(first)) > len(defined(second))  # what once chose assignment1
    assert staged.graded == ["assignment2/cs231n/layers.py", "assignment2/cs231n/optim.py"]
    assert staged.elsewhere == {"svm_loss": "assignment1/cs231n/layers.py"}


@pytest.mark.integration
@needs_bwrap
def test_a_function_left_in_the_other_assignment_is_named_where_it_is(tmp_path: Path) -> None:
    folder, _, _ = cs231n_folder(tmp_path)
    result = grade_file(folder, "cnn-layers")
    lost = {t.function: t for t in result.tests if t.score < t.max_score}
    assert set(lost) == {"svm_loss"}
    assert all(
        t.hint and "svm_loss is in assignment1/cs231n/layers.py" in t.hint for t in lost.values()
    )


def test_a_module_that_does_not_parse_is_ranked_by_its_defs(tmp_path: Path) -> None:
    """Its syntax error is then the verdict the student sees, not a stub file's zeros."""
    folder = tmp_path / "work"
    (folder / "mine").mkdir(parents=True)
    (folder / "starter").mkdir(parents=True)
    (folder / "mine" / "layers.py").write_text(SOURCE + "\ndef oops(:\n")
    (folder / "starter" / "layers.py").write_text(functions_of(SOURCE, "affine_forward") + STUBS)
    assert stage(folder, tmp_path / "job") == ["mine/layers.py"]


@pytest.mark.integration
@needs_bwrap
def test_the_course_zip_grades_full_marks_and_names_its_files(tmp_path: Path) -> None:
    result = grade_file(course_zip(tmp_path), "cnn-layers")
    assert result.verdict == Verdict.graded
    assert result.score == result.max_score, [
        t.message for t in result.tests if t.score < t.max_score
    ]
    assert result.message == "graded cs231n/layers.py, cs231n/optim.py"


@pytest.mark.integration
@needs_bwrap
def test_a_broken_optim_costs_the_update_rules_only(tmp_path: Path) -> None:
    broken = course_zip(tmp_path, optim=OPTIM + "\nraise ImportError('half-finished optim.py')\n")
    result = grade_file(broken, "cnn-layers")
    lost = {t.function for t in result.tests if t.score < t.max_score}
    assert lost == {"sgd_momentum", "adam"}
    assert all("half-finished" in t.message for t in result.tests if t.function == "adam")


def test_two_jobs_with_one_label_never_share_a_cgroup_or_a_container_name() -> None:
    """Two local reproduce runs label their runs alike ("default-0"): removing one's
    cgroup kills every process in it, so the names are unique per run."""
    from grader.sandbox.cgroups import JobCgroup
    from grader.sandbox.docker_sandbox import container_name

    assert JobCgroup("default-0", None, 8).name != JobCgroup("default-0", None, 8).name
    assert container_name("default-0") != container_name("default-0")
