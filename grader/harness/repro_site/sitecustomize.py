"""Loaded by every Python process of a reproduce run: seed every generator from
REPRO_SEED, ask torch for deterministic algorithms, and record which
nondeterministic operations ran anyway (warnings, written to REPRO_NONDET_FILE)."""

import atexit
import importlib.util
import os
import random
import warnings

_seed = os.environ.get("REPRO_SEED")
_seen = []

if _seed is not None:
    random.seed(int(_seed))
    if importlib.util.find_spec("numpy") is not None:
        import numpy

        numpy.random.seed(int(_seed))
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.manual_seed(int(_seed))
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)

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
