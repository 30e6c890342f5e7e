"""Per-student extensions: one student's own due date and limits on one assignment.

The policy functions in `submissions.py` honour them (lateness, limits, when hidden
details show). Granting or revoking one re-judges that student's submissions of the
assignment against their new due date, so a late penalty taken before an extension was
granted is given back, and the database stays the one truth every reader sees.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.grading.specs import Assignment
from grader.service import lifecycle
from grader.service.db import ExtensionRow, SubmissionRow, UserRow, utcnow
from grader.service.lifecycle import as_utc
from grader.service.submissions import (
    ServiceError,
    effective_policy,
    extension_for,
    late_penalty,
    penalized,
)
from submissions_schema import (
    Extension,
    ExtensionGrant,
    GradingResult,
    JobKind,
    SubmissionStatus,
)


def to_model(row: ExtensionRow) -> Extension:
    return Extension(
        user=row.user.name,
        assignment=row.assignment,
        due_at=as_utc(row.due_at) if row.due_at is not None else None,
        late_days=row.late_days,
        max_total=row.max_total,
        max_per_day=row.max_per_day,
        reason=row.reason,
        granted_by=row.granted_by,
        created_at=as_utc(row.created_at),
    )


def _user(session: Session, name: str) -> UserRow:
    # Never created here: a misspelt name must not add a student to the gradebook.
    user = session.scalar(select(UserRow).where(UserRow.name == name))
    if user is None:
        raise ServiceError(404, "unknown_user", f"no user {name!r}")
    return user


def _row(session: Session, assignment: str, user: str) -> ExtensionRow:
    row = extension_for(session, _user(session, user).id, assignment)
    if row is None:
        raise ServiceError(404, "no_extension", f"{user} has no extension on {assignment}")
    return row


def grant(
    session: Session, assignment: Assignment, user: str, asked: ExtensionGrant, granted_by: str
) -> Extension:
    """Give `user` their own due date and caps on `assignment` (replacing any earlier
    extension), then re-judge their submissions."""
    student = _user(session, user)
    row = extension_for(session, student.id, assignment.name)
    if row is None:
        row = ExtensionRow(user_id=student.id, assignment=assignment.name)
        session.add(row)
    row.due_at = asked.due_at
    row.late_days = asked.late_days
    row.max_total = asked.max_total
    row.max_per_day = asked.max_per_day
    row.reason = asked.reason
    row.granted_by = granted_by
    row.created_at = utcnow()
    session.flush()
    rejudge(session, student.id, assignment, row, f"extension granted by {granted_by}")
    session.refresh(row)
    return to_model(row)


def revoke(session: Session, assignment: Assignment, user: str, revoked_by: str) -> Extension:
    """Take an extension back: the assignment's own policy applies to the student again,
    to what they submitted under the extension too."""
    row = _row(session, assignment.name, user)
    revoked = to_model(row)
    session.delete(row)
    session.flush()
    rejudge(session, row.user_id, assignment, None, f"extension revoked by {revoked_by}")
    return revoked


def get(session: Session, assignment: str, user: str) -> Extension:
    return to_model(_row(session, assignment, user))


def for_assignment(session: Session, assignment: str) -> list[Extension]:
    rows = session.scalars(
        select(ExtensionRow)
        .join(ExtensionRow.user)
        .where(ExtensionRow.assignment == assignment)
        .order_by(UserRow.name)
    )
    return [to_model(r) for r in rows]


def rejudge(
    session: Session,
    user_id: int,
    assignment: Assignment,
    extension: ExtensionRow | None,
    why: str,
) -> int:
    """Late flag, penalty and score of the student's submissions by the due date that
    now applies to them; each change is an event in the submission's history. A
    submission made inside an extension that is then revoked is late by its days, as any
    late submission (at most the whole score). Returns how many changed."""
    policy = effective_policy(assignment.policy, extension)
    rows = session.scalars(
        select(SubmissionRow).where(
            SubmissionRow.user_id == user_id,
            SubmissionRow.assignment == assignment.name,
            SubmissionRow.kind == JobKind.homework.value,
        )
    )
    changed = 0
    for row in rows:
        late = late_penalty(policy, as_utc(row.created_at))
        if (row.late, row.penalty) == (late.late, late.penalty):
            continue
        row.late, row.penalty = late.late, late.penalty
        judged = f"late, penalty {late.penalty:.0%}" if late.late else "on time"
        message = f"{why}: {judged}"
        if row.status == SubmissionStatus.graded.value and row.result_json:
            raw = GradingResult.model_validate_json(row.result_json).score
            row.score = penalized(raw, late.penalty)
            message += f", score {row.score:g}"
        lifecycle.add_event(session, row.id, SubmissionStatus(row.status), message)
        changed += 1
    return changed
