"""The sandbox runs the harness with whatever interpreter dlgrader is installed into.

Each layout is a real virtualenv made here (links or copies, under /tmp or not) whose
site-packages reach this environment's packages through a .pth file, so no install is
needed: `sys.executable` and `sys.prefix` are the venv's, as in a user's.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

from tests.grading.helpers import EXAMPLES, ROOT, needs_bwrap

pytestmark = [needs_bwrap, pytest.mark.integration]


def make_venv(where: Path, copies: bool) -> Path:
    venv.EnvBuilder(symlinks=not copies, with_pip=False).create(where)
    purelib = sysconfig.get_paths(vars={"base": str(where), "platbase": str(where)})["purelib"]
    here = [p for p in sys.path if p.endswith("site-packages")] + [str(ROOT)]
    (Path(purelib) / "this-env.pth").write_text("\n".join(here) + "\n")
    return where / "bin" / "python"


@pytest.mark.parametrize("copies", [False, True], ids=["links", "copies"])
@pytest.mark.parametrize("under_tmp", [True, False], ids=["under-tmp", "elsewhere"])
def test_grade_and_status_in_a_venv(tmp_path: Path, copies: bool, under_tmp: bool) -> None:
    base = Path("/tmp") if under_tmp else ROOT / "build"
    base.mkdir(exist_ok=True)
    where = base / f"dlgrader-venv-{tmp_path.name}"
    try:
        python = make_venv(where, copies)
        status = subprocess.run(
            [python, "-m", "grader.cli", "sandbox", "status", "--require", "bwrap"],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert status.returncode == 0, status.stdout + status.stderr
        assert "bwrap: ready" in status.stdout
        graded = subprocess.run(
            [
                python,
                "-m",
                "grader.cli",
                "grade",
                EXAMPLES / "cnn-layers" / "layers.py",
                "-a",
                "cnn-layers",
                "--sandbox",
                "bwrap",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
        )
        assert graded.returncode == 0, graded.stdout + graded.stderr
        assert "total: 52 / 52" in graded.stdout
    finally:
        subprocess.run(["rm", "-rf", str(where)], check=False)


def test_the_sandbox_sees_no_installed_package(tmp_path: Path) -> None:
    """Only the harness's packages are mounted: dlgrader and the rest of site-packages are not."""
    from grader.grade import grade
    from grader.sandbox import select_sandbox
    from grader.specs import get_assignment

    probe = tmp_path / "layers.py"
    probe.write_text(
        "import importlib.util, sys\n"
        "seen = [m for m in ('grader', 'reference_impl', 'pydantic', 'torch', 'yaml')\n"
        "        if importlib.util.find_spec(m) is not None]\n"
        "if seen:\n"
        "    raise ImportError('visible in the sandbox: ' + ', '.join(seen))\n"
    )
    result = grade(probe, get_assignment("cnn-layers"), select_sandbox("bwrap"))
    assert "visible in the sandbox" not in (result.message or ""), result.message
    assert result.tests
    assert all("is not defined" in t.message for t in result.tests[:3])
