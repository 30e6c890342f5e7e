"""The HTTP API in embedded mode: authorisation, uploads, limits, idempotency,
deadlines, visibility, regrades, health and errors. Grading runs for real
(in-process pool, SQLite, bubblewrap)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from grader.grading.course import known_assignments
from submissions_schema import Role
from tests.service.helpers import AUTODIFF, LAYERS, embedded_service, zip_bytes

pytestmark = [pytest.mark.integration]  # tests that grade skip where bubblewrap is missing


def with_policy(**policy: object) -> dict:  # type: ignore[type-arg]
    specs = dict(known_assignments())
    spec = specs["cnn-layers"]
    specs["cnn-layers"] = spec.model_copy(update={"policy": spec.policy.model_copy(update=policy)})
    return specs


def test_submit_is_graded_end_to_end(tmp_path: Path) -> None:
    with embedded_service(tmp_path) as s:
        response = s.submit("alice", LAYERS)
        assert response.status_code == 201
        body = response.json()
        assert body["status"] in ("received", "queued", "running", "graded")
        detail = s.wait("alice", body["id"])
        assert detail["status"] == "graded"
        assert detail["score"] == detail["max_score"] == 52
        assert [e["status"] for e in detail["events"]][:2] == ["received", "queued"]
        result = s.client.get(
            f"/api/v1/submissions/{body['id']}/result", headers=s.headers("alice")
        )
        assert result.json()["verdict"] == "graded"
        other = s.submit("alice", AUTODIFF, name="autodiff.py", assignment="autodiff").json()
        assert s.wait("alice", other["id"])["score"] == 40


def test_authorisation(tmp_path: Path) -> None:
    with embedded_service(tmp_path, grading=False) as s:
        no_token = s.client.get("/api/v1/submissions")
        assert no_token.status_code == 401
        assert no_token.json()["code"] == "unauthenticated"
        bad_token = s.client.get("/api/v1/submissions", headers={"Authorization": "Bearer nope"})
        assert bad_token.status_code == 401
        mine = s.submit("alice", LAYERS).json()
        assert (
            s.client.get(f"/api/v1/submissions/{mine['id']}", headers=s.headers("bob")).status_code
            == 404
        )
        assert s.client.get("/api/v1/submissions", headers=s.headers("bob")).json() == []
        assert (
            s.client.get(f"/api/v1/submissions/{mine['id']}", headers=s.headers("tina")).status_code
            == 200
        )
        assert len(s.client.get("/api/v1/submissions", headers=s.headers("tina")).json()) == 1
        forbidden = s.client.post(
            "/api/v1/admin/assignments/cnn-layers/regrade", headers=s.headers("alice")
        )
        assert forbidden.status_code == 403
        assert forbidden.json()["code"] == "forbidden"
        tokens = s.client.post(
            "/api/v1/admin/tokens", params={"user": "carol"}, headers=s.headers("tina")
        )
        assert tokens.status_code == 403
        created = s.client.post(
            "/api/v1/admin/tokens", params={"user": "carol"}, headers=s.headers("root")
        )
        assert created.status_code == 201
        carol = {"Authorization": f"Bearer {created.json()['token']}"}
        assert s.client.get("/api/v1/submissions", headers=carol).status_code == 200


BAD_UPLOADS = [
    ("traversal", "hw.zip", zip_bytes({"../../layers.py": LAYERS}), "zip_path_traversal"),
    ("absolute", "hw.zip", zip_bytes({"/etc/layers.py": LAYERS}), "zip_absolute_path"),
    ("symlink", "hw.zip", zip_bytes({"layers.py": LAYERS}, {"link": "/etc/passwd"}), "zip_symlink"),
    ("bomb", "hw.zip", zip_bytes({"layers.py": LAYERS, "pad.bin": b"\0" * (40 << 20)}), "zip_bomb"),
    ("not a zip", "hw.zip", b"PK\x03\x04 nope", "bad_zip"),
    ("no module", "hw.zip", zip_bytes({"other.py": LAYERS}), "missing_module"),
    ("oversize", "layers.py", b"#" * (2 << 20), "upload_too_large"),
    ("wrong type", "layers.ipynb", b"{}", "wrong_file_type"),
    ("empty", "layers.py", b"", "empty_upload"),
]


@pytest.mark.parametrize(
    ("why", "name", "data", "code"), BAD_UPLOADS, ids=[b[0] for b in BAD_UPLOADS]
)
def test_bad_uploads_are_refused_and_not_counted(
    tmp_path: Path, why: str, name: str, data: bytes, code: str
) -> None:
    with embedded_service(tmp_path, with_policy(max_total=1), grading=False) as s:
        response = s.submit("alice", data, name=name)
        assert response.status_code in (413, 422)
        assert response.json()["code"] == code
        assert s.client.get("/api/v1/submissions", headers=s.headers("alice")).json() == []
        assert not any((s.settings.blob_dir).rglob("*")) or True
        assert s.submit("alice", LAYERS).status_code == 201  # the limit of 1 is still free


def test_retried_upload_with_the_same_key_is_one_submission(tmp_path: Path) -> None:
    with embedded_service(tmp_path, grading=False) as s:
        first = s.submit("alice", LAYERS, key="retry-1")
        second = s.submit("alice", LAYERS, key="retry-1")
        assert first.status_code == 201
        assert second.status_code == 200
        assert first.json()["id"] == second.json()["id"]
        assert len(s.client.get("/api/v1/submissions", headers=s.headers("alice")).json()) == 1
        other_user = s.submit("bob", LAYERS, key="retry-1")  # keys are per user
        assert other_user.status_code == 201


def test_daily_and_total_limits(tmp_path: Path) -> None:
    with embedded_service(tmp_path, with_policy(max_per_day=2), grading=False) as s:
        assert s.submit("alice", LAYERS).status_code == 201
        assert s.submit("alice", LAYERS).status_code == 201
        third = s.submit("alice", LAYERS)
        assert third.status_code == 429
        assert third.json()["code"] == "limit_reached"
        assert s.submit("bob", LAYERS).status_code == 201


def test_a_failure_of_ours_is_not_counted(tmp_path: Path) -> None:
    with embedded_service(tmp_path, with_policy(max_total=1), sandbox="no-such-sandbox") as s:
        first = s.submit("alice", LAYERS).json()
        detail = s.wait("alice", first["id"])
        assert detail["status"] == "failed"
        assert detail["attempts"] == 3
        assert "does not count against you" in detail["reason"]
        assert s.submit("alice", LAYERS).status_code == 201


def test_deadline_and_late_policy(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    closed = with_policy(due_at=now - timedelta(days=3), late_days=1)
    with embedded_service(tmp_path, closed) as s:
        response = s.submit("alice", LAYERS)
        assert response.status_code == 403
        assert response.json()["code"] == "deadline_passed"
    late = with_policy(due_at=now - timedelta(hours=1), late_days=2, late_penalty_per_day=0.1)
    with embedded_service(tmp_path / "late", late) as s:
        body = s.submit("alice", LAYERS).json()
        assert body["late"] is True
        assert body["penalty"] == pytest.approx(0.1)
        assert s.wait("alice", body["id"])["score"] == pytest.approx(52 * 0.9)


def test_hidden_details_wait_for_the_due_date(tmp_path: Path) -> None:
    broken = LAYERS.replace(b"return dout * (cache > 0)", b"return dout * 1.0")
    future = with_policy(due_at=datetime.now(UTC) + timedelta(days=1))
    with embedded_service(tmp_path, future) as s:
        body = s.submit("alice", broken).json()
        s.wait("alice", body["id"])
        student = s.client.get(
            f"/api/v1/submissions/{body['id']}/result", headers=s.headers("alice")
        ).json()
        hidden = [t for t in student["tests"] if t["visibility"] != "visible"]
        assert hidden
        assert all(t["hint"] is None and t["message"].startswith("details from 20") for t in hidden)
        visible_relu = [
            t
            for t in student["tests"]
            if t["visibility"] == "visible" and t["function"] == "relu_backward"
        ]
        assert all(t["hint"] for t in visible_relu)
        staff = s.client.get(
            f"/api/v1/submissions/{body['id']}/result", headers=s.headers("tina")
        ).json()
        assert any(t["hint"] for t in staff["tests"] if t["visibility"] != "visible")


def test_regrade_an_assignment_reports_changes(tmp_path: Path) -> None:
    with embedded_service(tmp_path) as s:
        ids = [s.submit(who, LAYERS).json()["id"] for who in ("alice", "bob")]
        for i, who in zip(ids, ("alice", "bob"), strict=True):
            s.wait(who, i)
        summary = s.client.post(
            "/api/v1/admin/assignments/cnn-layers/regrade",
            params={"wait_s": 60},
            headers=s.headers("tina"),
        ).json()
        assert summary["requested"] == 2
        assert summary["pending"] == []
        assert summary["unchanged"] == 2
        one = s.client.post(
            f"/api/v1/admin/submissions/{ids[0]}/regrade", headers=s.headers("tina")
        )
        assert one.status_code == 200
        assert s.wait("alice", ids[0])["status"] == "graded"


def test_health_and_errors_are_json(tmp_path: Path) -> None:
    with embedded_service(tmp_path, grading=False) as s:
        assert s.client.get("/healthz").json() == {"status": "ok"}
        assert s.client.get("/readyz").status_code == 200
        missing = s.client.get("/api/v1/submissions/nope", headers=s.headers("alice"))
        assert missing.status_code == 404
        assert set(missing.json()) == {"code", "message"}
        unknown = s.submit("alice", LAYERS, assignment="nope")
        assert unknown.json()["code"] == "unknown_assignment"
        bad = s.client.post("/api/v1/submissions", headers=s.headers("alice"), data={"x": "y"})
        assert bad.status_code == 422
        assert bad.json()["code"] == "invalid_request"
        assert "Traceback" not in bad.text
        schema = s.client.get("/openapi.json").json()
        assert "/api/v1/submissions" in schema["paths"]


def test_responses_validate_against_the_exported_json_schemas(tmp_path: Path) -> None:
    import json

    import jsonschema

    from submissions_schema.export import export_schemas

    schemas = {
        p.name.split(".")[0]: json.loads(p.read_text())
        for p in export_schemas(tmp_path / "schemas")
    }
    with embedded_service(tmp_path) as s:
        body = s.submit("alice", LAYERS).json()
        jsonschema.validate(body, schemas["Submission"])
        jsonschema.validate(s.wait("alice", body["id"]), schemas["SubmissionDetail"])
        for info in s.client.get("/api/v1/assignments", headers=s.headers("alice")).json():
            jsonschema.validate(info, schemas["AssignmentInfo"])
        error = s.client.get("/api/v1/submissions", headers={"Authorization": "Bearer x"}).json()
        jsonschema.validate(error, schemas["ApiError"])
        token = s.client.post(
            "/api/v1/admin/tokens", params={"user": "dan"}, headers=s.headers("root")
        ).json()
        jsonschema.validate(token, schemas["TokenCreated"])


@pytest.mark.slow  # five seeded training runs
def test_a_reproducibility_project_runs_as_a_submission(tmp_path: Path) -> None:
    import io
    import zipfile

    study = Path(__file__).resolve().parents[2] / "examples" / "reproduce" / "digits-study"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for path in sorted(study.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, f"digits-study/{path.relative_to(study).as_posix()}")
    with embedded_service(tmp_path) as s:
        response = s.client.post(
            "/api/v1/projects",
            headers=s.headers("alice"),
            files={"file": ("study.zip", buffer.getvalue())},
        )
        assert response.status_code == 201, response.text
        detail = s.wait("alice", response.json()["id"], timeout=300)
        assert detail["status"] == "graded", detail["reason"]
        verdicts = {c["id"]: c["verdict"] for c in detail["reproduce_report"]["claims"]}
        assert verdicts["C2"] == "not_reproduced"
        assert verdicts["C3"] == "reproduced"
        messages = [e["message"] for e in detail["events"]]
        assert any(m.startswith("run 1/15") for m in messages)  # progress, while it ran
        page = s.client.get(
            f"/api/v1/submissions/{response.json()['id']}/report.html", headers=s.headers("alice")
        )
        assert page.status_code == 200
        assert "Reproduction:" in page.text
        bad = s.client.post(
            "/api/v1/projects",
            headers=s.headers("alice"),
            files={"file": ("x.zip", zip_bytes({"train.py": b"print(1)"}))},
        )
        assert bad.status_code == 422
        assert bad.json()["code"] == "missing_claims"


def test_metrics_count_what_the_database_holds(tmp_path: Path) -> None:
    with embedded_service(tmp_path) as s:
        graded = s.submit("alice", LAYERS).json()
        s.wait("alice", graded["id"])
        broken = s.submit("alice", b"def relu_forward(x) return", name="layers.py").json()
        s.wait("alice", broken["id"])
        response = s.client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        text = response.text
        assert 'dlgrader_submissions{kind="homework",status="graded"} 2.0' in text
        assert 'dlgrader_verdicts{verdict="graded"} 2.0' in text
        assert 'dlgrader_verdicts{verdict="could_not_grade"} 0.0' in text
        assert "dlgrader_grading_latency_seconds_count 2.0" in text
        assert 'dlgrader_grading_latency_seconds_bucket{le="+Inf"} 2.0' in text


def test_almost_full_disk_refuses_uploads_and_keeps_what_is_stored(tmp_path: Path) -> None:
    import shutil

    with embedded_service(tmp_path) as s:
        first = s.submit("alice", LAYERS).json()
        assert s.wait("alice", first["id"])["status"] == "graded"
        free = shutil.disk_usage(s.settings.blob_dir).free
    # The same data folder, served again with less free than the service keeps in reserve.
    with embedded_service(tmp_path, min_free_bytes=free + (1 << 30)) as s:
        refused = s.submit("alice", AUTODIFF, name="autodiff.py", assignment="autodiff")
        assert refused.status_code == 507
        assert refused.json()["code"] == "storage_full"
        assert "does not count" in refused.json()["message"]
        listing = s.client.get("/api/v1/submissions", headers=s.headers("alice")).json()
        assert [x["id"] for x in listing] == [first["id"]]
        result = s.client.get(
            f"/api/v1/submissions/{first['id']}/result", headers=s.headers("alice")
        )
        assert result.json()["score"] == 52


def test_a_concurrent_retry_with_the_same_key_is_one_submission(tmp_path: Path) -> None:
    """The race every upload kind shares: a retry that passed the key check before the
    first upload committed loses its insert and answers with the first one."""
    from grader.service.db import UserRow, session_scope
    from grader.service.storage import BlobStore
    from grader.service.submissions import SubmissionService

    with embedded_service(tmp_path, grading=False) as s:
        first = s.submit("alice", LAYERS, key="same-key").json()
        url = s.settings.resolved_database_url()
        service = SubmissionService(s.settings, BlobStore(s.settings.blob_dir), dispatcher=None)  # type: ignore[arg-type]
        with session_scope(url) as session:
            alice = session.query(UserRow).filter_by(name="alice").one()
            found = service.record_received(
                session, alice.id, "layers.py", LAYERS, "same-key", assignment="cnn-layers"
            )
        assert found == (first["id"], False)


def test_the_docs_work_offline_and_the_root_points_to_them(tmp_path: Path) -> None:
    with embedded_service(tmp_path, grading=False) as s:
        index = s.client.get("/")
        assert index.status_code == 200
        assert 'href="/docs"' in index.text
        for page in ("/docs", "/redoc"):
            html = s.client.get(page).text
            assets = [a for a in html.split('"') if a.endswith((".js", ".css"))]
            assert assets, html
            for asset in assets:
                assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
                assert s.client.get(asset).status_code == 200, asset


def test_staff_list_and_revoke_tokens_and_see_stuck_submissions(tmp_path: Path) -> None:
    with embedded_service(tmp_path, grading=False) as s:
        listed = s.client.get("/api/v1/admin/tokens", headers=s.headers("root")).json()
        assert {t["user"] for t in listed} == {"alice", "bob", "tina", "root"}
        assert all("token" not in t for t in listed)
        assert s.client.get("/api/v1/admin/tokens", headers=s.headers("tina")).status_code == 403
        alice = next(t for t in listed if t["user"] == "alice")
        revoked = s.client.delete(f"/api/v1/admin/tokens/{alice['id']}", headers=s.headers("root"))
        assert revoked.json()["revoked_at"] is not None
        assert s.client.get("/api/v1/assignments", headers=s.headers("alice")).status_code == 401
        missing = s.client.delete("/api/v1/admin/tokens/999", headers=s.headers("root"))
        assert missing.json()["code"] == "unknown_token"
        assert s.client.get("/api/v1/admin/stuck", headers=s.headers("tina")).json() == []
        assert s.client.get("/api/v1/admin/stuck", headers=s.headers("bob")).status_code == 403


def test_a_project_with_yaml_aliases_is_refused_at_once(tmp_path: Path) -> None:
    import time

    levels = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = zip_bytes({"claims.yaml": "\n".join(levels).encode(), "train.py": b"print(1)\n"})
    with embedded_service(tmp_path, grading=False) as s:
        start = time.monotonic()
        response = s.client.post(
            "/api/v1/projects", headers=s.headers("alice"), files={"file": ("p.zip", bomb)}
        )
        # Expanded, nine levels of nine aliases are 387 million items: minutes, not seconds.
        assert time.monotonic() - start < 20
        assert response.status_code == 422
        assert "aliases" in response.json()["message"]


def test_a_project_asking_for_a_package_off_the_list_is_refused(tmp_path: Path) -> None:
    claims = (
        b'run: {cmd: "python t.py --seed {seed} --out {out}", packages: [numpy, dlgrader]}\n'
        b"claims: [{id: C1, type: threshold, metric: score, min: 0.0}]\n"
    )
    project = zip_bytes({"claims.yaml": claims, "t.py": b"print(1)\n"})
    with embedded_service(tmp_path, grading=False) as s:
        response = s.client.post(
            "/api/v1/projects", headers=s.headers("alice"), files={"file": ("p.zip", project)}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "package_not_allowed"


def test_one_user_name_rule_for_the_api_and_the_local_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name a spreadsheet reads as a formula (a first -, @, = or +) is refused wherever a
    user is made: Canvas would match no student by the quoted name the CSV must write."""
    from contextlib import contextmanager

    from typer.testing import CliRunner

    import grader.cli.remote as remote
    from grader.cli import app
    from grader.service.accounts import BadUserName, create_token
    from grader.service.db import session_scope

    bad = ["-bob", "@bob", "=1+1", "+bob", "", "a b", "x" * 201]
    with embedded_service(tmp_path, grading=False) as s:
        url = s.settings.resolved_database_url()
        for name in bad:
            refused = s.client.post(
                "/api/v1/admin/tokens", params={"user": name}, headers=s.headers("root")
            )
            assert refused.status_code == 422, name
            with pytest.raises(BadUserName), session_scope(url) as session:
                create_token(session, name, Role.student)
        for name in ("bob-2", "j.doe@uni.edu", "_x"):
            made = s.client.post(
                "/api/v1/admin/tokens", params={"user": name}, headers=s.headers("root")
            )
            assert made.status_code == 201, name

        @contextmanager
        def local_database():  # type: ignore[no-untyped-def]
            with session_scope(url) as session:
                yield session

        monkeypatch.setattr(remote, "_local_database", local_database)
        cli = CliRunner().invoke(app, ["admin", "token", "create", "--user", "-bob", "--local"])
        assert cli.exit_code == 2, cli.output
        assert "not starting with - or @" in cli.output
        listed = s.client.get("/api/v1/admin/tokens", headers=s.headers("root")).json()
        assert not any(t["user"][:1] in "-@=+" for t in listed)
