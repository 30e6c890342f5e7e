"""What the sandbox and the trusted comparison cost on top of the student's own compute.

    python bench/grade_overhead.py [--repeats 5]

Side by side in one run, on the correct cnn-layers example:
  plain    the same student calls (the grading manifest's) in this Python process
  grade    grader.grading.grade.grade() through bubblewrap: stage, sandbox, harness, compare,
           with the reference cache warm, and cold
  script   grade() alone in a new process: the interpreter, the imports grading needs
           (NumPy, pydantic, the specs) and a cold grading; what any front end must pay
  cli      `dlgrader grade` as a student types it, in a new process
  help     `dlgrader --help`: what every command pays before it starts
and whether a second grading reused the cached reference. Targets, each ≤ 0.3 s:
grade (warm) - plain, what the command line adds (cli - script), and help.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from grader.grading.cases import CASE_CACHE, JobAliases, build_cases, write_job
from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.harness.runner import Harness
from grader.sandbox import JobDirs, select_sandbox
from grader.settings import scratch_dir

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "examples" / "cnn-layers" / "layers.py"
TARGET_S = 0.3
# grade() and nothing else, as a bare script would run it (the result printed as JSON).
SCRIPT = f"""
from pathlib import Path
from grader.grading.grade import grade
from grader.sandbox import select_sandbox
from grader.grading.course import get_assignment
result = grade(Path({str(SOLUTION)!r}), get_assignment("cnn-layers"), select_sandbox("bwrap"))
print(result.model_dump_json())
"""


def plain_calls(seconds: list[float]) -> None:
    """Make the manifest's calls in this process: import, calls, nothing else."""
    spec = get_assignment("cnn-layers")
    cases = build_cases(spec, 0, secret_seed=1)
    with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
        job = JobDirs.create(Path(tmp))
        (job.submission / "layers.py").write_text(SOLUTION.read_text())
        write_job(cases, spec, job.inputs, job.manifest, JobAliases.draw(cases))
        import json

        manifest = json.loads(job.manifest.read_text())
        sys.modules.pop("layers", None)
        start = time.perf_counter()
        Harness(manifest, job.inputs, str(job.submission), job.out).run()
        seconds.append(time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    spec = get_assignment("cnn-layers")
    sandbox = select_sandbox("bwrap")

    CASE_CACHE._entries.clear()  # a cold start for the first grading
    start = time.perf_counter()
    first = grade(SOLUTION, spec, sandbox, secret_seed=1)
    cold = time.perf_counter() - start
    misses_after_first = CASE_CACHE.misses

    plain: list[float] = []
    graded: list[float] = []
    graded_cold: list[float] = []
    cli: list[float] = []
    scripts: list[float] = []
    helps: list[float] = []
    env = {"DLGRADER_HIDDEN_SEED": "1", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "grader.cli"]
    for _ in range(args.repeats):
        plain_calls(plain)
        start = time.perf_counter()
        result = grade(SOLUTION, spec, sandbox, secret_seed=1)
        graded.append(time.perf_counter() - start)
        hits, misses = CASE_CACHE.hits, CASE_CACHE.misses
        CASE_CACHE._entries.clear()  # what a new process starts with
        start = time.perf_counter()
        grade(SOLUTION, spec, sandbox, secret_seed=1)
        graded_cold.append(time.perf_counter() - start)
        CASE_CACHE.hits, CASE_CACHE.misses = hits, misses  # count the warm gradings only
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", SCRIPT], check=True, capture_output=True, env=env)
        scripts.append(time.perf_counter() - start)
        start = time.perf_counter()
        grade_argv = ["grade", str(SOLUTION), "-a", "cnn-layers", "--sandbox", "bwrap"]
        subprocess.run([*command, *grade_argv], check=True, capture_output=True, env=env)
        cli.append(time.perf_counter() - start)
        start = time.perf_counter()
        subprocess.run([*command, "--help"], check=True, capture_output=True, env=env)
        helps.append(time.perf_counter() - start)
    assert first.score == result.score == spec.max_score

    p, g, gc, sc, c, h = (
        statistics.median(x) for x in (plain, graded, graded_cold, scripts, cli, helps)
    )

    def verdict(added: float) -> str:
        return f"target <= {TARGET_S * 1e3:.0f} ms: {'ok' if added <= TARGET_S else 'OVER'}"

    print(f"cnn-layers, correct example, {len(first.tests)} tests, median of {args.repeats}")
    print(f"  plain student calls, one process   {p * 1e3:8.1f} ms")
    print(
        f"  grade() through bwrap, cache warm  {g * 1e3:8.1f} ms   ratio {g / p:5.2f}x   "
        f"added {(g - p) * 1e3:6.1f} ms   {verdict(g - p)}"
    )
    print(f"  grade() first, cache cold          {cold * 1e3:8.1f} ms")
    print(f"  grade() through bwrap, cache cold  {gc * 1e3:8.1f} ms")
    print(f"  grade() alone, new process         {sc * 1e3:8.1f} ms")
    print(
        f"  dlgrader grade (CLI, new process)  {c * 1e3:8.1f} ms   ratio {c / sc:5.2f}x   "
        f"added {(c - sc) * 1e3:6.1f} ms   {verdict(c - sc)}"
    )
    print(f"  dlgrader --help                    {h * 1e3:8.1f} ms   {verdict(h)}")
    print(
        f"  reference cache: {misses_after_first} build for the first grading, "
        f"{CASE_CACHE.misses - misses_after_first} for the {args.repeats} warm ones after it "
        f"(hits {CASE_CACHE.hits})"
    )


if __name__ == "__main__":
    main()
