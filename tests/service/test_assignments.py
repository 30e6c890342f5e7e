"""Staff push a course assignment to the service: validated, stored by its content hash,
graded from the next submission on; a push that changes grading offers the regrade,
and the old version stays on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.cli.archive import zip_folder
from grader.grading.course import pushed_dir
from tests.grading.helpers import EXAMPLES
from tests.service.helpers import embedded_service

RNN = EXAMPLES / "rnn-course" / "assignments" / "rnn-layers"


def push(s, folder: Path, who: str = "tina"):  # type: ignore[no-untyped-def]
    return s.client.post(
        "/api/v1/admin/assignments",
        headers=s.headers(who),
        files={"file": ("rnn-layers.zip", zip_folder(folder))},
    )


def test_a_pushed_assignment_is_graded_and_a_changed_push_offers_the_regrade(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "rnn-layers"
    shutil.copytree(RNN, folder)
    with embedded_service(tmp_path) as s:
        assert push(s, folder, who="alice").status_code == 403  # students push nothing
        first = push(s, folder)
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["name"] == "rnn-layers"
        assert body["changed"] == []
        assert body["previous_sha256"] is None
        listed = s.client.get("/api/v1/assignments", headers=s.headers("alice")).json()
        assert {"name": "rnn-layers", "version": "2026.1"}.items() <= next(
            a for a in listed if a["name"] == "rnn-layers"
        ).items()
        solution = (folder / "solution" / "rnn_layers.py").read_bytes()
        sid = s.submit("alice", solution, name="rnn_layers.py", assignment="rnn-layers").json()
        done = s.wait("alice", sid["id"])
        assert done["status"] == "graded", done
        assert done["score"] == done["max_score"]
        # The same folder again: the same version, nothing to regrade.
        again = push(s, folder).json()
        assert again["sha256"] == body["sha256"]
        assert again["changed"] == []
        # A stricter case: grading changed, the regrade is offered, the old version stays.
        spec = folder / "assignment.yaml"
        spec.write_text(
            spec.read_text()
            .replace('version: "2026.1"', 'version: "2026.2"')
            .replace("x: {shape: [3, 5]}", "x: {shape: [4, 5]}", 1)
            .replace("prev_h: {shape: [3, 4]}", "prev_h: {shape: [4, 4]}", 1)
        )
        second = push(s, folder).json()
        assert second["changed"] == ["cases"]
        assert second["previous_version"] == "2026.1"
        assert second["submissions"] == 1
        assert second["regrade"] == "/api/v1/admin/assignments/rnn-layers/regrade"
        stored = pushed_dir(s.settings.data_dir) / "rnn-layers"
        assert (stored / body["sha256"] / "rnn-layers" / "assignment.yaml").is_file()
        summary = s.client.post(
            second["regrade"], params={"wait_s": 60}, headers=s.headers("tina")
        ).json()
        assert summary["requested"] == 1
        assert summary["pending"] == []
        result = s.client.get(
            f"/api/v1/submissions/{sid['id']}/result", headers=s.headers("alice")
        ).json()
        assert result["assignment_version"] == "2026.2"


def test_a_broken_push_is_refused_with_the_reason(tmp_path: Path) -> None:
    folder = tmp_path / "rnn-layers"
    shutil.copytree(RNN, folder)
    (folder / "assignment.yaml").write_text(
        (folder / "assignment.yaml").read_text().replace("hidden_cases:", "hidden_case:", 1)
    )
    with embedded_service(tmp_path, grading=False) as s:
        refused = push(s, folder)
        assert refused.status_code == 422
        assert refused.json()["code"] == "invalid_assignment"
        assert "did you mean hidden_cases" in refused.json()["message"]
        builtin = tmp_path / "cnn"
        shutil.copytree(RNN, builtin)
        (builtin / "assignment.yaml").write_text(
            (builtin / "assignment.yaml")
            .read_text()
            .replace("name: rnn-layers", "name: cnn-layers")
        )
        clash = s.client.post(
            "/api/v1/admin/assignments",
            headers=s.headers("tina"),
            files={"file": ("cnn.zip", zip_folder(builtin))},
        )
        assert clash.status_code == 422
        assert "built-in" in clash.json()["message"]
        assert not (pushed_dir(s.settings.data_dir) / "rnn-layers").exists()
