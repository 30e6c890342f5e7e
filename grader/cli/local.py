"""Commands that work on this machine alone: reference check, assignments, init, grade."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from grader.cli.common import (
    EXIT_CANNOT_RUN,
    EXIT_FAILED,
    EXIT_USAGE,
    ExitCode,
    add_plain_row,
    app,
    assignment_app,
    assignment_named,
    check_output,
    console,
    err_console,
    fail,
    new_table,
    reference_app,
    sandbox_app,
    schema_app,
    write_output,
)

if TYPE_CHECKING:
    from grader.grading.specs import Assignment
    from grader.sandbox import Sandbox
    from submissions_schema.reproduce import ReproduceReport


def _fmt(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.1e}"


@reference_app.command("check")
def reference_check(
    device: Annotated[
        str, typer.Option(help="torch device for the cross-check: cpu, cuda, cuda:N")
    ] = "cpu",
    seed: Annotated[int, typer.Option(help="seed for every case's inputs")] = 0,
) -> None:
    """Run the parity suite: NumPy against torch float64, and every backward against
    centred differences and the directional check. Exits 4 on any disagreement."""
    from rich.text import Text

    from reference_impl.parity import DIRECTIONAL_TOLERANCE, NUMERIC_TOLERANCE, iter_parity_suite
    from reference_impl.torch_ref import TorchReference

    try:
        ref = TorchReference(device)
    except (RuntimeError, ValueError) as exc:
        err_console.print(f"dlgrader: cannot run the torch path on {device!r}: {exc}", style="red")
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    torch = ref.torch
    where = torch.cuda.get_device_name(ref.device) if ref.device.type == "cuda" else "CPU"
    table = new_table(
        title=f"reference parity on {device} ({where}, torch {torch.__version__}, float64)"
    )
    table.add_column("op", no_wrap=True)
    for col in ("fwd vs torch", "grad vs torch", "numeric", "directional", "tol"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("status")
    notes: list[str] = []
    failed = 0
    with console.status("checking…"):
        for r in iter_parity_suite(device, seed):
            failed += not r.passed
            failures = "; ".join(r.failures)
            status = Text("ok", "green") if r.passed else Text(f"FAIL {failures}", "red")
            if r.note:
                if r.note not in notes:
                    notes.append(r.note)
                status.append(f" [{notes.index(r.note) + 1}]")
            table.add_row(
                r.op,
                _fmt(r.forward_error),
                _fmt(r.gradient_error),
                _fmt(r.numeric_error),
                _fmt(r.directional_error),
                f"{r.tolerance:.0e}",
                status,
            )
    console.print(table)
    for i, note in enumerate(notes, 1):
        console.print(f"[{i}] {note}", markup=False, highlight=False)
    console.print(
        f"tol is for NumPy vs torch; numeric ≤ {NUMERIC_TOLERANCE:g}; "
        f"directional ≤ {DIRECTIONAL_TOLERANCE:g}"
    )
    if failed:
        console.print(f"{failed} of {table.row_count} checks FAILED", style="red")
        raise typer.Exit(EXIT_FAILED)
    console.print(f"all {table.row_count} checks agree", style="green")


@app.command("assignments")
def list_assignments() -> None:
    """List the assignments this grader ships."""
    from grader.grading.course import known_assignments

    table = new_table(title="assignments")
    for col in ("name", "version", "title", "file", "points"):
        table.add_column(col)
    for a in known_assignments().values():
        add_plain_row(table, a.name, a.version, a.title, f"{a.module}.py", f"{a.max_score:g}")
    console.print(table)


def _sandbox(name: str | None, gpu: str | None = None) -> Sandbox:
    """The named (or configured) sandbox; an unknown name is bad input, a missing one 3."""
    from grader.sandbox import SANDBOX_NAMES, SandboxUnavailable, select_sandbox
    from grader.settings import get_settings

    settings = get_settings()
    name = name or settings.sandbox
    if name not in SANDBOX_NAMES:
        raise fail(f"unknown sandbox {name!r}; choose {', '.join(SANDBOX_NAMES)}", EXIT_USAGE)
    if gpu is not None and name != "docker":
        raise fail("--gpu needs --sandbox docker: only its runs can be given a GPU", EXIT_USAGE)
    try:
        return select_sandbox(name, gpu=gpu, require_cgroup=settings.job_cgroups == "required")
    except SandboxUnavailable as exc:
        raise fail(str(exc), EXIT_CANNOT_RUN) from None


@assignment_app.command("show")
def assignment_show(name: Annotated[str, typer.Argument(help="assignment name")]) -> None:
    """What a student must implement: names, signatures, points."""
    from grader.cli.render import print_assignment

    print_assignment(console, assignment_named(name))


@assignment_app.command("check")
def assignment_check(
    name: Annotated[str, typer.Argument(help="assignment name")],
    solution: Annotated[
        Path | None,
        typer.Option(
            help="the staff solution (default: the course's solution/MODULE.py; for a "
            "built-in assignment, examples/NAME/MODULE.py here)"
        ),
    ] = None,
    target: Annotated[float, typer.Option(help="the kill rate every function must reach")] = 0.98,
    sandbox: Annotated[str | None, typer.Option(help="auto, bwrap, docker or process")] = None,
    survivors: Annotated[int, typer.Option(help="surviving mutants to show, with diffs")] = 10,
    mutants: Annotated[
        bool, typer.Option(help="run the mutants (--no-mutants: a quick check while authoring)")
    ] = True,
) -> None:
    """Prove an assignment's tests: the solution and every correct/*.py beside it get
    full marks, the starter none, each bug of bugs.yaml loses points on exactly the
    functions it declares (with its hint), and mutants of the solution are caught. Exit 0
    when all hold and every function's kill rate reaches --target, 4 when one does not."""
    from grader.grading.grade import grade
    from grader.grading.starter import starter_files

    spec = assignment_named(name)
    course_solution = spec.files.solution_dir if spec.files else None
    if solution is None and course_solution is not None and course_solution.is_dir():
        solution = course_solution / f"{spec.module}.py"
    path = solution or Path("examples") / name / f"{spec.module}.py"
    if not path.is_file():
        raise fail(f"no solution at {path}; pass --solution", EXIT_USAGE)
    box = _sandbox(sandbox)
    whole = course_solution is not None and path.resolve().parent == course_solution
    graded = grade(path.parent if whole else path, spec, box, 1)
    console.print(f"solution {path}: {graded.score:g} / {graded.max_score:g}", highlight=False)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for relative, text in starter_files(spec).items():
            (Path(tmp) / relative).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / relative).write_text(text)
        blank = grade(Path(tmp), spec, box, secret_seed=1)
    console.print(f"starter: {blank.score:g} / {blank.max_score:g}", highlight=False)
    evidence_problems = _check_evidence(spec, path, box)
    failing = _check_mutants(spec, path, box, target, survivors) if mutants else []
    problems = []
    if graded.score != graded.max_score:
        problems.append("the solution does not get full marks")
    if blank.score:
        problems.append("the starter earns points")
    problems += evidence_problems
    if failing:
        problems.append(f"kill rate under {target:.0%} in {', '.join(failing)}")
    if problems:
        raise fail("; ".join(problems), EXIT_FAILED)


def _check_mutants(
    spec: Assignment, path: Path, box: Sandbox, target: float, survivors: int
) -> list[str]:
    """Grade the solution's mutants, print the kill rates and survivors; return the
    functions under the target."""
    from grader.grading.mutants import MutationReport, check_mutants

    report = check_mutants(spec, path.read_text(), box)
    table = new_table(title=f"{spec.name}: mutants of the solution")
    for col in ("function", "mutants", "killed", "survived", "equivalent", "kill rate"):
        table.add_column(col)
    failing = []
    for function, verdicts in sorted(report.by_function().items()):
        rate = MutationReport.rate(verdicts)
        survived = [v for v in verdicts if not v.killed and not v.equivalent]
        if rate is not None and rate < target:
            failing.append(function)
        add_plain_row(
            table,
            function,
            str(len(verdicts)),
            str(sum(v.killed for v in verdicts)),
            str(len(survived)),
            str(sum(v.equivalent for v in verdicts)),
            "-" if rate is None else f"{rate:.1%}",
        )
    console.print(table)
    total = MutationReport.rate(report.verdicts)
    speed = len(report.verdicts) / report.seconds if report.seconds else 0.0
    console.print(
        f"kill rate {total:.1%} of {sum(not v.equivalent for v in report.verdicts)} "
        f"non-equivalent mutants; {len(report.verdicts)} mutants in {report.seconds:.1f} s "
        f"({speed:.0f} per second)"
        if total is not None
        else "no mutants",
        highlight=False,
    )
    shown = [v for v in report.verdicts if not v.killed and not v.equivalent][:survivors]
    for v in shown:
        m = v.mutant
        console.print(f"survivor in {m.function} (line {m.line}, {m.description}):", markup=False)
        console.print(m.diff, markup=False, highlight=False)
    return failing


def _check_evidence(spec: Assignment, solution: Path, box: Sandbox) -> list[str]:
    """The solution's gradients (when it is the truth), correct/*.py and bugs.yaml beside
    it: print what they show, return what fails."""
    from grader.grading.cases import build_cases
    from grader.grading.mistakes import ZOO_FILE, load_zoo
    from grader.grading.mutants import fast_cases
    from grader.grading.specs import SpecError
    from grader.grading.zoo import (
        check_corpus,
        check_zoo,
        corpus_sources,
        solution_gradients,
        unvaried_parameters,
    )

    # A course keeps its evidence beside solution/; the built-in course, beside examples/.
    files = spec.files
    if files is not None and solution.resolve().parent == files.solution_dir:
        folder = files.folder
    else:
        folder = solution.parent
    sources = corpus_sources(folder, solution)
    cases = fast_cases(build_cases(spec, 0, secret_seed=1, box=box))
    for warning in unvaried_parameters(spec):
        console.print(f"warning: {warning}", markup=False, highlight=False)
    problems = []
    gradients = solution_gradients(spec, cases, box)
    if gradients:
        bad = [g for g in gradients if g.message]
        console.print(
            f"the solution's backwards against its own forwards' numerical derivatives: "
            f"{len(gradients) - len(bad)} of {len(gradients)} cases agree",
            highlight=False,
        )
        for g in bad:
            console.print(f"  {g.case}: {g.message}", markup=False, highlight=False)
        if bad:
            problems.append(
                f"the solution's backward disagrees with its forward in {len(bad)} cases"
            )
    corpus = {name: text for name, text in sources.items() if name}
    lost = [v.name for v in check_corpus(spec, corpus, cases, box) if not v.full_marks]
    if corpus:
        console.print(
            f"correct solutions: {len(corpus) - len(lost)} of {len(corpus)} get full marks"
            + (f" (not {', '.join(lost)})" if lost else ""),
            highlight=False,
        )
    if lost:
        problems.append(f"correct solutions lose points: {', '.join(lost)}")
    zoo = folder / ZOO_FILE
    if not zoo.is_file():
        return problems
    try:
        verdicts = check_zoo(spec, load_zoo(zoo), sources, cases, box)
    except SpecError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    table = new_table(title=f"{spec.name}: the bug zoo ({zoo})")
    for col in ("bug", "in", "loses points on", "as declared", "hint names it"):
        table.add_column(col)
    for v in verdicts:
        named = "yes" if v.named else ("NO" if v.bug.expected_hint else "-")
        add_plain_row(
            table,
            v.bug.name,
            v.bug.base or solution.name,
            ", ".join(sorted(v.broken)) or "nothing",
            "yes" if v.exact else f"NO (declared {', '.join(sorted(v.bug.breaks))})",
            named,
        )
    console.print(table)
    wrong = [v.bug.name for v in verdicts if not v.exact or (v.bug.expected_hint and not v.named)]
    console.print(
        f"bug zoo: {sum(v.exact for v in verdicts)} of {len(verdicts)} lose points on exactly"
        f" their functions; a hint names {sum(v.named for v in verdicts)} of them",
        highlight=False,
    )
    if wrong:
        problems.append(f"{len(wrong)} zoo bugs not judged as declared")
    return problems


def _course_flag(spec: Assignment) -> str:
    """`--course DIR ` when the assignment comes from a course folder, for commands we print."""
    from grader.grading.course import BUILTIN_COURSE

    files = spec.files
    if files is None or files.folder.is_relative_to(BUILTIN_COURSE):
        return ""
    return f"--course {files.folder.parent.parent} "


@app.command("init")
def init_command(
    name: Annotated[str, typer.Argument(help="assignment name")],
    directory: Annotated[Path, typer.Argument(help="where to write the starter file")],
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Write the starter: every signature and what it must do, no solutions (and the
    course's given files beside it)."""
    from grader.grading.starter import starter_files

    spec = assignment_named(name)
    handed = starter_files(spec)
    existing = [directory / n for n in handed if (directory / n).exists()]
    if existing and not force:
        err_console.print(f"dlgrader: {existing[0]} exists; pass --force to overwrite it")
        raise typer.Exit(EXIT_USAGE)
    try:
        for relative, text in handed.items():
            (directory / relative).parent.mkdir(parents=True, exist_ok=True)
            write_output(directory / relative, text)
    except OSError as exc:
        raise fail(f"cannot write into {directory}: {exc.strerror or exc}", EXIT_USAGE) from None
    target = directory / f"{spec.module}.py"
    others = [n for n in handed if n != f"{spec.module}.py"]
    also = f" (and {', '.join(others)})" if others else ""
    course = _course_flag(spec)
    console.print(
        f"wrote {target}{also}; check it with: dlgrader {course}grade {target} --assignment {name}",
        highlight=False,
    )


@app.command("grade")
def grade_command(
    path: Annotated[Path, typer.Argument(help="a .py file, a folder or a .zip")],
    assignment: Annotated[str, typer.Option("--assignment", "-a", help="assignment name")],
    sandbox: Annotated[str | None, typer.Option(help="auto, bwrap or process")] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", help="write the GradingResult here")
    ] = None,
    gradescope: Annotated[
        Path | None, typer.Option(help="write Gradescope's results.json here (only when graded)")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the visible cases")] = 0,
) -> None:
    """Grade a submission against the reference. Exit 0 when graded (whatever the score),
    2 for a bad path or name, 3 when the grader could not grade, 4 when the submission
    was rejected as ungradable (no such module in it, not a zip)."""
    from grader.cli.gradescope import results_json, to_gradescope
    from grader.cli.render import print_result
    from grader.grading.grade import grade
    from grader.sandbox import SandboxFailed
    from grader.settings import get_settings
    from submissions_schema import Verdict

    if not path.exists():
        raise fail(f"{path} does not exist", EXIT_USAGE)
    for out in (json_out, gradescope):
        check_output(out)
    if gradescope:
        # No grade, no results.json: Gradescope then records nothing (gradescope.py), so a
        # stale one from an earlier run must not stand in for this run's.
        try:
            gradescope.unlink(missing_ok=True)
        except OSError as exc:
            raise fail(f"cannot write {gradescope}: {exc.strerror or exc}", EXIT_USAGE) from None
    spec = assignment_named(assignment)
    box = _sandbox(sandbox)
    if box.name == "process":
        err_console.print("warning: the process sandbox runs your code unisolated", style="yellow")
    try:
        result = grade(path, spec, box, public_seed=seed, secret_seed=get_settings().hidden_seed)
    except SandboxFailed as exc:
        err_console.print(f"dlgrader: could not grade: {exc}; run it again", markup=False)
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    if json_out:
        write_output(json_out, result.model_dump_json(indent=2))
    if gradescope and result.verdict == Verdict.graded:
        document = to_gradescope(
            result,
            leaderboard=spec.gradescope_leaderboard,
            reveals_later=spec.policy.due_at is not None,
        )
        write_output(gradescope, results_json(document))
    if result.verdict == Verdict.rejected:
        raise fail(f"not graded: {result.message}", EXIT_FAILED)
    if result.verdict == Verdict.could_not_grade:
        err_console.print(f"dlgrader: could not grade: {result.message}")
        raise typer.Exit(EXIT_CANNOT_RUN)
    print_result(console, result)


@schema_app.command("export")
def schema_export(directory: Annotated[Path, typer.Argument(help="output folder")]) -> None:
    """Write one JSON Schema file per public model."""
    from submissions_schema.export import export_schemas

    try:
        written = export_schemas(directory)
    except OSError as exc:
        raise fail(f"cannot write {directory}: {exc.strerror or exc}", EXIT_USAGE) from None
    for path in written:
        console.print(f"wrote {path}")


@sandbox_app.command("build")
def sandbox_build(
    base: Annotated[
        str | None, typer.Option(help="base image (default python:3.11-slim-bookworm)")
    ] = None,
    torch_wheel: Annotated[Path | None, typer.Option(help="a local torch wheel to install")] = None,
    torch_index_url: Annotated[
        str | None, typer.Option(help="e.g. https://download.pytorch.org/whl/cu126 for GPUs")
    ] = None,
    tag: Annotated[str, typer.Option(help="image name")] = "dlgrader-sandbox:latest",
    quiet: Annotated[bool, typer.Option(help="print only the result")] = False,
) -> None:
    """Build the Docker sandbox image: Python, NumPy, torch and the harness."""
    from grader.sandbox.image import build_sandbox_image

    try:
        image = build_sandbox_image(
            tag, base, torch_wheel, torch_index_url, log=(lambda line: None) if quiet else print
        )
    except Exception as exc:
        err_console.print(f"dlgrader: {exc}", markup=False)
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    console.print(f"built {tag} ({image[:19]})")


@sandbox_app.command("status")
def sandbox_status(
    require: Annotated[
        str | None,
        typer.Option(help="exit 3 unless this one works: bwrap, docker, process, or auto"),
    ] = None,
) -> None:
    """Prove each sandbox by running the real harness on a one-call job. Exit 0 when the
    required one works (by default the configured one: `auto` needs Docker or bubblewrap)."""
    from grader.sandbox import SANDBOX_NAMES, select_sandbox
    from grader.sandbox.probe import probe
    from grader.settings import get_settings

    wanted = require or get_settings().sandbox
    if wanted not in SANDBOX_NAMES:
        raise fail(f"unknown sandbox {wanted!r}; choose {', '.join(SANDBOX_NAMES)}", EXIT_USAGE)

    def tried(name: str) -> str | None:
        try:
            return probe(select_sandbox(name))
        except Exception as exc:  # whatever breaks one sandbox is that sandbox's line
            return str(exc) or type(exc).__name__

    problems = {name: tried(name) for name in ("bwrap", "docker", "process")}
    for name, problem in problems.items():
        note = " (no isolation: only for your own code)" if name == "process" else ""
        if name == "bwrap" and problem is None:
            note = f" ({_bwrap_containment()})"
        console.print(f"{name}: {problem or 'ready' + note}", markup=False)
    if wanted == "auto":  # auto grades with the one select_sandbox picks: prove that one
        try:
            picked = select_sandbox("auto").name
            problem = problems[picked] and f"it picks {picked}: {problems[picked]}"
        except Exception as exc:
            problem = str(exc)
    else:
        problem = problems[wanted]
    if problem:
        raise fail(f"the {wanted} sandbox cannot run the harness here: {problem}", EXIT_CANNOT_RUN)


@sandbox_app.command("delegate")
def sandbox_delegate(
    user: Annotated[str, typer.Option(help="the user the service runs as")],
) -> None:
    """As root: hand the job cgroups' parent to USER, so that bubblewrap run by that user
    bounds each job's memory and processes as a whole (`--user root` takes it back)."""
    import os
    import pwd

    from grader.sandbox import cgroups

    if os.geteuid() != 0:
        raise fail("only root can delegate cgroups", EXIT_USAGE)
    try:
        pwd.getpwnam(user)
    except KeyError:
        raise fail(f"no user {user!r}", EXIT_USAGE) from None
    for parent in cgroups.delegate(user):  # an OSError is the host's: exit 3 in main()
        console.print(f"{parent} -> {user}", markup=False)


def _bwrap_containment() -> str:
    import os

    from grader.sandbox import cgroups

    problem = cgroups.unavailable()
    if os.geteuid() != 0:
        if problem is None:
            return "as this user: a user namespace and a cgroup per job (delegated)"
        return f"as this user: a user namespace, limits per process; {problem}"
    return "a uid and a cgroup per job" if problem is None else f"a uid per job; {problem}"


@app.command("reproduce")
def reproduce(
    project: Annotated[Path, typer.Argument(help="a folder with claims.yaml")],
    runs: Annotated[int | None, typer.Option(help="seeds per variant (at least 3)")] = None,
    sandbox: Annotated[str | None, typer.Option(help="auto, bwrap, docker or process")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="the report as JSON")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="the report as a page")] = None,
    markdown_out: Annotated[Path | None, typer.Option("--markdown", help="as Markdown")] = None,
    submit: Annotated[
        bool, typer.Option(help="run it on the server (after `dlgrader login`)")
    ] = False,
    fresh: Annotated[
        bool, typer.Option(help="rerun every run, reusing none from an earlier identical one")
    ] = False,
    unhooked: Annotated[
        bool, typer.Option(help="also run one seed without the seeding hooks, and compare")
    ] = False,
    gpu: Annotated[
        str | None,
        typer.Option(help="the GPU the runs may use (an index or UUID; with --sandbox docker)"),
    ] = None,
) -> None:
    """Run a project's experiment under pinned seeds, check determinism, judge each claim.
    Exit 0 when every claim reproduced, 3 when a claim's runs failed to run, 4 when a
    claim was not reproduced or inconclusive, or the inputs do not match their hashes."""
    for out in (json_out, html_out, markdown_out):
        check_output(out)
    if submit:
        if runs is not None or sandbox is not None or markdown_out is not None or gpu:
            raise fail(
                "with --submit the server runs the seeds claims.yaml lists (run.seeds) in "
                "its own sandbox: set run.seeds there; --runs, --sandbox, --gpu and "
                "--markdown are for local runs",
                EXIT_USAGE,
            )
        _reproduce_remotely(project, json_out, html_out)
        return
    from grader.reproduce.job import ClaimsError, ReproduceJob
    from grader.reproduce.report import to_html, to_markdown
    from grader.sandbox import SandboxFailed, SandboxUnavailable
    from grader.settings import get_settings

    if runs is not None and runs < 3:
        err_console.print("dlgrader: --runs must be at least 3")
        raise typer.Exit(EXIT_USAGE)
    box = _sandbox(sandbox, gpu)
    try:
        job = ReproduceJob(
            project,
            box,
            runs,
            progress=lambda line: console.print(line, highlight=False),
            allowed_packages=get_settings().allowed_packages,
            cache_dir=None if fresh else get_settings().data_dir / "reproduce-runs",
            unhooked=unhooked,
        )
    except ClaimsError as exc:
        raise fail(str(exc), EXIT_USAGE) from None
    except SandboxUnavailable as exc:  # a GPU project, no GPU here
        raise fail(str(exc), EXIT_CANNOT_RUN) from None
    try:
        report = job.execute()
    except SandboxFailed as exc:
        err_console.print(f"dlgrader: could not run: {exc}; run it again", markup=False)
        raise typer.Exit(EXIT_CANNOT_RUN) from None
    if json_out:
        write_output(json_out, report.model_dump_json(indent=2))
    if html_out:
        write_output(html_out, to_html(report))
    if markdown_out:
        write_output(markdown_out, to_markdown(report))
    if report.verdict != "completed":
        raise fail(f"stopped: {report.message}", EXIT_FAILED)
    table = new_table(title=f"reproduction: {report.title}")
    for col in ("claim", "verdict", "reason"):
        table.add_column(col, overflow="fold")
    for c in report.claims:
        add_plain_row(table, c.id, c.verdict.value, c.reason)
    console.print(table)
    d = report.determinism
    console.print(f"determinism: {d.result.value if d else 'n/a'}")
    if d and d.first_divergent_step is not None:
        console.print(f"  the twins' curves first differ at step {d.first_divergent_step}")
    if d and d.unhooked:
        console.print(f"  {d.unhooked}", highlight=False)
    raise typer.Exit(reproduce_exit_code(report))


def reproduce_exit_code(report: ReproduceReport) -> ExitCode:
    from submissions_schema.reproduce import ClaimVerdict

    verdicts = {c.verdict for c in report.claims}
    if ClaimVerdict.failed_to_run in verdicts:
        return ExitCode.CANNOT_RUN
    if verdicts - {ClaimVerdict.reproduced}:
        return ExitCode.FAILED
    return ExitCode.OK


def _reproduce_remotely(project: Path, json_out: Path | None, html_out: Path | None) -> None:
    """Zip the project, upload it, show its progress, then its verdicts."""
    import io
    import time
    import uuid
    import zipfile

    from grader.cli.remote import _call, _client
    from grader.reproduce.report import to_html

    if not (project / "claims.yaml").is_file():
        err_console.print(f"dlgrader: {project} has no claims.yaml")
        raise typer.Exit(EXIT_USAGE)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(project.rglob("*")):
            if path.is_file() and not {".git", "__pycache__"} & set(path.parts):
                zf.write(path, path.relative_to(project).as_posix())
    client = _client()
    submission = _call(
        client.submit_project, buffer.getvalue(), f"{project.name}.zip", uuid.uuid4().hex
    )
    console.print(f"submitted {submission.id}; following its progress")
    shown = 0
    while True:
        detail = _call(client.submission, submission.id)
        for event in detail.events[shown:]:
            console.print(
                f"  {event.at:%H:%M:%S} {event.message or event.status.value}",
                markup=False,
                highlight=False,
            )
        shown = len(detail.events)
        if detail.status.value in ("graded", "failed", "rejected"):
            break
        time.sleep(1.0)
    if detail.reproduce_report is None:
        code = EXIT_CANNOT_RUN if detail.status.value == "failed" else EXIT_FAILED
        raise fail(f"{detail.status.value}: {detail.reason}", code)
    report = detail.reproduce_report
    if json_out:
        write_output(json_out, report.model_dump_json(indent=2))
    if html_out:
        write_output(html_out, to_html(report))
    for claim in report.claims:
        console.print(f"{claim.id}: {claim.verdict.value} — {claim.reason}", markup=False)
    raise typer.Exit(reproduce_exit_code(report))
