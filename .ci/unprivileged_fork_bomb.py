"""Run by .ci/newcomer as an unprivileged user: a fork bomb graded in bubblewrap (a user
namespace, no setpriv) stays within the job's process limit and is the job's verdict."""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

from grader.grade import grade
from grader.sandbox import select_sandbox
from grader.sandbox.base import tasks_of
from grader.specs import get_assignment

assert os.geteuid() != 0, "run this as an unprivileged user"
spec = get_assignment("cnn-layers")
source = (
    (Path("examples/cnn-layers/layers.py"))
    .read_text()
    .replace(
        "return dout * (cache > 0)",
        "import os\n    while True:\n        try: os.fork()\n        except OSError: pass",
    )
)
folder = Path(tempfile.mkdtemp())
(folder / "layers.py").write_text(source)
baseline = tasks_of(os.getuid())
peak = [baseline]
running = True


def sample() -> None:
    while running:
        peak[0] = max(peak[0], tasks_of(os.getuid()))
        time.sleep(0.05)


sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
result = grade(folder / "layers.py", spec, select_sandbox("bwrap"), secret_seed=1)
running = False
sampler.join()
backward = [t for t in result.tests if t.function == "relu_backward"]
print(
    f"fork bomb as uid {os.getuid()}: {result.verdict.value}, relu_backward "
    f"{sum(t.score for t in backward):g}/{sum(t.max_score for t in backward):g}, "
    f"tasks {baseline} before, {peak[0]} at most (job limit 64 more)"
)
assert result.verdict.value == "graded"
assert all(t.score == 0 for t in backward)
assert peak[0] <= baseline + 64 + 8, peak  # the sampler's own thread, bwrap, setpriv
