"""Course folders: how staff author assignments without touching dlgrader.

    course.yaml                      name, title, term, staff
    assignments/<name>/
        assignment.yaml              the spec (grader/grading/specs.py)
        solution/                    the staff solution: the truth where a problem names
                                     no reference; trusted, never shown to students
        starter/                     what `dlgrader init` hands out (else drawn from the spec)
        support/                     given code (im2col, fast layers) staged beside every
                                     submission, so students' imports of it resolve
        environment.yaml             the runtime: pinned requirements (NumPy 1.26, ...)
        correct/  bugs.yaml          the evidence `dlgrader assignment check` grades

The shipped assignments are the built-in course (`grader/grading/course/`), loaded the
same way; a course named by `--course DIR` or `DLGRADER_COURSE_DIR` adds its own, and so
do assignment folders staff push to the service (`dlgrader admin assignment push`),
kept content-addressed in the data folder: `assignments/<name>/<sha256>/<name>/`, with
`assignments/<name>/current` naming the version graded now. Old versions stay.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from functools import cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.grading.environments import EnvironmentFailed, with_requirements_file
from grader.grading.specs import (
    Assignment,
    AssignmentFiles,
    SpecError,
    load_assignment_file,
)
from submissions_schema.environment import Environment

BUILTIN_COURSE = Path(__file__).resolve().parent / "course"
COURSE_FILE = "course.yaml"
SPEC_FILE = "assignment.yaml"
ENVIRONMENT_FILE = "environment.yaml"


class CourseInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")
    title: str = ""
    term: str = ""
    staff: list[str] = Field(default_factory=list)


class Course(BaseModel):
    info: CourseInfo
    folder: Path
    assignments: dict[str, Assignment]


def _tree_digest(folders: list[Path]) -> str | None:
    """A content hash of the files under `folders` (names and bytes), None when empty."""
    digest = hashlib.sha256()
    found = False
    for folder in folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            found = True
            digest.update(f"{folder.name}/{path.relative_to(folder)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest() if found else None


def load_course_assignment(folder: Path) -> Assignment:
    spec = load_assignment_file(folder / SPEC_FILE)
    if spec.name != folder.name:
        raise SpecError(
            f"{folder / SPEC_FILE}: name {spec.name!r} is not its folder's {folder.name!r}"
        )
    files = AssignmentFiles(folder=folder.resolve())
    solution = _tree_digest([files.solution_dir, files.support_dir])
    if files.solution_dir.is_dir() and not (files.solution_dir / f"{spec.module}.py").is_file():
        raise SpecError(f"{files.solution_dir}: no {spec.module}.py (the spec's module)")
    unreferenced = [p.name for p in spec.problems if p.reference is None]
    if unreferenced and not files.solution_dir.is_dir():
        raise SpecError(
            f"{folder}: problems {', '.join(unreferenced)} name no reference, and there is no"
            " solution/ to be the truth"
        )
    update: dict[str, object] = {"files": files, "solution_sha256": solution}
    if (folder / ENVIRONMENT_FILE).is_file():
        path = folder / ENVIRONMENT_FILE
        try:
            env = Environment.model_validate(yaml.safe_load(path.read_text()))
            update["environment"] = with_requirements_file(env, folder)
        except (yaml.YAMLError, ValidationError, EnvironmentFailed) as exc:
            raise SpecError(f"{path}: {' '.join(str(exc).split())}") from None
    return spec.model_copy(update=update)


def load_course(folder: Path) -> Course:
    """A course folder, validated: every assignment loads, names are unique."""
    if not (folder / COURSE_FILE).is_file():
        raise SpecError(f"{folder}: no {COURSE_FILE}; a course folder starts with one")
    try:
        info = CourseInfo.model_validate(yaml.safe_load((folder / COURSE_FILE).read_text()))
    except (yaml.YAMLError, ValidationError) as exc:
        raise SpecError(f"{folder / COURSE_FILE}: {exc}") from None
    assignments = {}
    for spec_file in sorted((folder / "assignments").glob(f"*/{SPEC_FILE}")):
        a = load_course_assignment(spec_file.parent)
        assignments[a.name] = a
    return Course(info=info, folder=folder.resolve(), assignments=assignments)


@cache
def _loaded(folder: Path) -> Course:
    return load_course(folder)


def builtin_course() -> Course:
    return _loaded(BUILTIN_COURSE)


def _configured() -> Path | None:
    from grader.settings import get_settings

    return get_settings().course_dir


def _data_dir() -> Path:
    from grader.settings import get_settings

    return get_settings().data_dir


def pushed_dir(data_dir: Path) -> Path:
    return data_dir / "assignments"


def folder_digest(folder: Path) -> str:
    """The content hash of an assignment folder: every file's path and bytes."""
    digest = _tree_digest([folder])
    if digest is None:
        raise SpecError(f"{folder}: an empty folder")
    return digest


@cache
def _pushed_version(folder: Path) -> Assignment:
    return load_course_assignment(folder)


def pushed_assignments(data_dir: Path) -> dict[str, Assignment]:
    """The current version of every assignment pushed to this data folder."""
    found = {}
    root = pushed_dir(data_dir)
    if root.is_dir():
        for current in sorted(root.glob("*/current")):
            version = current.parent / current.read_text().strip() / current.parent.name
            if version.is_dir():
                a = _pushed_version(version)
                found[a.name] = a
    return found


def store_pushed(folder: Path, data_dir: Path) -> tuple[Assignment, str, Assignment | None]:
    """Validate an assignment folder and make it the current version of its name:
    (the new version, its content hash, the version it replaces, if any)."""
    spec = load_course_assignment(folder)
    if spec.name in builtin_course().assignments:
        raise SpecError(f"{spec.name} is a built-in assignment's name")
    configured = _configured()
    if configured is not None and spec.name in _loaded(Path(configured).resolve()).assignments:
        raise SpecError(f"{spec.name} comes from the course folder {configured}")
    sha = folder_digest(folder)
    home = pushed_dir(data_dir) / spec.name
    home.mkdir(parents=True, exist_ok=True)
    previous = pushed_assignments(data_dir).get(spec.name)
    target = home / sha / spec.name  # the folder keeps its name: it is the assignment's
    if not target.is_dir():
        staging = Path(tempfile.mkdtemp(prefix=f".{sha}-", dir=home))
        shutil.copytree(folder, staging / spec.name)
        os.replace(staging, home / sha)
    pointer = home / ".current.tmp"
    pointer.write_text(sha + "\n")
    os.replace(pointer, home / "current")
    return _pushed_version(target), sha, previous


def known_assignments(
    course_dir: Path | None = None, data_dir: Path | None = None
) -> dict[str, Assignment]:
    """The built-in assignments, the configured course's and those pushed to the
    service (none may reuse another's name: one name, one assignment)."""
    found = dict(builtin_course().assignments)
    folder = course_dir or _configured()
    if folder is not None:
        course = _loaded(Path(folder).resolve())
        clash = set(found) & set(course.assignments)
        if clash:
            names = ", ".join(sorted(clash))
            raise SpecError(f"{folder}: {names} is a built-in assignment's name")
        found.update(course.assignments)
    for name, pushed in pushed_assignments(data_dir or _data_dir()).items():
        found.setdefault(name, pushed)
    return found


def get_assignment(
    name: str, course_dir: Path | None = None, data_dir: Path | None = None
) -> Assignment:
    assignments = known_assignments(course_dir, data_dir)
    if name not in assignments:
        where = (
            ""
            if (course_dir or _configured())
            else (" (a course's own: --course DIR or DLGRADER_COURSE_DIR)")
        )
        raise KeyError(f"no assignment {name!r}; known: {', '.join(sorted(assignments))}{where}")
    return assignments[name]
