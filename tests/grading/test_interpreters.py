"""The sandbox runs the harness with whatever interpreter dlgrader is installed into.

Each layout is a real virtualenv made here (links or copies, under /tmp or not) whose
site-packages reach this environment's packages through a .pth file, so no install is
needed: `sys.executable` and `sys.prefix` are the venv's, as in a user's.
"""

from __future__ import annotations

import os
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

        def dlgrader(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [python, "-m", "grader.cli", *args],
                capture_output=True,
                text=True,
                timeout=300,
                cwd=tmp_path,
            )

        status = dlgrader("sandbox", "status", "--require", "bwrap")
        assert status.returncode == 0, status.stdout + status.stderr
        assert "bwrap: ready" in status.stdout
        layers = str(EXAMPLES / "cnn-layers" / "layers.py")
        graded = dlgrader("grade", layers, "-a", "cnn-layers", "--sandbox", "bwrap")
        assert graded.returncode == 0, graded.stdout + graded.stderr
        assert "total: 52 / 52" in graded.stdout
    finally:
        subprocess.run(["rm", "-rf", str(where)], check=False)


def test_the_sandbox_sees_no_installed_package(tmp_path: Path) -> None:
    """Only the harness's packages are mounted: dlgrader, the rest of this environment,
    Debian's dist-packages and a virtualenv nested in the interpreter's prefix (as
    pyenv-virtualenv and conda make them) are empty, read-only folders, and so is / ."""
    from grader.grading.course import get_assignment
    from grader.grading.grade import grade
    from grader.sandbox import select_sandbox
    from grader.sandbox.runtime import python_runtime

    nested = Path(sys.base_prefix) / "envs" / f"dlgrader-test-{tmp_path.name}"
    if os.access(Path(sys.base_prefix), os.W_OK):
        make_venv(nested, copies=False)
    python_runtime.cache_clear()  # the nested venv is new
    try:
        looked_at = [
            *(p for p in sys.path if p.endswith(("site-packages", "dist-packages"))),
            "/usr/lib/python3/dist-packages",
            str(nested),
            str(ROOT),
        ]
        probe = tmp_path / "layers.py"
        probe.write_text(
            "import importlib.util, os\n"
            "seen = [m for m in ('grader', 'reference_impl', 'pydantic', 'torch', 'yaml')\n"
            "        if importlib.util.find_spec(m) is not None]\n"
            f"for d in {looked_at!r}:\n"
            "    if os.path.isdir(d) and os.listdir(d):\n"
            "        seen.append(d)\n"
            "for d in ['/', '/opt', '/usr/lib/python3/dist-packages']:\n"
            "    try:\n"
            "        open(os.path.join(d, 'written'), 'w').close()\n"
            "        seen.append('wrote ' + d)\n"
            "    except OSError:\n"
            "        pass\n"
            "if seen:\n"
            "    raise ImportError('visible in the sandbox: ' + ', '.join(seen))\n"
        )
        result = grade(probe, get_assignment("cnn-layers"), select_sandbox("bwrap"))
    finally:
        subprocess.run(["rm", "-rf", str(nested)], check=False)
        python_runtime.cache_clear()
    assert "visible in the sandbox" not in result.message, result.message
    assert result.tests
    assert all("is not defined" in t.message for t in result.tests[:3])
