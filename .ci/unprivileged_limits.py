"""Run by .ci/newcomer as an unprivileged user: bubblewrap in a user namespace (no
setpriv) holds a hostile job to its limits, and the job's failure is its verdict.

    python .ci/unprivileged_limits.py rlimits   # no cgroup delegated: per-process limits
    python .ci/unprivileged_limits.py cgroup    # `dlgrader sandbox delegate` was run

Both: a fork bomb stays within the job's process limit (counted from outside). With a
delegated cgroup, also: four 1.2 GB processes, each under RLIMIT_AS, are killed together
by the job's 2 GB memory limit.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.sandbox import cgroups, select_sandbox
from grader.sandbox.limits import tasks_of
from submissions_schema import GradingResult

FORK_BOMB = "import os\n    while True:\n        try: os.fork()\n        except OSError: pass"
MEMORY_HOGS = (
    "import subprocess, sys\n"
    "    hog = \"x = b'x' * (1200 << 20); import time; time.sleep(3)\"\n"
    "    procs = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(4)]\n"
    "    if any(p.wait() for p in procs):\n"
    "        raise MemoryError('a child was killed')\n"
    "    return dout * (cache > 0)"
)


def graded_with(relu_backward: str, time_limit_s: float | None = None) -> GradingResult:
    """cnn-layers with relu_backward's body replaced, graded in bubblewrap."""
    spec = get_assignment("cnn-layers")
    problems = [
        p.model_copy(update={"time_limit_s": time_limit_s or p.time_limit_s}) for p in spec.problems
    ]
    source = Path("examples/cnn-layers/layers.py").read_text()
    folder = Path(tempfile.mkdtemp())
    (folder / "layers.py").write_text(source.replace("return dout * (cache > 0)", relu_backward))
    spec = spec.model_copy(update={"problems": problems})
    result = grade(folder / "layers.py", spec, select_sandbox("bwrap"), secret_seed=1)
    assert result.verdict.value == "graded", result.message
    return result


def relu_backward_lost_everything(result: GradingResult) -> list[str]:
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert backward
    assert all(t.score == 0 for t in backward), [t.message for t in backward]
    return [t.message for t in backward]


def fork_bomb() -> None:
    baseline = tasks_of(os.getuid())
    peak = [baseline]
    running = True

    def sample() -> None:
        while running:
            peak[0] = max(peak[0], tasks_of(os.getuid()))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    result = graded_with(FORK_BOMB)
    running = False
    sampler.join()
    relu_backward_lost_everything(result)
    print(f"fork bomb as uid {os.getuid()}: tasks {baseline} before, {peak[0]} at most")
    assert peak[0] <= baseline + 64 + 8, peak  # the sampler's own thread, bwrap, setpriv


def memory_hogs() -> None:
    messages = relu_backward_lost_everything(graded_with(MEMORY_HOGS, time_limit_s=30.0))
    assert any("memory" in m or "killed" in m for m in messages), messages
    print(f"four 1.2 GB processes in one job as uid {os.getuid()}: {messages[0][:120]}")


assert os.geteuid() != 0, "run this as an unprivileged user"
mode = sys.argv[1]
problem = cgroups.unavailable()
print(f"per-job cgroup: {problem or 'yes (delegated)'}")
assert (problem is None) == (mode == "cgroup"), problem
fork_bomb()
if mode == "cgroup":
    memory_hogs()
