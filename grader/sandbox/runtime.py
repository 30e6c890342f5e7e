"""The Python runtime a sandbox mounts: the interpreter dlgrader runs on, wherever it lives.

A virtualenv's `bin/python` is a link to (or a copy of) a base interpreter whose standard
library lives under `sys.base_prefix`; pyenv, uv, pipx, conda and the system Python differ
only in where that is. A sandbox mounts the real binary and the base's library folder
(the standard library, lib-dynload, libpython, a conda env's shared libraries), and hides
every installed-package folder inside what it mounts: virtualenvs nested in the prefix
(pyenv-virtualenv, conda's envs/), Debian's dist-packages, this environment itself. The
packages a harness imports are mounted one by one (`package_roots`).
"""

from __future__ import annotations

import glob
import os
import re
import site
import sys
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ALWAYS_MOUNTED = Path("/usr")
# Installed packages of any Python on the host, and source trees (/usr/src/app is where
# the official python images put an application).
HOST_PACKAGE_GLOBS = (
    "/usr/lib/python3*/site-packages",
    "/usr/lib/python3*/dist-packages",
    "/usr/lib64/python3*/site-packages",
    "/usr/local/lib/python3*/site-packages",
    "/usr/local/lib/python3*/dist-packages",
    "/usr/local/lib64/python3*/site-packages",
    "/usr/src",
    "/usr/local/src",
)


@dataclass(frozen=True)
class PythonRuntime:
    executable: Path  # the binary itself, links resolved
    trees: tuple[Path, ...]  # library folders mounted whole (outside /usr)
    extra_files: tuple[Path, ...]  # the binary when outside them, and a copy's pyvenv.cfg
    hidden: tuple[Path, ...]  # installed packages inside what is mounted: empty in the box


def _real(path: str | Path) -> Path:
    return Path(os.path.realpath(path))


def _library_trees(prefix: Path) -> set[Path]:
    base = str(prefix)
    keys = ("installed_base", "installed_platbase", "base", "platbase")
    paths = sysconfig.get_paths(vars=dict.fromkeys(keys, base))
    trees = {_real(paths["stdlib"]).parent, _real(paths["platstdlib"]).parent}
    if (prefix / "lib").is_dir():  # libpython, and a conda env's shared libraries
        trees.add(_real(prefix / "lib"))
    return {t for t in trees if not t.is_relative_to(ALWAYS_MOUNTED)}


def _package_dirs(prefix: Path) -> set[Path]:
    paths = sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})
    found = {Path(paths["purelib"]), Path(paths["platlib"])}
    found |= {Path(p) for p in site.getsitepackages([str(prefix)])}
    found |= {Path(p) for pattern in HOST_PACKAGE_GLOBS for p in glob.glob(pattern)}
    found.add(_real(sys.prefix))  # a virtualenv nested in a mounted tree: this one
    found.add(_real(Path(__file__).parents[2]))  # dlgrader's own source, if it is there
    return {_real(p) for p in found}


@cache
def python_runtime() -> PythonRuntime:
    executable = _real(sys.executable)
    prefix = _real(sys.base_prefix)
    trees = _library_trees(prefix)
    mounted = [ALWAYS_MOUNTED, *trees]
    extra: list[Path] = []
    if not any(executable.is_relative_to(t) for t in mounted):
        extra.append(executable)
        # `python -m venv --copies`: the binary sits in the venv and finds its standard
        # library through the pyvenv.cfg beside it or one folder up.
        for cfg in (executable.parent / "pyvenv.cfg", executable.parent.parent / "pyvenv.cfg"):
            if cfg.is_file():
                extra.append(cfg)
                break
    needed = [executable, *trees, *extra]
    hidden = sorted(
        d
        for d in _package_dirs(prefix)
        if d.is_dir()
        and any(d.is_relative_to(t) for t in mounted)
        and not any(n.is_relative_to(d) for n in needed)  # never hide what must run
    )
    outermost = [d for d in hidden if not any(d != o and d.is_relative_to(o) for o in hidden)]
    return PythonRuntime(executable, tuple(sorted(trees)), tuple(extra), tuple(outermost))


def package_roots(distributions: tuple[str, ...]) -> list[Path]:
    """The top-level folders and modules of these distributions and of everything they
    require: all a harness may import, and nothing of dlgrader."""
    from importlib import metadata

    roots: dict[str, Path] = {}
    seen: set[str] = set()
    todo = list(distributions)
    while todo:
        name = todo.pop()
        key = name.lower().replace("_", "-")
        if key in seen:
            continue
        seen.add(key)
        if key == "dlgrader":  # never the grader itself, whatever asks for it
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        # The first part of each RECORD path, read as text: numpy lists 1,500 files.
        record = dist.read_text("RECORD") or ""
        tops = {line.split(",", 1)[0].split("/", 1)[0] for line in record.splitlines() if line}
        for top in tops:
            # .dist-info comes too: importlib.metadata (a fingerprint's package list) reads it.
            if top.endswith((".data", ".pth")) or top in ("", "..", "__pycache__"):
                continue
            path = Path(str(dist.locate_file(top)))
            if path.exists():
                roots[top] = path
        todo += _required(dist.requires or [])
    return sorted(roots.values())


def _required(specs: list[str]) -> list[str]:
    """The names of the requirements that apply here (no extras)."""
    names = []
    for spec in specs:
        if ";" in spec:  # a marker: only then is packaging worth importing
            from packaging.requirements import Requirement

            req = Requirement(spec)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            names.append(req.name)
        else:
            names.append(re.split(r"[\s\[(<>=!~]", spec.strip(), maxsplit=1)[0])
    return names


def python_executable() -> str:
    return sys.executable
