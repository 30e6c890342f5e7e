"""Per-student extensions through the API, on SQLite and PostgreSQL: the student's own due
date (not late, no penalty), their own caps, nobody else's policy changes, revoking
restores, submissions made before are re-judged, hidden details wait for the last
extension. Nothing grades here (QueueOnly): graded outcomes are written as a worker would."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from grader.grading.course import known_assignments
from grader.service.db import ExtensionRow, SubmissionRow, session_scope
from grader.service.submissions import closes_at, penalized
from submissions_schema import (
    GradingResult,
    SubmissionPolicy,
    SubmissionStatus,
    TestResult,
    TestStatus,
    Visibility,
)
from tests.service.helpers import LAYERS, Service, embedded_service

pytestmark = [pytest.mark.integration]

NOW = datetime.now(UTC)
BASE = "/api/v1/admin/assignments/cnn-layers"


def with_policy(**policy: object) -> dict:  # type: ignore[type-arg]
    specs = dict(known_assignments())
    spec = specs["cnn-layers"]
    specs["cnn-layers"] = spec.model_copy(update={"policy": spec.policy.model_copy(update=policy)})
    return specs


def chosen_database(request: pytest.FixtureRequest) -> str | None:
    """SQLite, the embedded default; PostgreSQL, the production database (a fresh one
    per test), where a test asks for both with `BOTH_DATABASES`."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str | None:
    return chosen_database(request)


BOTH_DATABASES = pytest.mark.parametrize("database", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def late_course(tmp_path: Path, database: str | None) -> Iterator[Service]:
    """cnn-layers was due an hour ago; two late days at 10% a day; two submissions in all."""
    policy = with_policy(
        due_at=NOW - timedelta(hours=1), late_days=2, late_penalty_per_day=0.1, max_total=2
    )
    with embedded_service(tmp_path, policy, grading=False, database_url=database) as s:
        yield s


def grant(s: Service, who: str, **fields: Any) -> Any:
    body = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in fields.items()}
    return s.client.put(f"{BASE}/extensions/{who}", json=body, headers=s.headers("tina"))


def graded(s: Service, submission_id: str, raw: float, hidden_message: str = "") -> None:
    """What the worker writes for a graded submission: the raw result, the score after
    the row's penalty."""
    result = GradingResult(
        assignment="cnn-layers",
        assignment_version="1",
        verdict="graded",
        score=raw,
        max_score=52,
        tests=[
            TestResult(
                name="relu hidden",
                function="relu_forward",
                status=TestStatus.failed,
                score=0,
                max_score=1,
                visibility=Visibility.hidden,
                message=hidden_message or "max error 1.0 at [0, 3]",
            )
        ],
    )
    with session_scope(s.settings.resolved_database_url()) as session:
        row = session.get(SubmissionRow, submission_id)
        assert row is not None
        row.status = SubmissionStatus.graded.value
        row.score = penalized(raw, row.penalty)
        row.max_score = 52
        row.result_json = result.model_dump_json()


@BOTH_DATABASES
def test_an_extension_moves_the_due_date_for_that_student_only(late_course: Service) -> None:
    s = late_course
    response = grant(s, "alice", due_at=NOW + timedelta(days=3), reason="ill, note seen")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user"] == "alice"
    assert body["granted_by"] == "tina"
    assert body["late_days"] is None  # left out: the assignment's
    alice = s.submit("alice", LAYERS).json()
    assert (alice["late"], alice["penalty"]) == (False, 0.0)
    bob = s.submit("bob", LAYERS).json()
    assert bob["late"] is True
    assert bob["penalty"] == pytest.approx(0.1)

    def listed_due(who: str) -> datetime:
        found = s.client.get("/api/v1/assignments", headers=s.headers(who)).json()
        policy = next(a for a in found if a["name"] == "cnn-layers")["policy"]
        return datetime.fromisoformat(policy["due_at"])

    assert listed_due("alice") == NOW + timedelta(days=3)  # her own, as she is judged
    assert listed_due("bob") == NOW - timedelta(hours=1)


def test_extended_limits_allow_more_and_revoking_restores(late_course: Service) -> None:
    s = late_course
    for _ in range(2):
        assert s.submit("alice", LAYERS).status_code == 201
    assert s.submit("alice", LAYERS).json()["code"] == "limit_reached"
    assert grant(s, "alice", max_total=4).status_code == 200
    assert s.submit("alice", LAYERS).status_code == 201
    assert s.submit("bob", LAYERS).status_code == 201
    assert s.submit("bob", LAYERS).status_code == 201
    assert s.submit("bob", LAYERS).json()["code"] == "limit_reached"  # bob keeps 2
    revoked = s.client.delete(f"{BASE}/extensions/alice", headers=s.headers("tina"))
    assert revoked.status_code == 200
    assert revoked.json()["max_total"] == 4
    assert s.submit("alice", LAYERS).json()["code"] == "limit_reached"
    missing = s.client.get(f"{BASE}/extensions/alice", headers=s.headers("tina"))
    assert missing.status_code == 404
    assert missing.json()["code"] == "no_extension"


def test_a_closed_assignment_opens_again_for_one_student(tmp_path: Path) -> None:
    closed = with_policy(due_at=NOW - timedelta(days=3), late_days=1)
    with embedded_service(tmp_path, closed, grading=False) as s:
        assert s.submit("alice", LAYERS).json()["code"] == "deadline_passed"
        grant(s, "alice", due_at=NOW + timedelta(hours=2))
        assert s.submit("alice", LAYERS).status_code == 201
        assert s.submit("bob", LAYERS).json()["code"] == "deadline_passed"


@BOTH_DATABASES
def test_granting_later_gives_the_penalty_back_and_revoking_takes_it_again(
    late_course: Service,
) -> None:
    s = late_course
    late = s.submit("alice", LAYERS).json()
    assert late["penalty"] == pytest.approx(0.1)
    graded(s, late["id"], raw=50)
    assert s.client.get(f"/api/v1/submissions/{late['id']}", headers=s.headers("alice")).json()[
        "score"
    ] == pytest.approx(45)
    grant(s, "alice", due_at=NOW + timedelta(days=1))
    detail = s.client.get(f"/api/v1/submissions/{late['id']}", headers=s.headers("alice")).json()
    assert (detail["late"], detail["penalty"], detail["score"]) == (False, 0.0, 50)
    assert "extension granted by tina: on time, score 50" in [
        e["message"] for e in detail["events"]
    ]
    s.client.delete(f"{BASE}/extensions/alice", headers=s.headers("tina"))
    detail = s.client.get(f"/api/v1/submissions/{late['id']}", headers=s.headers("alice")).json()
    assert (detail["late"], detail["score"]) == (True, pytest.approx(45))


def test_hidden_details_wait_for_the_last_extension(tmp_path: Path) -> None:
    """Due an hour ago: details would show now, but alice works on until tomorrow, so
    neither she nor bob (who could tell her) sees them yet; staff always do."""
    policy = with_policy(due_at=NOW - timedelta(hours=1), late_days=2)
    with embedded_service(tmp_path, policy, grading=False) as s:

        def hidden_message(who: str, submission_id: str) -> str:
            result = s.client.get(
                f"/api/v1/submissions/{submission_id}/result", headers=s.headers(who)
            ).json()
            return str(result["tests"][0]["message"])

        bob = s.submit("bob", LAYERS).json()["id"]
        graded(s, bob, raw=40)
        assert hidden_message("bob", bob) == "max error 1.0 at [0, 3]"
        grant(s, "alice", due_at=NOW + timedelta(days=1))
        alice = s.submit("alice", LAYERS).json()["id"]
        graded(s, alice, raw=40)
        # Past the due date, yet alice's extension keeps the details back, and says till when.
        until = f"details from {NOW + timedelta(days=1):%Y-%m-%d %H:%M} UTC"
        assert hidden_message("bob", bob) == until
        assert hidden_message("alice", alice) == until
        assert hidden_message("tina", alice) == "max error 1.0 at [0, 3]"
        s.client.delete(f"{BASE}/extensions/alice", headers=s.headers("tina"))
        assert hidden_message("alice", alice) == "max error 1.0 at [0, 3]"


def test_extensions_are_staff_only_and_name_known_users(tmp_path: Path) -> None:
    with embedded_service(tmp_path, grading=False) as s:
        forbidden = s.client.put(
            f"{BASE}/extensions/alice", json={"max_total": 9}, headers=s.headers("alice")
        )
        assert forbidden.status_code == 403
        unknown = grant(s, "mallory", max_total=3)
        assert unknown.status_code == 404
        assert unknown.json()["code"] == "unknown_user"
        no_such = s.client.get(
            "/api/v1/admin/assignments/nope/extensions", headers=s.headers("tina")
        )
        assert no_such.json()["code"] == "unknown_assignment"
        bad = grant(s, "alice", max_total=0)
        assert bad.status_code == 422
        grant(s, "alice", max_total=3, reason="first")
        again = grant(s, "alice", max_per_day=5, reason="second").json()  # replaces
        assert (again["max_total"], again["max_per_day"], again["reason"]) == (None, 5, "second")
        listed = s.client.get(f"{BASE}/extensions", headers=s.headers("tina")).json()
        assert [e["user"] for e in listed] == ["alice"]


@BOTH_DATABASES
def test_out_of_range_extensions_are_refused_and_a_stored_one_breaks_nothing(
    late_course: Service,
) -> None:
    """Late days, caps and due dates are bounded at the grant (a clear 422, never the
    database's 'integer out of range'); a row stored before the bounds (written here
    directly) still leaves the gradebook, the CSV and the student's submissions working."""
    s = late_course
    for fields in (
        {"late_days": 3_000_000},
        {"late_days": 367},
        {"max_total": 10**12},
        {"max_per_day": 2**40},
        {"due_at": "9999-12-30T23:59:00+00:00"},
        {"due_at": "0001-01-01T00:00:00+01:00"},
    ):
        refused = grant(s, "alice", **fields)
        assert refused.status_code == 422, (fields, refused.text)
        assert refused.json()["code"] == "invalid_request"
    assert grant(s, "alice", late_days=366, max_total=10**6).status_code == 200
    sid = s.submit("alice", LAYERS).json()["id"]
    graded(s, sid, raw=50)
    with session_scope(s.settings.resolved_database_url()) as session:
        row = session.scalars(select(ExtensionRow)).one()
        row.due_at = datetime(9999, 12, 30, tzinfo=UTC)
        row.late_days = 3_000_000
    for path in (f"{BASE}/gradebook", f"{BASE}/gradebook.csv", f"{BASE}/extensions/alice"):
        assert s.client.get(path, headers=s.headers("tina")).status_code == 200, path
    assert s.submit("alice", LAYERS).status_code == 201
    assert s.client.get(f"/api/v1/submissions/{sid}", headers=s.headers("alice")).status_code == 200
    assert s.client.delete(f"{BASE}/extensions/alice", headers=s.headers("tina")).status_code == 200


def test_a_policy_keeps_its_dates_and_late_days_in_range() -> None:
    SubmissionPolicy(due_at=datetime(2100, 12, 31, tzinfo=UTC), late_days=366)
    for bad in ({"late_days": 367}, {"due_at": datetime(1999, 12, 31, tzinfo=UTC)}):
        with pytest.raises(ValidationError):
            SubmissionPolicy.model_validate(bad)
    at_the_end = SubmissionPolicy.model_construct(due_at=datetime.max, late_days=3)
    assert closes_at(at_the_end) == datetime.max.replace(tzinfo=UTC)
