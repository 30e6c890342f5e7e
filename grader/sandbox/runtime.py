"""The Python runtime a sandbox mounts: the interpreter dlgrader runs on, wherever it lives.

A virtualenv's `bin/python` is a link to (or a copy of) a base interpreter whose standard
library lives under `sys.base_prefix`; pyenv, uv, pipx, conda and the system Python differ
only in where that is. A sandbox needs the real binary, the standard library and nothing
installed beside them: the packages a harness imports are mounted one by one
(`package_roots`), so neither dlgrader nor anything else of this environment is visible.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class PythonRuntime:
    executable: Path  # the binary itself, links resolved
    prefix: Path  # the standard library, lib-dynload, libpython: mounted whole
    extra_files: tuple[Path, ...]  # outside the prefix: a copied venv binary and its pyvenv.cfg
    hidden: tuple[Path, ...]  # installed-package folders inside what is mounted


def _site_dirs(prefix: Path) -> set[Path]:
    paths = sysconfig.get_paths(vars={"base": str(prefix), "platbase": str(prefix)})
    # Debian's Python adds dist-packages folders (also under /usr/local) that only its
    # own site.getsitepackages names.
    return {
        Path(paths["purelib"]),
        Path(paths["platlib"]),
        *map(Path, site.getsitepackages([str(prefix)])),
    }


@cache
def python_runtime() -> PythonRuntime:
    executable = Path(os.path.realpath(sys.executable))
    prefix = Path(os.path.realpath(sys.base_prefix))
    extra: list[Path] = []
    if not executable.is_relative_to(prefix):
        # `python -m venv --copies`: the binary sits in the venv and finds its standard
        # library through the pyvenv.cfg beside it or one folder up.
        extra.append(executable)
        for cfg in (executable.parent / "pyvenv.cfg", executable.parent.parent / "pyvenv.cfg"):
            if cfg.is_file():
                extra.append(cfg)
                break
    hidden = tuple(sorted(d for d in _site_dirs(prefix) if d.is_dir()))
    return PythonRuntime(executable, prefix, tuple(extra), hidden)
