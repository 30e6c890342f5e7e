"""Assignment folders staff push to the service: validated, stored content-addressed,
graded from the next submission on, with a regrade offered when grading changed."""

from __future__ import annotations

import fcntl
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from grader.grading.course import SPEC_FILE, pushed_dir, store_pushed
from grader.grading.specs import Assignment, SpecError
from grader.service.db import SubmissionRow, session_scope
from grader.service.submissions import ServiceError
from grader.service.uploads import UploadRejected, extract_zip
from grader.settings import Settings
from submissions_schema import AssignmentPushed, JobKind


def _changes(before: Assignment | None, after: Assignment) -> list[str]:
    """What grading would do differently: the cases (the spec), the truth, the runtime."""
    if before is None:
        return []
    skip = {"solution_sha256", "environment", "version"}
    changed = []
    if before.model_dump(exclude=skip) != after.model_dump(exclude=skip):
        changed.append("cases")
    if before.solution_sha256 != after.solution_sha256:
        changed.append("solution")
    if before.environment != after.environment:
        changed.append("environment")
    return changed


def push_assignment(settings: Settings, url: str, data: bytes) -> AssignmentPushed:
    """A zip of one assignment folder (assignment.yaml at its root or one folder down)."""
    if not data:
        raise ServiceError(422, "empty_upload", "the upload is empty")
    if len(data) > settings.max_assignment_bytes:
        limit = settings.max_assignment_bytes >> 20
        raise ServiceError(413, "upload_too_large", f"an assignment folder may be {limit} MB")
    root = pushed_dir(settings.data_dir)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=".push-") as tmp:
        try:
            folder = extract_zip(data, Path(tmp) / "unpacked", marker=SPEC_FILE)
        except UploadRejected as exc:
            raise ServiceError(422, exc.code, str(exc)) from None
        if not (folder / SPEC_FILE).is_file():
            raise ServiceError(422, "invalid_assignment", f"the zip holds no {SPEC_FILE}")
        try:
            name = _spec_name(folder)
            named = Path(tmp) / "named" / name  # the folder carries the assignment's name
            named.parent.mkdir()
            folder.rename(named)
            with open(root / ".push.lock", "w") as lock:  # one push at a time
                fcntl.flock(lock, fcntl.LOCK_EX)
                spec, sha, previous = store_pushed(named, settings.data_dir)
        except SpecError as exc:
            raise ServiceError(422, "invalid_assignment", " ".join(str(exc).split())) from None
    changed = _changes(previous, spec)
    with session_scope(url) as session:
        graded = session.scalar(
            select(func.count(SubmissionRow.id)).where(
                SubmissionRow.assignment == spec.name,
                SubmissionRow.kind == JobKind.homework.value,
            )
        )
    return AssignmentPushed(
        name=spec.name,
        version=spec.version,
        sha256=sha,
        previous_version=previous.version if previous else None,
        previous_sha256=_sha_of(previous),
        changed=changed,
        submissions=graded or 0,
        regrade=f"/api/v1/admin/assignments/{spec.name}/regrade" if changed and graded else None,
    )


def _spec_name(folder: Path) -> str:
    from grader.grading.specs import load_assignment_file

    return load_assignment_file(folder / SPEC_FILE).name


def _sha_of(spec: Assignment | None) -> str | None:
    """A stored version's content hash: the name of the folder it lives in."""
    if spec is None or spec.files is None:
        return None
    return spec.files.folder.parent.name
