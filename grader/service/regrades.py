"""Regrades with their before/after summary: what the admin API and the staff page run."""

from __future__ import annotations

import time

from sqlalchemy import select

from grader.service.db import SubmissionRow, session_scope
from grader.service.submissions import SubmissionService
from submissions_schema import FINAL_STATUSES, RegradeSummary, ScoreChange


def assignment_submissions(service: SubmissionService, name: str) -> list[str]:
    with session_scope(service.url) as session:
        return list(
            session.scalars(select(SubmissionRow.id).where(SubmissionRow.assignment == name))
        )


def regrade_with_summary(
    service: SubmissionService, name: str, ids: list[str], wait_s: float
) -> RegradeSummary:
    """Queue `ids` again (graded or failed ones), wait up to `wait_s` for them, and say
    whose score changed; what is still running is listed as pending."""
    before = service.previous_scores(ids)
    queued = service.regrade(ids)
    deadline = time.monotonic() + wait_s
    pending: set[str] = set(queued)
    while pending and time.monotonic() < deadline:
        time.sleep(0.2)
        pending = {i for i in pending if service.get_model(i).status not in FINAL_STATUSES}
    after = service.previous_scores(queued)
    changed = [
        ScoreChange(
            submission_id=i, owner=service.get_model(i).owner, before=before[i], after=after[i]
        )
        for i in queued
        if i not in pending and before[i] != after[i]
    ]
    return RegradeSummary(
        assignment=name,
        requested=len(queued),
        changed=changed,
        unchanged=len(queued) - len(pending) - len(changed),
        pending=sorted(pending),
    )
