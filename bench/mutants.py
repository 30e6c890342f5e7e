"""How fast `dlgrader assignment check` judges mutants, and what batching buys.

    python bench/mutants.py [--assignments cnn-layers autodiff torch-layers] [--alone 10]

Side by side in one run, per assignment, through bubblewrap:
  check     check_mutants() as the command runs it: every mutant, the wide re-run of the
            survivors, all sandbox starts included (mutants per second of wall time)
  batch     one sandbox run of the first 100 mutants, and one of a single mutant: their
            difference is what a mutant costs once the sandbox is up (the margin)
  alone     the first --alone mutants each in a sandbox run of its own, the way grading
            a submission would take them
Target: ≥ 50 mutants per second for `check`; `alone` per mutant over the margin shows
what a sandbox start per mutant would cost.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from grader.grading.cases import Case, build_cases
from grader.grading.course import get_assignment
from grader.grading.mutants import check_mutants, fast_cases, generate, mutant_variants
from grader.grading.specs import Assignment
from grader.grading.variants import Variant, grade_variants
from grader.sandbox import Sandbox, select_sandbox

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TARGET = 50.0


def seconds(variants: list[Variant], cases: list[Case], spec: Assignment, box: Sandbox) -> float:
    start = time.monotonic()
    grade_variants(variants, cases, spec, box)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--assignments", nargs="+", default=["cnn-layers", "autodiff", "torch-layers"]
    )
    parser.add_argument("--alone", type=int, default=10)
    args = parser.parse_args()
    box = select_sandbox("bwrap")
    print(
        f"{'assignment':14} {'mutants':>7} {'check/s':>8} {'margin ms':>9} {'alone ms':>9} target"
    )
    for name in args.assignments:
        spec = get_assignment(name)
        source = (EXAMPLES / name / f"{spec.module}.py").read_text()
        mutants = generate(source)
        cases = fast_cases(build_cases(spec, 0, 1))
        report = check_mutants(spec, source, box)
        rate = len(mutants) / report.seconds
        variants = mutant_variants(spec, mutants[:100])
        many = seconds(variants, cases, spec, box)
        one = seconds(variants[:1], cases, spec, box)
        margin = (many - one) / max(1, len(variants) - 1)
        alone = [seconds([v], cases, spec, box) for v in variants[: args.alone]]
        per_alone = sum(alone) / len(alone)
        verdict = "met" if rate >= TARGET else f"MISSED ({TARGET:.0f}/s)"
        figures = f"{rate:8.0f} {margin * 1000:9.1f} {per_alone * 1000:9.0f}"
        print(f"{name:14} {len(mutants):7d} {figures} {verdict}")


if __name__ == "__main__":
    main()
