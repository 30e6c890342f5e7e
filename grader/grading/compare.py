"""The trusted side: read what the harness wrote, defensively, and judge it.

Only regular `.npy` files the manifest asked for are read, with size checks and
`allow_pickle=False`; status lines are parsed as untrusted JSON. Nothing the
student's process printed affects a score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from grader.grading.cases import EPS, Case, JobAliases, dout_name
from grader.grading.harness_io import load_output, read_status
from grader.grading.hints import Context, crash_hint, find_hint, runtime_versions
from grader.grading.specs import GraphFunction, Kind
from reference_impl.gradcheck import rel_error, worst_index
from reference_impl.graph import is_topological_order
from submissions_schema import TestResult, TestStatus


@dataclass(frozen=True)
class Outputs:
    """A job's output folder, read by trusted names (the sandbox wrote opaque ones)."""

    path: Path
    aliases: JobAliases

    def load(self, key: str) -> np.ndarray | None:
        return load_output(self.path, self.aliases.outward(key))

    def statuses(self) -> dict[str, dict[str, Any]]:
        return {self.aliases.inward(k): v for k, v in read_status(self.path).items()}


@dataclass
class Judged:
    status: TestStatus
    message: str = ""
    worst_error: float | None = None
    worst_at: str | None = None
    hint: str | None = None


def _call_problem(
    entry: dict[str, Any] | None, fn: str, crashed: str, runtime: str = "", home: str | None = None
) -> Judged | None:
    """A call that did not return normally, as a verdict; None when it did. `runtime`
    names the sandbox's NumPy and Python for a crash that depends on them; `home` is the
    module the course keeps the function in, when it is not the main one."""
    if entry is None:
        return Judged(TestStatus.error, f"{fn} never returned: {crashed}")
    status = entry.get("status")
    msg = str(entry.get("message", ""))[:2000]
    if status == "ok":
        return None
    if status == "missing" and home:
        return Judged(
            TestStatus.missing,
            f"{fn} is not defined: the course keeps it in {home}.py; submit {home}.py too"
            " (a folder or .zip holding both files)",
        )
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
    kind = str(entry.get("type", "an exception"))
    return Judged(
        TestStatus.error,
        f"{fn} raised {kind}: {msg}\n{tb}".strip(),
        hint=crash_hint(kind, msg, runtime),
    )


def _input_name(key: str) -> str:
    """The spec's input name of a case array key ("conv.0.x+" -> "x")."""
    return key.rsplit(".", 1)[-1].rstrip("+-")


def judge_array(
    case: Case,
    out: Outputs,
    entry: dict[str, Any],
    key: str,
    fn: str,
    what: str,
    tolerance: float,
    squeeze: bool = False,
) -> Judged:
    """The student's array against the reference. With `squeeze`, a shape that differs
    only by axes of size one passes when its values are right (state the student's code
    keeps, such as a running mean of shape (1, D), which its own later calls broadcast)."""
    expected = case.expected[key]
    index = key.rsplit(".", 1)[1]
    got = out.load(key)
    if got is None:
        kind = str(entry.get("outputs", {}).get(index, {}).get("type", "nothing"))
        if kind == "builtins.NoneType":
            kind = "None (is a `return` missing?)"
        return Judged(
            TestStatus.error,
            f"{fn} returned {kind} for {what}; expected a numpy.ndarray "
            f"of floats with shape {expected.shape}",
        )
    if (
        squeeze
        and got.shape != expected.shape
        and got.squeeze().shape == expected.squeeze().shape
        and _right_once_reshaped(got, expected, tolerance)
    ):
        return Judged(
            TestStatus.passed,
            f"{what} has shape {got.shape}, expected {expected.shape}: its values are right",
        )
    if got.shape != expected.shape:
        msg = f"{what} has shape {got.shape}, expected {expected.shape}"
        if got.size > expected.size and _broadcasts_to(expected.shape, got.shape):
            msg += " (an accidental broadcast?)"
        hint = find_hint(fn, key[len(case.tag) + 1 :], _context(case, expected), got, tolerance)
        return Judged(TestStatus.failed, msg, hint=hint or _mistake(case, key, got, tolerance))
    if got.dtype.kind not in "fiu":
        return Judged(TestStatus.failed, f"{what} has dtype {got.dtype}, expected floats")
    if not np.all(np.isfinite(got)):
        hint = _overflow_hint(case) if np.all(np.isfinite(expected)) else None
        return Judged(TestStatus.failed, f"{what} contains NaN or inf", hint=hint)
    err = rel_error(got.astype(np.float64), expected)
    at = f"{what}{list(worst_index(got, expected)) if got.ndim else ''}"
    if err <= tolerance:
        return Judged(TestStatus.passed, worst_error=err, worst_at=at)
    for name, description, outputs in case.alternatives:
        other = outputs.get(key)
        if other is None or other.shape != got.shape:
            continue
        if rel_error(got.astype(np.float64), other) <= tolerance:
            if name in case.problem.accept:
                return Judged(
                    TestStatus.passed, f"follows {description}: accepted here", worst_at=at
                )
            return Judged(
                TestStatus.failed,
                f"{what} follows {description}, which this assignment does not accept; "
                "its contract is the docstring's",
                worst_error=err,
                worst_at=at,
            )
    hint = find_hint(fn, key[len(case.tag) + 1 :], _context(case, expected), got, tolerance)
    hint = hint or _mistake(case, key, got, tolerance)
    return Judged(
        TestStatus.failed,
        f"{what} is off: rel_error {err:.2e} > {tolerance:.0e}",
        worst_error=err,
        worst_at=at,
        hint=hint,
    )


def _right_once_reshaped(got: np.ndarray, expected: np.ndarray, tolerance: float) -> bool:
    """The right values in the wrong shape ((1, D) for (D,), say)."""
    if got.size != expected.size:
        return False
    with np.errstate(all="ignore"):
        return bool(
            rel_error(got.reshape(expected.shape).astype(np.float64), expected) <= tolerance
        )


def _broadcasts_to(small: tuple[int, ...], big: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(small, big) == big
    except ValueError:
        return False


def _mistake(case: Case, key: str, got: np.ndarray, tolerance: float) -> str | None:
    """What to tell when the output is one of the course's known mistakes'."""
    for tell, outputs in case.mistakes:
        theirs = outputs.get(key)
        if theirs is not None and theirs.shape == got.shape and got.dtype.kind in "fiu":
            with np.errstate(all="ignore"):
                if rel_error(got.astype(np.float64), theirs) <= tolerance:
                    return tell
    return None


EXP_OVERFLOWS_PAST = 709.0  # np.exp of a float64 above this is inf


def _overflow_hint(case: Case) -> str | None:
    """NaN or inf where the truth is finite, on inputs large enough that exp overflows."""
    inputs = _context(case, np.zeros(0)).inputs.values()
    largest = max((float(np.max(v)) for v in inputs if v.size), default=0.0)
    if largest <= EXP_OVERFLOWS_PAST:
        return None
    return (
        f"these scores reach {largest:.0f} and exp overflows past {EXP_OVERFLOWS_PAST:.0f}:"
        " subtract each row's max before exp (softmax is unchanged by a shift)"
    )


def _context(case: Case, reference: np.ndarray) -> Context:
    prefix = case.tag + "."
    inputs = {k[len(prefix) :]: v for k, v in case.inputs.items() if k.startswith(prefix)}
    return Context(inputs, case.problem.params, reference)


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


class ArraySource(Protocol):
    def load(self, key: str) -> np.ndarray | None: ...


def directional(
    case: Case,
    out: ArraySource,
    statuses: dict[str, dict[str, Any]],
    grads: dict[str, np.ndarray],
    forward_key: str,
    upstream: Sequence[np.ndarray | float],
) -> str | None:
    """Does the student's backward match the student's own forward? A message when not.
    `upstream` holds the gradient given for each forward output, in order."""
    t = case.tag
    numeric = 0.0
    for i, v in enumerate(upstream):
        plus, minus = out.load(f"{t}.f+.{i}"), out.load(f"{t}.f-.{i}")
        if plus is None or minus is None or plus.shape != minus.shape or np.shape(v) != plus.shape:
            return None
        with np.errstate(all="ignore"):  # a student's inf or NaN just fails the check
            numeric += float(np.sum(np.asarray(v) * (plus.astype(float) - minus)) / (2 * EPS))
    with np.errstate(all="ignore"):
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


class CaseJudge:
    """Turns one case's harness outputs into TestResults, by the problem's kind."""

    def __init__(self, case: Case, out: Outputs, statuses: dict[str, dict[str, Any]], crashed: str):
        self.case, self.out, self.statuses, self.crashed = case, out, statuses, crashed
        self.calls = {call["id"]: call for call in case.calls}
        self.p = case.problem
        self.t = case.tag

    def result(self, fn: str, judged: Judged, points: float) -> TestResult:
        n_cases = self.p.cases + self.p.hidden_cases
        return TestResult(
            name=f"{fn} {self.case.label}",
            function=fn,
            status=judged.status,
            score=points / n_cases if judged.status == TestStatus.passed else 0.0,
            max_score=points / n_cases,
            visibility=self.case.visibility,
            worst_error=judged.worst_error,
            worst_at=judged.worst_at,
            message=judged.message,
            hint=judged.hint,
        )

    def entry(self, suffix: str) -> dict[str, Any] | None:
        return self.statuses.get(f"{self.t}.{suffix}")

    def problem_with(self, suffix: str, fn: str) -> Judged | None:
        runtime = runtime_versions(self.statuses.get("__start__"))
        judged = _call_problem(self.entry(suffix), fn, self.crashed, runtime, self.p.module)
        changed = self.changed_inputs(suffix) if judged is None else []
        if changed:
            return Judged(
                TestStatus.error,
                f"{fn} modified its input array(s) in place (argument {changed}); work on copies",
            )
        return judged

    def changed_inputs(self, suffix: str) -> list[int]:
        """Arguments the call changed, compared here with what was sent: the harness only
        saves them as the call left them."""
        call = self.calls.get(f"{self.t}.{suffix}", {})
        changed = []
        for i, arg in enumerate(call.get("args", [])):
            if "array" not in arg or _input_name(arg["array"]) not in self.p.preserve:
                continue
            after = self.out.load(f"{self.t}.{suffix}.arg{i}")
            before = self.case.inputs[arg["array"]]
            if after is not None and not (
                after.shape == before.shape and np.array_equal(after, before, equal_nan=True)
            ):
                changed.append(i)
        return changed

    def array(self, suffix: str, key: str, fn: str, what: str, squeeze: bool = False) -> Judged:
        return judge_array(
            self.case,
            self.out,
            self.entry(suffix) or {},
            f"{self.t}.{key}",
            fn,
            what,
            self.p.tolerance,
            squeeze,
        )

    def judge(self) -> list[TestResult]:
        kind = self.p.kind
        if kind in (Kind.layer, Kind.gate):
            return self.forward_backward()
        if kind == Kind.torch_module:
            return self.torch_module()
        return [
            self.result(self.p.forward_name, getattr(self, kind.value)(), self.p.points_forward)
        ]

    def update(self) -> Judged:
        parts: list[Judged] = []
        for step in range(self.p.steps):
            problem = self.problem_with(f"step{step}", self.p.forward)
            if problem is not None:
                return _worst([*parts, problem])
            parts.append(
                self.array(
                    f"step{step}", f"step{step}.0", self.p.forward, f"next_w after step {step + 1}"
                )
            )
        return _worst(parts)

    def loss(self) -> Judged:
        fn = self.p.forward
        problem = self.problem_with("f", fn)
        if problem is not None:
            return problem
        loss, dx = self.array("f", "f.0", fn, "loss"), self.array("f", "f.1", fn, "dx")
        judged = _worst([loss, dx])
        got = self.out.load(f"{self.t}.f.1")
        if loss.status == TestStatus.passed and dx.status != TestStatus.passed and got is not None:
            name = next(iter(self.case.directions))
            msg = directional(self.case, self.out, self.statuses, {name: got}, f"{self.t}.f", [1.0])
            judged.message += f"; {msg}" if msg else ""
        return judged

    def function(self) -> Judged:
        fn = self.p.forward
        problem = self.problem_with("f", fn)
        if problem is not None:
            return problem
        return _worst([self.array("f", f"f.{i}", fn, f"output {i}") for i in range(self.p.outputs)])

    def graph(self) -> Judged:
        fn = self.p.forward
        problem = self.problem_with("f", fn)
        if problem is not None:
            return problem
        if self.p.graph_function == GraphFunction.topological_order:
            got = self.out.load(f"{self.t}.f.0")
            if got is None or got.ndim != 1 or got.dtype.kind != "U":
                return Judged(TestStatus.error, f"{fn} must return a list of node names")
            assert self.case.graph is not None
            why = is_topological_order(self.case.graph, [str(n) for n in got])
            return Judged(TestStatus.passed) if why is None else Judged(TestStatus.failed, why)
        if self.p.graph_function == GraphFunction.backward_pass:
            names = self.case.graph["inputs"] if self.case.graph else []
            return _worst([self.array("f", f"f.{n}", fn, f"gradient of {n}") for n in names])
        if self.p.graph_function == GraphFunction.forward_mode:
            return _worst(
                [
                    self.array("f", "f.0", fn, "value"),
                    self.array("f", "f.1", fn, "directional derivative"),
                ]
            )
        return self.array("f", "f.0", fn, "value")

    def torch_module(self) -> list[TestResult]:
        """The module's output, then the gradients of its input and parameters."""
        p = self.p
        problem = self.problem_with("f", p.forward)
        if problem is not None:
            return [
                self.result(p.forward_name, problem, p.points_forward),
                self.result(p.backward_name or "", problem, p.points_backward),
            ]
        fwd = self.array("f", "f.0", p.forward_name, "out")
        names = ["x", *[n for n, s in p.inputs.items() if s.parameter]]
        bwd = _worst([self.array("f", f"f.d{n}", p.backward_name or "", f"d{n}") for n in names])
        device = (self.entry("f") or {}).get("outputs", {}).get("device", "")
        if device:
            fwd.message = f"{fwd.message} (ran on {device})".strip()
        return [
            self.result(p.forward_name, fwd, p.points_forward),
            self.result(p.backward_name or "", bwd, p.points_backward),
        ]

    def expected_grads(self, names: list[str]) -> dict[str, np.ndarray]:
        """The reference's gradient of each differentiable input, by input name."""
        found = {n: self.case.expected.get(f"{self.t}.b.{i}") for i, n in enumerate(names)}
        return {n: g for n, g in found.items() if g is not None}

    def all_shaped_right(self, grads: dict[str, np.ndarray], names: list[str]) -> bool:
        """Every gradient there, each with its input's shape: only then does the
        directional check say something true about the backward."""
        want = self.expected_grads(names)
        return all(n in grads and n in want and grads[n].shape == want[n].shape for n in names)

    def all_zero(self, grads: dict[str, np.ndarray], names: list[str]) -> list[str]:
        """The gradients that are all zeros where the reference's are not."""
        want = self.expected_grads(names)
        return [
            f"d{n}"
            for n in names
            if n in grads and n in want and not grads[n].any() and want[n].any()
        ]

    def right_once_reshaped(self, grads: dict[str, np.ndarray], names: list[str]) -> list[str]:
        """The gradients that have the wrong shape but the right values in it."""
        want = self.expected_grads(names)
        return [
            f"d{n}"
            for n in names
            if n in grads
            and n in want
            and grads[n].shape != want[n].shape
            and _right_once_reshaped(grads[n], want[n], self.p.tolerance)
        ]

    def forward_backward(self) -> list[TestResult]:
        """A layer or a gate: the forward, then the backward; a wrong forward says so before
        the backward is blamed."""
        p, t = self.p, self.t
        fwd_name, bwd_name = p.forward_name, p.backward_name or ""
        names = [n for n, s in p.inputs.items() if s.differentiable]
        fwd_problem = self.problem_with("new", p.forward) if p.kind == Kind.gate else None
        fwd_problem = fwd_problem or self.problem_with("f", fwd_name)
        if fwd_problem is not None:
            fwd = fwd_problem
        else:
            outs = ["out"] if p.outputs == 1 else [f"output {i}" for i in range(p.outputs)]
            fwd = _worst(
                [self.array("f", f"f.{i}", fwd_name, what) for i, what in enumerate(outs)]
                + [self.array("f", f"f.{key}", fwd_name, key, True) for key in p.record_params]
            )
        results = [self.result(fwd_name, fwd, p.points_forward)]
        if not p.points_backward:
            return results
        bwd_problem = self.problem_with("b", bwd_name)
        if fwd_problem is not None and (
            bwd_problem is None or bwd_problem.status == TestStatus.not_run
        ):
            bwd_problem = Judged(TestStatus.not_run, f"{bwd_name} needs what {fwd_name} keeps")
        if bwd_problem is not None:
            return [*results, self.result(bwd_name, bwd_problem, p.points_backward)]
        bwd = _worst([self.array("b", f"b.{i}", bwd_name, f"d{n}") for i, n in enumerate(names)])
        if bwd.status != TestStatus.passed:
            grads = {
                n: g for i, n in enumerate(names) if (g := self.out.load(f"{t}.b.{i}")) is not None
            }
            reshaped = self.right_once_reshaped(grads, names)
            if reshaped:  # mis-shaped: values right, and the check below would only mislead
                verb = "holds" if len(reshaped) == 1 else "hold"
                bwd.message += f"; {' and '.join(reshaped)} {verb} the right values: fix the shape"
                return [*results, self.result(bwd_name, bwd, p.points_backward)]
            if not self.all_shaped_right(grads, names):  # missing or mis-shaped gradients
                return [*results, self.result(bwd_name, bwd, p.points_backward)]
            zeros = self.all_zero(grads, names)
            if zeros:  # an unfinished backward: np.zeros_like(...) returned as it was
                bwd.message += f"; {' and '.join(zeros)} are all zeros: is the backward finished?"
                return [*results, self.result(bwd_name, bwd, p.points_backward)]
            upstream = [self.case.inputs[f"{t}.{dout_name(i)}"] for i in range(p.outputs)]
            msg = directional(self.case, self.out, self.statuses, grads, f"{t}.f", upstream)
            if msg:
                bwd.message += f"; {msg}"
            elif fwd.status != TestStatus.passed:
                bwd.message += (
                    "; your backward is consistent with your own forward: fix the forward first"
                )
        return [*results, self.result(bwd_name, bwd, p.points_backward)]


def judge_case(
    case: Case, out: Outputs, statuses: dict[str, dict[str, Any]], crashed: str
) -> list[TestResult]:
    return CaseJudge(case, out, statuses, crashed).judge()
