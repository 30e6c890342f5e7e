"""The reproduce job: pin and hash the inputs, fingerprint the environment, check
determinism, run every seed of every variant in the sandbox, aggregate, judge."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from grader.grading.environments import (
    EnvironmentFailed,
    build_image,
    build_site,
    environment_key,
    host_python,
    image_tag,
    with_requirements_file,
)
from grader.reproduce.stats import RULES, judge_absolute, judge_comparison, judge_threshold, summary
from grader.sandbox import JobDirs, Sandbox, SandboxLimits, SandboxUnavailable
from grader.sandbox.image import image_exists
from grader.settings import DEFAULT_ALLOWED_PACKAGES, scratch_dir
from grader.untrusted_fs import (
    UnreadableTree,
    copy_tree,
    open_regular,
    read_text,
    remove_tree,
    walk_files,
)
from grader.untrusted_yaml import MAX_YAML_BYTES, UntrustedYAMLError, load_yaml
from submissions_schema.reproduce import (
    AbsoluteClaim,
    Aggregate,
    Artifact,
    ClaimResult,
    ClaimsFile,
    ClaimVerdict,
    ComparisonClaim,
    Determinism,
    DeterminismClass,
    ReproduceReport,
    RunRecord,
)

CLAIMS_FILE = "claims.yaml"
MAX_HASHED_FILE_BYTES = 200 << 20  # larger files are fingerprinted by name only
Progress = Callable[[str], None]


class ClaimsError(ValueError):
    """claims.yaml is missing or wrong; the message says exactly where."""


def load_claims(project: Path) -> ClaimsFile:
    path = project / CLAIMS_FILE
    if not path.is_file():
        raise ClaimsError(f"{project} has no {CLAIMS_FILE}")
    text = read_text(path, MAX_YAML_BYTES)
    if text is None:
        raise ClaimsError(f"{CLAIMS_FILE} is not a readable UTF-8 file of at most 256 KB")
    try:
        document = load_yaml(text)
    except UntrustedYAMLError as exc:
        raise ClaimsError(f"{CLAIMS_FILE} is not valid YAML: {exc}") from None
    try:
        return ClaimsFile.model_validate(document)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ClaimsError(f"{CLAIMS_FILE}: {problems}") from None


def sha256_path(path: Path, skip: frozenset[str] = frozenset()) -> str:
    """A file's sha256; a folder's is that of its files' relative paths and hashes, sorted
    (regular files only, .git and the top-level names in `skip` left out, read through
    the untrusted-tree walker)."""
    if path.is_symlink():
        return hashlib.sha256(b"symlink").hexdigest()
    if not path.is_dir():
        return _sha256_file(path)
    h = hashlib.sha256()
    try:
        entries = sorted(
            (
                e
                for e in walk_files(path)
                if ".git" not in e.relative.parts and e.relative.as_posix() not in skip
            ),
            key=lambda e: e.relative.as_posix(),
        )
    except UnreadableTree as exc:
        raise ClaimsError(f"{path.name}: {exc}") from None
    for entry in entries:
        h.update(f"{entry.relative.as_posix()}\0{_sha256_file(entry.path)}\n".encode())
    return h.hexdigest()


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    fd = open_regular(path, MAX_HASHED_FILE_BYTES)
    if fd is None:  # a FIFO, a device, a link or too large: its name is all we hash
        return hashlib.sha256(b"not a regular file").hexdigest()
    with os.fdopen(fd, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def git_state(project: Path) -> tuple[str | None, bool | None]:
    """The checked-out commit, read from .git's own files: git is never run on a project
    (its config can run commands: core.fsmonitor, hooks). Whether the tree is dirty
    cannot be known without running git, so it is reported as unknown (None)."""
    git = project / ".git"
    head = read_text(git / "HEAD", 4096)
    if head is None:
        return None, None
    head = head.strip()
    if not head.startswith("ref: "):
        return (head if _is_sha(head) else None), None
    ref = head[5:].strip()
    if not ref.startswith("refs/") or ".." in ref.split("/"):
        return None, None
    loose = read_text(git / ref, 4096)
    if loose is not None and _is_sha(loose.strip()):
        return loose.strip(), None
    packed = read_text(git / "packed-refs", 4 << 20) or ""
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name.strip() == ref and _is_sha(sha):
            return sha, None
    return None, None


def _is_sha(text: str) -> bool:
    return len(text) in (40, 64) and all(c in "0123456789abcdef" for c in text)


def _read_json_any(path: Path, cap: int = 4 << 20) -> Any:
    text = read_text(path, cap)
    if text is None:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _read_json(path: Path, cap: int = 1 << 20) -> dict[str, Any] | None:
    text = read_text(path, cap)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


# The line a crash ends with: "ValueError: ...", "KeyError: 'x'", argparse's "error: ...".
ERROR_LINE = re.compile(
    r"^(?:[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit|Warning)\b.*|.*\berror: .+)$"
)
MAX_LOG_SCAN_BYTES = 64 << 10
MAX_ARTIFACT_BYTES = 50 << 20  # one file
MAX_RUN_ARTIFACTS_BYTES = 200 << 20  # one run's, all together
MAX_LISTED_FILES = 20


def error_line(log: str) -> str:
    """The last line that reads like the error a run died of, else ''."""
    for line in reversed(log.splitlines()):
        if ERROR_LINE.match(line.strip()):
            return line.strip()[:500]
    return ""


def _last_line(log: str) -> str:
    """A failed run's last words when no line reads like an error (sys.exit("...")...)."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


def log_tail(path: Path, size: int = MAX_LOG_SCAN_BYTES) -> str:
    """The last `size` bytes of a run's log, however long it grew."""
    fd = open_regular(path, 1 << 40)
    if fd is None:
        return ""
    with os.fdopen(fd, "rb") as f:
        f.seek(0, os.SEEK_END)
        f.seek(max(0, f.tell() - size))
        return f.read(size).decode("utf-8", "replace")


def files_written(run_dir: Path) -> list[str]:
    try:
        found = sorted(e.relative.as_posix() for e in walk_files(run_dir))
    except (UnreadableTree, OSError):
        return []
    return found[:MAX_LISTED_FILES]


MAX_CURVE_POINTS = 10_000


def read_curve(path: Path) -> dict[str, list[float]]:
    """run.curve: a JSON list of numbers, or an object of such lists (capped, finite)."""
    data = _read_json_any(path)
    named = {"value": data} if isinstance(data, list) else data if isinstance(data, dict) else {}
    curve = {}
    for name, values in list(named.items())[:20]:
        if isinstance(values, list):
            points = [
                float(v)
                for v in values[:MAX_CURVE_POINTS]
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            ]
            if points:
                curve[str(name)[:100]] = points
    return curve


def first_difference(a: dict[str, list[float]], b: dict[str, list[float]]) -> int | None:
    """The first step at which two runs' curves differ, None when they agree."""
    steps = [
        next((i for i, (x, y) in enumerate(zip(a[k], b[k], strict=False)) if x != y), None)
        for k in a
        if k in b
    ]
    found = [s for s in steps if s is not None]
    lengths_differ = any(len(a[k]) != len(b[k]) for k in a if k in b) or set(a) != set(b)
    if found:
        return min(found)
    return (
        min((min(len(a[k]), len(b[k])) for k in a if k in b), default=0) if lengths_differ else None
    )


def keep_artifacts(run_dir: Path, patterns: list[str], dest: Path | None) -> list[Artifact]:
    """The declared files a run left, hashed, and copied into dest within the caps
    (regular files only, read through the untrusted-tree walker)."""
    if not patterns:
        return []
    try:
        entries = [e for e in walk_files(run_dir) if any(e.relative.match(p) for p in patterns)]
    except (UnreadableTree, OSError):
        return []
    kept: list[Artifact] = []
    total = 0
    for entry in sorted(entries, key=lambda e: e.relative.as_posix())[:MAX_LISTED_FILES]:
        fd = open_regular(entry.path, MAX_ARTIFACT_BYTES)
        if fd is None:
            continue
        with os.fdopen(fd, "rb") as f:
            data = f.read(MAX_ARTIFACT_BYTES + 1)
        fits = len(data) <= MAX_ARTIFACT_BYTES and total + len(data) <= MAX_RUN_ARTIFACTS_BYTES
        if fits and dest is not None:
            target = dest / entry.relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            total += len(data)
        kept.append(
            Artifact(
                path=entry.relative.as_posix(),
                bytes=len(data),
                sha256=hashlib.sha256(data).hexdigest(),
                kept=fits and dest is not None,
            )
        )
    return kept


DOCKER_IMAGE_PACKAGES = {"numpy", "torch"}  # what deploy/sandbox.Dockerfile installs


def check_docker_packages(claims: ClaimsFile) -> None:
    """Docker runs the sandbox image's packages: refuse a project that needs others,
    rather than let every run fail on an import."""
    spec = claims.run
    if spec.environment is not None:  # built into a derived image before the runs
        return
    missing = sorted({p.lower() for p in spec.packages} - DOCKER_IMAGE_PACKAGES)
    if missing:
        raise ClaimsError(
            f"run.packages asks for {', '.join(missing)}, which the Docker sandbox image "
            "does not have (it has numpy and torch): pin them in run.environment, or run "
            "with --sandbox bwrap"
        )


def check_packages(claims: ClaimsFile, allowed: Sequence[str]) -> None:
    """run.packages must be on the host's list: a name there is mounted into the sandbox
    (dlgrader's own distribution would expose the grader)."""

    def key(name: str) -> str:
        return name.lower().replace("_", "-")

    refused = [p for p in claims.run.packages if key(p) not in {key(a) for a in allowed}]
    if refused:
        raise ClaimsError(
            f"run.packages: {', '.join(refused)} not allowed here; this server allows "
            f"{', '.join(allowed)} (DLGRADER_ALLOWED_PACKAGES)"
        )


class ReproduceJob:
    def __init__(
        self,
        project: Path,
        sandbox: Sandbox,
        runs: int | None = None,
        progress: Progress = lambda line: None,
        allowed_packages: Sequence[str] = DEFAULT_ALLOWED_PACKAGES,
        cache_dir: Path | None = None,
        unhooked: bool = False,
    ) -> None:
        self.project = project.resolve()
        self.unhooked = unhooked  # also run one seed without the seeding hooks, and compare
        self.prepared: Path | None = None  # what run.prepare left, copied into every run
        self.sandbox = sandbox
        self.claims = load_claims(self.project)
        if self.claims.run.gpu and sandbox.gpu is None:  # else the project takes the blame
            raise SandboxUnavailable(
                f"claims.yaml asks for a GPU (run.gpu: true) and the {sandbox.name} sandbox "
                "here has none: run it with --sandbox docker --gpu 0 on a GPU machine, "
                "submit it (--submit) to the service's GPU workers, or set run.gpu: false "
                "to run it on the CPU"
            )
        if self.claims.run.environment is None:  # its own environment replaces the host's
            check_packages(self.claims, allowed_packages)
        if sandbox.name == "docker":
            check_docker_packages(self.claims)
        self.cache_dir = cache_dir  # finished runs, reused by an identical rerun
        self.site: Path | None = None
        self.image: str | None = None  # Docker: the image derived with the project's pins
        self.code_sha = self.runs_code_sha = ""
        # The project's to declare; else the job slot's CPUs (Docker's quota, else the host's).
        slot = getattr(sandbox, "cpus", None) or os.cpu_count() or 1
        self.threads = self.claims.run.threads or max(1, int(slot))
        seeds = self.claims.run.seeds
        self.seeds = seeds[: max(3, runs)] if runs else seeds
        if runs and runs > len(seeds):
            self.seeds = [*seeds, *range(max(seeds) + 1, max(seeds) + 1 + runs - len(seeds))]
        self.progress = progress
        self.fingerprint: dict[str, Any] = {}

    def image_digest(self) -> str | None:
        """The sandbox image's id, when runs happen in Docker."""
        image = getattr(self.sandbox, "image", None)
        if self.sandbox.name != "docker" or image is None:
            return None
        try:
            import docker

            return str(docker.from_env().images.get(image).id)
        except Exception:
            return None

    def run_key(self, command: str, seed: int, variant: str) -> str:
        """What makes a run the same run: code, data, environment, command, seed, limits."""
        spec = self.claims.run
        env = spec.environment
        identity = {
            "code": self.runs_code_sha,
            "data": [d.sha256 for d in self.claims.data],
            "environment": environment_key(env, host_python()) if env else spec.packages,
            "command": command,
            "args": spec.variants[variant],
            "seed": seed,
            "threads": self.threads,
            "metrics_file": spec.metrics_file,
            "time_limit_s": spec.time_limit_s,
            "sandbox": self.sandbox.name,
            "prepare": spec.prepare,
            "curve": spec.curve,
        }
        return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()

    def run_once(
        self,
        command: str,
        seed: int,
        variant: str,
        label: str,
        reuse: bool = True,
        hooks: bool = True,
        keep_out: Path | None = None,
    ) -> RunRecord:
        key = self.run_key(command, seed, variant)
        cached = self.cache_dir / f"{key}.json" if self.cache_dir and reuse else None
        if cached is not None and (text := read_text(cached, 1 << 20)) is not None:
            try:
                return RunRecord.model_validate_json(text).model_copy(update={"cached": True})
            except ValidationError:
                pass
        record = self._run(command, seed, variant, label, key, hooks, keep_out)
        if cached is not None and record.exit_code is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            cached.write_text(record.model_dump_json())
        return record

    def _run(
        self,
        command: str,
        seed: int,
        variant: str,
        label: str,
        key: str,
        hooks: bool = True,
        keep_out: Path | None = None,
    ) -> RunRecord:
        spec = self.claims.run
        root = Path(tempfile.mkdtemp(prefix="dlgrader-repro-", dir=scratch_dir()))
        try:
            job = JobDirs.create(
                root,
                label,
                entry="repro_runner.py",
                packages=tuple(spec.packages) if self.site is None else (),
                site=self.site,
                image=self.image,
            )
            copy_tree(self.project, job.submission, skip=frozenset({".git", "__pycache__"}))
            if self.prepared is not None:
                (job.submission / "prepared").mkdir(exist_ok=True)
                copy_tree(self.prepared, job.submission / "prepared")
            formatted = command.replace("{seed}", str(seed)).replace(
                "{args}", spec.variants[variant]
            )
            job.manifest.write_text(
                json.dumps(
                    {
                        "command": formatted,
                        "seed": seed,
                        "metrics_file": spec.metrics_file,
                        "time_limit_s": spec.time_limit_s,
                        "threads": self.threads,
                        "hooks": hooks,
                        "fingerprint": not self.fingerprint,
                    }
                )
            )
            limits = SandboxLimits(
                wall_s=spec.time_limit_s + 30,
                cpu_s=int(spec.time_limit_s * 4 * self.threads) + 60,
                memory_bytes=8 << 30,
                limit_address_space=not spec.gpu,
                max_processes=256,
                open_files=1024,
                out_dir_bytes=1 << 30,
            )
            run = self.sandbox.run(job, limits)
            record = _read_json(job.out / "run.json") or {}
            if not self.fingerprint:
                self.fingerprint = _read_json(job.out / "fingerprint.json") or {}
                self.fingerprint["threads"] = self.threads
            log = log_tail(job.out / "log.txt") or (run.stdout + run.stderr)
            raw = record.get("metrics", {}) if isinstance(record.get("metrics"), dict) else {}
            metrics = {
                str(k): float(v)
                for k, v in raw.items()
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            }
            not_finite = sorted(
                str(k) for k, v in raw.items() if isinstance(v, float) and not math.isfinite(v)
            )
            code = record.get("exit_code") if record else None
            timed_out = bool(record.get("timed_out")) or run.timed_out
            wrote = files_written(job.out / "run")
            keep = self.cache_dir / "artifacts" / key if self.cache_dir else None
            artifacts = keep_artifacts(job.out / "run", spec.artifacts, keep)
            if keep_out is not None:
                keep_out.mkdir(parents=True, exist_ok=True)
                copy_tree(job.out / "run", keep_out)
            curve = read_curve(job.out / "run" / spec.curve) if spec.curve else {}
            found = error_line(log) or _last_line(log) if (timed_out or code != 0) else ""
            if timed_out:
                failure = f"timed out after {spec.time_limit_s:g} s"
            elif code is None:
                failure = "the run never finished (the sandbox ended it)"
            elif code != 0:
                failure = f"exit code {code}" + (f": {found}" if found else "")
            elif not_finite:
                failure = f"{', '.join(not_finite)} is not a finite number (NaN or inf)"
            elif not metrics:
                path = spec.metrics_file.replace("{out}/", "")
                failure = f"no metrics in {path}: " + (
                    f"the run wrote {', '.join(wrote)}" if wrote else "the run wrote no files"
                )
            else:
                failure = ""
            return RunRecord(
                variant=variant,
                seed=seed,
                exit_code=code,
                wall_s=float(record.get("wall_s", run.wall_s)),
                peak_memory_mb=record.get("peak_memory_mb"),
                metrics=metrics,
                timed_out=timed_out,
                log_tail=log[-3000:],
                nondeterministic_ops=list(record.get("nondeterministic_ops", []))[:50],
                failure=failure,
                error_line=found,
                wrote=wrote,
                artifacts=artifacts,
                curve=curve,
            )
        finally:
            remove_tree(root)

    def determinism(self) -> Determinism:
        """Two seeds, each run twice (the smoke command when there is one): the worst
        difference between the twins decides."""
        spec = self.claims.run
        command = spec.smoke or spec.cmd
        variant = "default" if "default" in spec.variants else next(iter(spec.variants))
        seeds = self.seeds[:2]
        shown = command.replace("{args}", spec.variants[variant]).strip()
        base = dict(command=shown, variant=variant, seeds=seeds)
        worst, where = 0.0, ""
        diverged: list[int] = []
        twins: list[RunRecord] = []
        for seed in seeds:
            first, second = (
                self.run_once(command, seed, variant, f"determinism-{seed}-{i}", reuse=False)
                for i in (1, 2)
            )
            twins.append(first)
            if first.curve and second.curve:
                step = first_difference(first.curve, second.curve)
                if step is not None:
                    diverged.append(step)
            for run in (first, second):
                if not run.ok:
                    return Determinism(
                        result=DeterminismClass.failed,
                        reason=f"seed {seed}: {run.failure}",
                        **base,
                    )
            if set(first.metrics) != set(second.metrics):
                return Determinism(
                    result=DeterminismClass.failed,
                    reason=f"seed {seed}: the twins wrote different metrics",
                    **base,
                )
            for key, a in first.metrics.items():
                b = second.metrics[key]
                if a != b:
                    difference = abs(a - b) / max(abs(a), abs(b), 1e-12)
                    if difference > worst:
                        worst, where = difference, f"{key} (seed {seed}: {a:.6g} vs {b:.6g})"
        if worst == 0.0 and not diverged:
            kind = DeterminismClass.bitwise
        elif worst <= 1e-6:
            kind = DeterminismClass.numeric
        else:
            kind = DeterminismClass.divergent
        return Determinism(
            result=kind,
            max_relative_difference=worst,
            metric=where,
            first_divergent_step=min(diverged) if diverged else None,
            unhooked=self._unhooked(command, seeds[0], variant, twins[0]) if self.unhooked else "",
            **base,
        )

    def _unhooked(self, command: str, seed: int, variant: str, hooked: RunRecord) -> str:
        """The same seed without the seeding hooks: does the result depend on them?"""
        bare = self.run_once(command, seed, variant, f"unhooked-{seed}", reuse=False, hooks=False)
        if not bare.ok:
            return f"without the seeding hooks seed {seed} failed: {bare.failure}"
        differ = {
            k: (hooked.metrics[k], v)
            for k, v in bare.metrics.items()
            if k in hooked.metrics and hooked.metrics[k] != v
        }
        if not differ:
            return (
                f"without the seeding hooks seed {seed} gives the same metrics: the project "
                "seeds itself"
            )
        name, (a, b) = next(iter(differ.items()))
        return (
            f"without the seeding hooks seed {seed} gives other results ({name} {b:.6g} "
            f"instead of {a:.6g}): the project relies on the seeding dlgrader does"
        )

    def execute(self) -> ReproduceReport:
        try:
            return self._execute()
        finally:
            if self.prepared is not None:
                remove_tree(self.prepared)

    def _execute(self) -> ReproduceReport:
        started = datetime.now(UTC)
        spec = self.claims.run
        commit, dirty = git_state(self.project)
        self.code_sha = sha256_path(self.project)
        # What the runs execute: the project without claims.yaml (editing a claim, its
        # tolerance or a variant's name reruns nothing that did not change).
        self.runs_code_sha = sha256_path(self.project, skip=frozenset({CLAIMS_FILE}))
        base: dict[str, Any] = dict(
            title=self.claims.title or self.project.name,
            paper=self.claims.paper,
            started_at=started,
            code_sha256=self.code_sha,
            git_commit=commit,
            git_dirty=dirty,
            sandbox=self.sandbox.name,
            rules=RULES,
            image_digest=self.image_digest(),
        )
        found = {}
        for data in self.claims.data:
            path = (self.project / data.path).resolve()
            if not path.is_relative_to(self.project) or not path.exists():
                return ReproduceReport(
                    **base,
                    finished_at=datetime.now(UTC),
                    verdict="input_mismatch",
                    message=f"data {data.path} is missing from the project",
                )
            found[data.path] = sha256_path(path)
            if found[data.path] != data.sha256:
                return ReproduceReport(
                    **base,
                    data=found,
                    finished_at=datetime.now(UTC),
                    verdict="input_mismatch",
                    message=f"data {data.path} has sha256 {found[data.path]}, "
                    f"not {data.sha256} as claims.yaml says",
                )
        if spec.environment is not None:
            self.progress(f"environment: {', '.join(spec.environment.requirements)}")
            try:
                pinned = with_requirements_file(spec.environment, self.project)
                if self.sandbox.name == "docker":  # the sandbox image with the pins over it
                    base_image = str(getattr(self.sandbox, "image", ""))
                    self.image = image_tag(pinned, base_image)
                    if not image_exists(self.image):
                        self.progress(f"building {self.image}")
                        build_image(pinned, base_image)
                else:
                    self.site = build_site(pinned).site
            except (EnvironmentFailed, RuntimeError) as exc:
                return ReproduceReport(
                    **base,
                    data=found,
                    finished_at=datetime.now(UTC),
                    verdict="environment_failed",
                    message=f"run.environment cannot be built: {exc}",
                )
        if spec.prepare is not None:
            self.progress(f"prepare: {spec.prepare}")
            holder = Path(tempfile.mkdtemp(prefix="dlgrader-prepared-", dir=scratch_dir()))
            variant = "default" if "default" in spec.variants else next(iter(spec.variants))
            done = self.run_once(
                spec.prepare, self.seeds[0], variant, "prepare", reuse=False, keep_out=holder
            )
            if done.exit_code != 0 or done.timed_out:
                return ReproduceReport(
                    **base,
                    data=found,
                    finished_at=datetime.now(UTC),
                    verdict="prepare_failed",
                    message=f"run.prepare failed: {done.failure or f'exit code {done.exit_code}'}",
                )
            self.prepared = holder
        self.progress(f"determinism check: seeds {', '.join(map(str, self.seeds[:2]))}, each twice")
        determinism = self.determinism()
        self.progress(
            f"determinism: {determinism.result.value}"
            + (f" ({determinism.metric})" if determinism.metric else "")
            + (f": {determinism.reason}" if determinism.reason else "")
        )
        variants = sorted({v for c in self.claims.claims for v in c.variants})
        runs: list[RunRecord] = []
        total = len(variants) * len(self.seeds)
        for variant in variants:
            for seed in self.seeds:
                self.progress(f"run {len(runs) + 1}/{total}: {variant}, seed {seed}")
                record = self.run_once(spec.cmd, seed, variant, f"{variant}-{seed}")
                runs.append(record)
                state = "ok" if record.ok else f"failed: {record.failure}"
                reused = " (reused)" if record.cached else ""
                self.progress(f"  {state} in {record.wall_s:.1f} s{reused}")
                mine = [r for r in runs if r.variant == variant]
                if (
                    len(mine) == 2
                    and not any(r.ok for r in mine)
                    and (mine[0].failure == mine[1].failure and mine[0].exit_code)
                ):  # the command itself is wrong: the other seeds would only repeat it
                    self.progress(f"  {variant}: two runs failed the same way; the rest skipped")
                    break
        aggregates = []
        for variant in variants:
            ok = [r for r in runs if r.variant == variant and r.ok]
            for metric in sorted({m for r in ok for m in r.metrics}):
                values = [r.metrics[metric] for r in ok if metric in r.metrics]
                if values:
                    mean, std, ci, cv = summary(values)
                    aggregates.append(
                        Aggregate(
                            variant=variant,
                            metric=metric,
                            n=len(values),
                            mean=mean,
                            std=std,
                            ci95=ci,
                            cv=cv,
                        )
                    )
        return ReproduceReport(
            **base,
            data=found,
            finished_at=datetime.now(UTC),
            fingerprint=self.fingerprint,
            determinism=determinism,
            runs=runs,
            aggregates=aggregates,
            claims=[self.judge(c, runs) for c in self.claims.claims],
        )

    def judge(self, claim: Any, runs: list[RunRecord]) -> ClaimResult:
        return self._judge(claim, runs).model_copy(update={"variants": claim.variants})

    def _judge(self, claim: Any, runs: list[RunRecord]) -> ClaimResult:
        mine = [r for r in runs if r.variant in claim.variants]
        failed = [r for r in mine if not r.ok]
        ran = [r for r in mine if r.ok]
        missing = [r for r in ran if claim.metric not in r.metrics]

        def failed_to_run(reason: str) -> ClaimResult:
            return ClaimResult(
                id=claim.id,
                type=claim.type,
                metric=claim.metric,
                verdict=ClaimVerdict.failed_to_run,
                reason=reason,
            )

        if ran and len(missing) == len(ran):  # every run wrote metrics, none this one
            names = sorted({m for r in ran for m in r.metrics})
            return failed_to_run(f"no run wrote {claim.metric}; they wrote {', '.join(names)}")
        if not ran:
            worst = failed[0] if failed else None
            said = f"{worst.variant} seed {worst.seed}: {worst.failure}" if worst else "none ran"
            return failed_to_run(f"no run succeeded ({len(failed)} failed); {said}")

        def values(variant: str) -> dict[int, float]:
            return {
                r.seed: r.metrics[claim.metric]
                for r in ran
                if r.variant == variant and claim.metric in r.metrics
            }

        if isinstance(claim, ComparisonClaim):
            result = judge_comparison(claim, values(claim.a), values(claim.b))
        elif isinstance(claim, AbsoluteClaim):
            result = judge_absolute(claim, list(values(claim.variant).values()))
        else:
            result = judge_threshold(claim, list(values(claim.variant).values()))
        if not isinstance(claim, ComparisonClaim):
            same = list(values(claim.variant).values())
            if len(same) > 1 and len(set(same)) == 1:
                result = result.model_copy(
                    update={
                        "reason": f"{result.reason}; every seed gave exactly {same[0]:.6g}: "
                        "the seed may not reach the code (a seed fixed inside it?), so this "
                        f"may be one run counted {len(same)} times"
                    }
                )
        if failed:
            listed = "; ".join(f"{r.variant} seed {r.seed}: {r.failure}" for r in failed[:5])
            result = result.model_copy(
                update={
                    "reason": f"{result.reason} (judged on {len(ran)} runs; "
                    f"{len(failed)} failed: {listed})"
                }
            )
        return result
