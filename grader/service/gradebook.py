"""The gradebook of one assignment: a row per student, and its CSV for Canvas's import.

Which submission is the grade is the course's choice (`policy.counts`: best, the
default, or latest); only graded submissions have a score, so our failures, unreadable
uploads and what is still grading never count. Scores carry their late penalty, judged
by each student's own due date (extensions). docs/gradebook.md says why each choice.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import defer

from grader.grading.specs import Assignment
from grader.service.db import ExtensionRow, SubmissionRow, UserRow, session_scope, utcnow
from grader.service.extensions import to_model as extension_model
from grader.service.lifecycle import as_utc
from grader.service.submissions import UNCOUNTED, closes_at, effective_policy
from submissions_schema import (
    ACTIVE_STATUSES,
    Counts,
    Gradebook,
    GradebookRow,
    JobKind,
    Role,
    SubmissionStatus,
)

# Canvas's gradebook import (docs/gradebook.md): these student columns, in this order,
# then one column per assignment, and a "Points Possible" row under the header.
CANVAS_HEADER = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def build_gradebook(
    url: str, assignment: Assignment, mode: Counts | None = None, now: datetime | None = None
) -> Gradebook:
    """Every student (the users with the student role, those who never submitted too),
    by name."""
    counts = mode or assignment.policy.counts
    now = now or utcnow()
    with session_scope(url) as session:
        students = list(
            session.scalars(
                select(UserRow).where(UserRow.role == Role.student.value).order_by(UserRow.name)
            )
        )
        by_user: dict[int, list[SubmissionRow]] = defaultdict(list)
        for row in session.scalars(
            select(SubmissionRow)
            # A row's result (kilobytes each) is never read here: 500 students' three
            # submissions would fetch megabytes of JSON for every page view.
            .options(defer(SubmissionRow.result_json, raiseload=True))
            .where(
                SubmissionRow.assignment == assignment.name,
                SubmissionRow.kind == JobKind.homework.value,
            )
            .order_by(SubmissionRow.created_at, SubmissionRow.id)
        ):
            by_user[row.user_id].append(row)
        extensions = {
            e.user_id: e
            for e in session.scalars(
                select(ExtensionRow).where(ExtensionRow.assignment == assignment.name)
            )
        }
        rows = [
            _row(assignment, counts, student, by_user[student.id], extensions.get(student.id), now)
            for student in students
        ]
    return Gradebook(
        assignment=assignment.name,
        title=assignment.title,
        max_score=assignment.max_score,
        counts=counts,
        due_at=assignment.policy.due_at,
        lms_assignment_id=assignment.policy.lms_assignment_id,
        generated_at=now,
        rows=rows,
    )


def _row(
    assignment: Assignment,
    counts: Counts,
    student: UserRow,
    submissions: list[SubmissionRow],
    extension: ExtensionRow | None,
    now: datetime,
) -> GradebookRow:
    graded = [
        s for s in submissions if s.status == SubmissionStatus.graded.value and s.score is not None
    ]
    best = max(graded, key=lambda s: s.score or 0.0, default=None)  # the first of equals
    latest = graded[-1] if graded else None
    counted = best if counts == Counts.best else latest
    policy = effective_policy(assignment.policy, extension)
    closes = closes_at(policy)
    return GradebookRow(
        user=student.name,
        score=counted.score if counted else None,
        best=best.score if best else None,
        latest=latest.score if latest else None,
        max_score=assignment.max_score,
        counted_submission=counted.id if counted else None,
        late=counted.late if counted else False,
        penalty=counted.penalty if counted else 0.0,
        # Nothing graded and no way left to submit: the page flags it, the CSV leaves
        # the cell empty unless asked for zeros (to_canvas_csv).
        missing=counted is None and closes is not None and now > closes,
        due_at=policy.due_at,
        extension=extension_model(extension) if extension else None,
        attempts=sum(s.status not in UNCOUNTED for s in submissions),
        pending=sum(SubmissionStatus(s.status) in ACTIVE_STATUSES for s in submissions),
        last_submitted=as_utc(submissions[-1].created_at) if submissions else None,
    )


def canvas_column(book: Gradebook) -> str:
    """Canvas matches an assignment column by the id in "Name (ID)", else by its title
    (and creates a new assignment when none has that title)."""
    if book.lms_assignment_id:
        return f"{book.assignment} ({book.lms_assignment_id})"
    return book.assignment


def neutralized(cell: str) -> str:
    """A text cell a spreadsheet will not run: names are chosen by students."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def points(value: float) -> str:
    """At most two decimals, as Canvas's own export writes them: 45.5, 52, 46.8."""
    return f"{round(value, 2):.2f}".rstrip("0").rstrip(".")


def to_canvas_csv(book: Gradebook, missing_as_zero: bool = False) -> str:
    """The gradebook as Canvas's gradebook import reads it. A student is matched by SIS
    Login ID (our user name); an empty cell changes nothing in Canvas, so a student with
    no graded submission is left empty, or 0 once their deadline passed if
    `missing_as_zero`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow([*CANVAS_HEADER, neutralized(canvas_column(book))])
    writer.writerow(["Points Possible", "", "", "", "", points(book.max_score)])
    for row in book.rows:
        if row.score is not None:
            score = points(row.score)
        else:
            score = "0" if (row.missing and missing_as_zero) else ""
        name = neutralized(row.user)
        writer.writerow([name, "", "", name, "", score])
    return out.getvalue()
