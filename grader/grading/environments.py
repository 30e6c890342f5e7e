"""Per-assignment environments: a course's pinned requirements, built once and cached.

An assignment with an `environment.yaml` runs its students' code and its staff solution
with those packages instead of the host's. For bubblewrap and the process sandbox the
requirements are installed with uv into a folder (`<data_dir>/envs/<key>/site`) that the
sandbox mounts in place of the host's packages; for Docker they are installed into an
image derived from the sandbox image (`dlgrader-sandbox:env-<key>`). The key hashes the
requirements, their sources and the interpreter that will import them, so a changed pin
is a new environment and an old version stays reproducible.

    dlgrader env build NAME [--docker]    dlgrader env list    dlgrader env prune
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.grading.specs import Assignment
from grader.sandbox import JobDirs, Sandbox
from submissions_schema.environment import Environment

BUILD_TIMEOUT_S = 900
READY = "environment.json"  # written last: a folder without it is an unfinished build


class EnvironmentFailed(RuntimeError):
    """An environment that cannot be built or used here; the message says why and what to do."""


MAX_REQUIREMENTS_BYTES = 256 << 10


def with_requirements_file(env: Environment, base: Path) -> Environment:
    """The environment with its requirements_file (a lock file a project or course ships,
    relative to `base`) read into its pins: one `name==version` per line; comments,
    hashes and options left out."""
    if env.requirements_file is None:
        return env
    from grader.untrusted_fs import read_text

    path = (base / env.requirements_file).resolve()
    text = read_text(path, MAX_REQUIREMENTS_BYTES) if path.is_relative_to(base.resolve()) else None
    if text is None:
        raise EnvironmentFailed(
            f"requirements_file {env.requirements_file} is not a readable text file of at most "
            f"{MAX_REQUIREMENTS_BYTES >> 10} KB inside {base.name}"
        )
    pins = []
    for line in text.replace("\\\n", " ").splitlines():
        line = line.split("#", 1)[0].split(" --hash", 1)[0].split(";", 1)[0].strip()
        if line and not line.startswith("-"):
            pins.append(line)
    return env.model_copy(
        update={"requirements": [*pins, *env.requirements], "requirements_file": None}
    )


def host_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def environment_key(env: Environment, python: str) -> str:
    """What the environment is: its requirements and sources, for this interpreter."""
    identity = {**env.model_dump(mode="json"), "interpreter": python, "machine": platform.machine()}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def environments_dir() -> Path:
    from grader.settings import get_settings

    return get_settings().data_dir / "envs"


@dataclass(frozen=True)
class BuiltEnvironment:
    key: str
    path: Path  # <data_dir>/envs/<key>
    requirements: list[str]
    installed: list[str]  # what uv installed: name==version

    @property
    def site(self) -> Path:
        return self.path / "site"


def _read_ready(path: Path) -> BuiltEnvironment | None:
    try:
        data = json.loads((path / READY).read_text())
        return BuiltEnvironment(path.name, path, data["requirements"], data["installed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One build of an environment at a time, across processes (workers on one host)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _uv() -> str:
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise EnvironmentFailed("uv is not installed: pip install uv") from None
        return found


def _install_args(env: Environment) -> list[str]:
    args = [a for link in env.find_links for a in ("--find-links", link)]
    return [*args, "--no-index"] if env.no_index else args


def build_site(env: Environment) -> BuiltEnvironment:
    """The environment's packages folder for this host's interpreter, built when missing."""
    if env.python and env.python != host_python():
        raise EnvironmentFailed(
            f"the environment asks for Python {env.python}; bubblewrap runs this host's "
            f"Python {host_python()}: run the grader on that Python, or use Docker "
            "(dlgrader env build NAME --docker) with an image of it"
        )
    key = environment_key(env, host_python())
    target = environments_dir() / key
    built = _read_ready(target)
    if built is not None:
        return built
    with _locked(environments_dir() / f".{key}.lock"):
        built = _read_ready(target)
        if built is not None:
            return built
        work = Path(tempfile.mkdtemp(prefix=f".{key}-", dir=environments_dir()))
        try:
            site = work / "site"
            command = [
                _uv(),
                "pip",
                "install",
                "--python",
                sys.executable,
                "--target",
                str(site),
                "--quiet",
                *_install_args(env),
                *env.requirements,
            ]
            try:
                proc = subprocess.run(
                    command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S
                )
            except subprocess.TimeoutExpired:
                raise EnvironmentFailed(
                    f"installing {', '.join(env.requirements)} took over {BUILD_TIMEOUT_S} s"
                ) from None
            if proc.returncode != 0:
                said = (proc.stderr or proc.stdout).strip().splitlines()[-6:]
                raise EnvironmentFailed(
                    f"cannot install {', '.join(env.requirements)}: " + " / ".join(said)
                )
            installed = sorted(
                d.name.removesuffix(".dist-info").replace("-", "==", 1)
                for d in site.glob("*.dist-info")
            )
            for path in [site, *site.rglob("*")]:  # the sandbox user reads, never writes
                path.chmod(0o755 if path.is_dir() else 0o644)
            (work / READY).write_text(
                json.dumps({"requirements": env.requirements, "installed": installed})
            )
            work.chmod(0o755)
            os.replace(work, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    built = _read_ready(target)
    assert built is not None
    return built


def image_tag(env: Environment, base: str) -> str:
    """The derived image's tag: a new one when the pins, the base or its harness change."""
    from grader.sandbox.image import harness_digest

    return f"dlgrader-sandbox:env-{environment_key(env, f'image:{base}:{harness_digest()}')}"


def build_image(env: Environment, base: str) -> str:
    """An image derived from the sandbox image with the environment's requirements."""
    from grader.sandbox.image import build_derived_image

    tag = image_tag(env, base)
    build_derived_image(base, tag, env.requirements, env.find_links, env.no_index)
    return tag


def job_dirs(root: Path, label: str, assignment: Assignment, box: Sandbox) -> JobDirs:
    """A job's folders, with the assignment's environment where it has one."""
    env = assignment.environment
    packages = tuple(assignment.packages)
    if env is None:
        return JobDirs.create(root, label, packages=packages)
    if box.name == "docker":
        base = getattr(box, "image", "")
        tag = image_tag(env, base)
        from grader.sandbox.image import image_exists

        if not image_exists(tag):
            raise EnvironmentFailed(
                f"{assignment.name} has its own environment and Docker has no image of it: "
                f"run dlgrader env build {assignment.name} --docker"
            )
        return JobDirs.create(root, label, packages=packages, image=tag)
    return JobDirs.create(root, label, packages=packages, site=build_site(env).site)


def built_environments() -> list[BuiltEnvironment]:
    found = []
    if environments_dir().is_dir():
        for path in sorted(environments_dir().iterdir()):
            if not path.name.startswith(".") and (built := _read_ready(path)) is not None:
                found.append(built)
    return found


def prune(keep: set[str]) -> list[str]:
    """Remove the built environments whose keys are not in `keep`; their keys."""
    removed = []
    for built in built_environments():
        if built.key not in keep:
            shutil.rmtree(built.path)
            removed.append(built.key)
    return removed
