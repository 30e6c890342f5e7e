"""The trusted side: read what the harness wrote, defensively, and judge it.

Only regular `.npy` files the manifest asked for are read, with size checks and
`allow_pickle=False`; status lines are parsed as untrusted JSON. Nothing the
student's process printed affects a score.
"""

from __future__ import annotations

import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from grader.cases import EPS, Case
from grader.hints import find_hint
from grader.specs import Kind
from reference_impl.gradcheck import rel_error, worst_index
from submissions_schema import TestResult, TestStatus

MAX_ARRAY_BYTES = 64 << 20
MAX_STATUS_BYTES = 4 << 20


def read_status(out: Path) -> dict[str, dict[str, Any]]:
    path = out / "status.jsonl"
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return {}
    if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_STATUS_BYTES:
        return {}
    statuses: dict[str, dict[str, Any]] = {}
    with open(path, "rb") as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and isinstance(entry.get("id"), str):
                statuses.setdefault(entry["id"], entry)  # the harness's line comes first
    return statuses


def load_output(out: Path, key: str) -> np.ndarray | None:
    """A regular, size-checked, pickle-free .npy, or None."""
    path = out / f"{key}.npy"
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_ARRAY_BYTES:
            return None
        try:
            array = np.load(f, allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None
    return array if isinstance(array, np.ndarray) else None


@dataclass
class Judged:
    status: TestStatus
    message: str = ""
    worst_error: float | None = None
    worst_at: str | None = None
    hint: str | None = None


def _call_problem(entry: dict[str, Any] | None, fn: str, crashed: str) -> Judged | None:
    """A call that did not return normally, as a verdict; None when it did."""
    if entry is None:
        return Judged(TestStatus.error, f"{fn} never returned: {crashed}")
    status = entry.get("status")
    msg = str(entry.get("message", ""))[:2000]
    if status == "ok":
        if entry.get("mutated"):
            return Judged(
                TestStatus.error,
                f"{fn} modified its input array(s) in place "
                f"(argument {entry['mutated']}); work on copies",
            )
        return None
    if status == "missing":
        return Judged(TestStatus.missing, f"{fn} is not defined in your module")
    if status == "timeout":
        return Judged(TestStatus.timeout, f"{fn} {msg}")
    if status == "bad_return":
        got = entry.get("returned", {}).get("type", "?")
        return Judged(TestStatus.error, f"{fn} returned {got}: {msg}")
    if status == "not_run":
        return Judged(TestStatus.not_run, msg)
    tb = str(entry.get("traceback", ""))[-1500:]
    return Judged(
        TestStatus.error, f"{fn} raised {entry.get('type', 'an exception')}: {msg}\n{tb}".strip()
    )


def judge_array(
    case: Case, out: Path, entry: dict[str, Any], key: str, fn: str, what: str, tolerance: float
) -> Judged:
    expected = case.expected[key]
    index = key.rsplit(".", 1)[1]
    got = load_output(out, key)
    if got is None:
        kind = entry.get("outputs", {}).get(index, {}).get("type", "nothing")
        return Judged(
            TestStatus.error,
            f"{fn} returned {kind} for {what}; expected a numpy.ndarray "
            f"of floats with shape {expected.shape}",
        )
    if got.shape != expected.shape:
        msg = f"{what} has shape {got.shape}, expected {expected.shape}"
        if (
            got.size != expected.size
            and np.broadcast_shapes(got.shape, expected.shape) == got.shape
        ):
            msg += " (an accidental broadcast?)"
        if got.shape == expected.shape[::-1] and got.ndim == 2:
            hint = find_hint(
                fn, key[len(case.tag) + 1 :], _named_inputs(case), expected, got, tolerance
            )
            return Judged(TestStatus.failed, msg, hint=hint)
        return Judged(TestStatus.failed, msg)
    if got.dtype.kind not in "fiu":
        return Judged(TestStatus.failed, f"{what} has dtype {got.dtype}, expected floats")
    if not np.all(np.isfinite(got)):
        return Judged(TestStatus.failed, f"{what} contains NaN or inf")
    err = rel_error(got.astype(np.float64), expected)
    at = f"{what}{list(worst_index(got, expected)) if got.ndim else ''}"
    if err <= tolerance:
        return Judged(TestStatus.passed, worst_error=err, worst_at=at)
    hint = find_hint(fn, key[len(case.tag) + 1 :], _named_inputs(case), expected, got, tolerance)
    return Judged(
        TestStatus.failed,
        f"{what} is off: rel_error {err:.2e} > {tolerance:.0e}",
        worst_error=err,
        worst_at=at,
        hint=hint,
    )


def _named_inputs(case: Case) -> dict[str, np.ndarray]:
    prefix = case.tag + "."
    return {k[len(prefix) :]: v for k, v in case.inputs.items() if k.startswith(prefix)}


def _worst(parts: list[Judged]) -> Judged:
    order = [
        TestStatus.missing,
        TestStatus.timeout,
        TestStatus.error,
        TestStatus.not_run,
        TestStatus.failed,
        TestStatus.passed,
    ]
    parts = sorted(parts, key=lambda j: order.index(j.status))
    first = parts[0]
    errors = [p.worst_error for p in parts if p.worst_error is not None]
    worst = max(parts, key=lambda p: p.worst_error or -1.0)
    return Judged(
        first.status,
        "; ".join(p.message for p in parts if p.message),
        max(errors) if errors else None,
        worst.worst_at,
        next((p.hint for p in parts if p.hint), None),
    )


def directional(
    case: Case,
    out: Path,
    statuses: dict[str, dict[str, Any]],
    grads: dict[str, np.ndarray],
    forward_key: str,
    v: np.ndarray | float,
) -> str | None:
    """Does the student's backward match the student's own forward? A message when not."""
    t = case.tag
    plus, minus = load_output(out, f"{t}.f+.0"), load_output(out, f"{t}.f-.0")
    if plus is None or minus is None or plus.shape != minus.shape or np.shape(v) != plus.shape:
        return None
    with np.errstate(all="ignore"):  # a student's inf or NaN just fails the check
        numeric = float(np.sum(np.asarray(v) * (plus.astype(float) - minus)) / (2 * EPS))
        analytic = sum(
            float(np.sum(case.directions[n] * g))
            for n, g in grads.items()
            if n in case.directions and g.shape == case.directions[n].shape
        )
        err = rel_error(numeric, analytic)
    if err > case.problem.directional_tolerance and np.isfinite(err):
        return (
            f"your backward does not match your own forward (directional check: "
            f"{numeric:.6g} vs {analytic:.6g})"
        )
    return None


def judge_case(
    case: Case, out: Path, statuses: dict[str, dict[str, Any]], crashed: str
) -> list[TestResult]:
    p = case.problem
    t = case.tag
    n_cases = p.cases + p.hidden_cases
    results: list[TestResult] = []

    def result(fn: str, kind: str, judged: Judged, points: float) -> TestResult:
        score = points / n_cases if judged.status == TestStatus.passed else 0.0
        return TestResult(
            name=f"{fn} {case.label}",
            function=fn,
            status=judged.status,
            score=score,
            max_score=points / n_cases,
            visibility=case.visibility,
            worst_error=judged.worst_error,
            worst_at=judged.worst_at,
            message=judged.message,
            hint=judged.hint,
        )

    if p.kind == Kind.update:
        parts = []
        for step in range(p.steps):
            entry = statuses.get(f"{t}.step{step}")
            problem = _call_problem(entry, p.forward, crashed)
            if problem is not None:
                parts.append(problem)
                break
            parts.append(
                judge_array(
                    case,
                    out,
                    entry or {},
                    f"{t}.step{step}.0",
                    p.forward,
                    f"next_w after step {step + 1}",
                    p.tolerance,
                )
            )
        return [result(p.forward, "update", _worst(parts), p.points_forward)]

    f_entry = statuses.get(f"{t}.f")
    fwd_problem = _call_problem(f_entry, p.forward, crashed)
    names = [n for n, s in p.inputs.items() if s.differentiable]
    if p.kind == Kind.loss:
        if fwd_problem is not None:
            return [result(p.forward, "loss", fwd_problem, p.points_forward)]
        loss = judge_array(case, out, f_entry or {}, f"{t}.f.0", p.forward, "loss", p.tolerance)
        dx = judge_array(case, out, f_entry or {}, f"{t}.f.1", p.forward, "dx", p.tolerance)
        judged = _worst([loss, dx])
        if loss.status == TestStatus.passed and dx.status != TestStatus.passed:
            got = load_output(out, f"{t}.f.1")
            if got is not None:
                msg = directional(case, out, statuses, {names[0]: got}, f"{t}.f", 1.0)
                judged.message += f"; {msg}" if msg else ""
        return [result(p.forward, "loss", judged, p.points_forward)]

    # A layer: forward, then backward; a wrong forward says so before the backward is blamed.
    if fwd_problem is not None:
        fwd = fwd_problem
    else:
        parts = [judge_array(case, out, f_entry or {}, f"{t}.f.0", p.forward, "out", p.tolerance)]
        parts += [
            judge_array(case, out, f_entry or {}, f"{t}.f.{key}", p.forward, key, p.tolerance)
            for key in p.record_params
        ]
        fwd = _worst(parts)
    results.append(result(p.forward, "forward", fwd, p.points_forward))
    if not p.backward:
        return results
    b_entry = statuses.get(f"{t}.b")
    bwd_problem = _call_problem(b_entry, p.backward, crashed)
    if fwd_problem is not None and bwd_problem is None:
        bwd_problem = Judged(TestStatus.not_run, f"{p.backward} needs the cache from {p.forward}")
    if bwd_problem is not None:
        results.append(result(p.backward, "backward", bwd_problem, p.points_backward))
        return results
    parts = [
        judge_array(case, out, b_entry or {}, f"{t}.b.{i}", p.backward, f"d{n}", p.tolerance)
        for i, n in enumerate(names)
    ]
    bwd = _worst(parts)
    if bwd.status != TestStatus.passed:
        grads = {
            n: g for i, n in enumerate(names) if (g := load_output(out, f"{t}.b.{i}")) is not None
        }
        msg = directional(case, out, statuses, grads, f"{t}.f", case.inputs[f"{t}.dout"])
        if msg:
            bwd.message += f"; {msg}"
        elif fwd.status != TestStatus.passed:
            bwd.message += (
                "; your backward is consistent with your own forward, so fix the forward first"
            )
    results.append(result(p.backward, "backward", bwd, p.points_backward))
    return results
