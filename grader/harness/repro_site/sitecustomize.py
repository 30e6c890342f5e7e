"""Loaded by every Python process of a reproduce run: seed every generator from
REPRO_SEED, ask torch for deterministic algorithms, and record which
nondeterministic operations ran anyway (warnings, written to REPRO_NONDET_FILE)."""

import atexit
import importlib.abc
import importlib.util
import os
import random
import sys
import warnings

_seed = os.environ.get("REPRO_SEED")
_seen = []


def _seed_numpy(numpy):
    numpy.random.seed(int(_seed))


def _seed_torch(torch):
    torch.manual_seed(int(_seed))
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)


class _SeedOnImport(importlib.abc.MetaPathFinder):
    """Seeds NumPy and torch when the project imports them, and only then: importing
    torch up front would cost every run that never uses it a second or more."""

    def __init__(self, hooks):
        self.hooks = hooks

    def find_spec(self, name, path=None, target=None):
        hook = self.hooks.pop(name, None)
        if hook is None:
            return None
        spec = importlib.util.find_spec(name)  # the real one: this finder has let go
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            hook(module)

        spec.loader.exec_module = exec_module
        return spec


if _seed is not None:
    random.seed(int(_seed))
    sys.meta_path.insert(0, _SeedOnImport({"numpy": _seed_numpy, "torch": _seed_torch}))

    _show = warnings.showwarning

    def _record(message, category, filename, lineno, file=None, line=None):
        text = str(message)
        if "deterministic" in text:
            _seen.append(text.splitlines()[0][:300])
        _show(message, category, filename, lineno, file, line)

    warnings.showwarning = _record

    @atexit.register
    def _write():
        path = os.environ.get("REPRO_NONDET_FILE")
        if path and _seen:
            with open(path, "a") as f:
                f.write("\n".join(sorted(set(_seen))) + "\n")
