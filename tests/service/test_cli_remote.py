"""The service's commands against a real `dlgrader serve` (embedded: SQLite, bubblewrap), as
a student and a TA run them from their own machines: every answer an exit code of the
README's table, every error one line."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader.sandbox.bwrap import BwrapSandbox

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap"),
]

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ROOT / "examples" / "cnn-layers" / "layers.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(
    command: list[str], env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader.cli", *command],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@dataclass
class Server:
    url: str
    home: Path
    admin_token: str

    def env(self, who: str) -> dict[str, str]:
        return {
            **os.environ,
            # Each its own data folder: a client must never create a database there.
            "DLGRADER_DATA_DIR": str(self.home / f"{who}-data"),
            "DLGRADER_CONFIG": str(self.home / f"{who}.json"),
        }

    def cli(self, who: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return run_cli(list(args), self.env(who), timeout)


def one_line_error(proc: subprocess.CompletedProcess[str], code: int, words: str) -> None:
    assert proc.returncode == code, proc.stdout + proc.stderr
    assert words in proc.stderr
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    home = tmp_path_factory.mktemp("serve")
    port = free_port()
    stub = Server(f"http://127.0.0.1:{port}", home, "")
    env = {**stub.env("server"), "DLGRADER_SANDBOX": "bwrap", "DLGRADER_HIDDEN_SEED": "5"}
    created = stub.cli("server", "admin", "token", "create", "--user", "ta", "--role", "admin")
    one_line_error(created, 2, "not logged in")  # staff commands go through the server
    bootstrap = ["admin", "token", "create", "--user", "ta", "--role", "admin", "--local"]
    created = run_cli(bootstrap, env)
    assert created.returncode == 0, created.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "grader.cli", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{stub.url}/readyz", timeout=1)
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.2)
    try:
        yield Server(stub.url, home, created.stdout.strip().splitlines()[-1])
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def ta(server: Server) -> Server:
    login = server.cli("ta", "login", "--server", server.url, "--token", server.admin_token)
    assert login.returncode == 0, login.stderr
    return server


def test_login_errors_are_bad_input_or_unreachable(server: Server) -> None:
    one_line_error(server.cli("x", "submissions"), 2, "not logged in")
    one_line_error(
        server.cli("x", "login", "--server", server.url, "--token", "dlg_wrong"), 2, "HTTP 401"
    )
    closed = f"http://127.0.0.1:{free_port()}"
    one_line_error(server.cli("x", "login", "--server", closed, "--token", "t"), 3, "cannot reach")


@pytest.mark.slow  # ~4 s of CLI round trips
def test_staff_manage_tokens_and_see_stuck_work_through_the_api(ta: Server) -> None:
    created = ta.cli("ta", "admin", "token", "create", "--user", "bob")
    assert created.returncode == 0, created.stderr
    bob = created.stdout.strip().splitlines()[-1]
    assert ta.cli("bob", "login", "--server", ta.url, "--token", bob).returncode == 0
    one_line_error(ta.cli("bob", "admin", "token", "list"), 2, "needs the admin role")
    one_line_error(ta.cli("bob", "admin", "stuck"), 2, "needs the ta role")
    listing = ta.cli("ta", "admin", "token", "list")
    assert listing.returncode == 0
    row = next(line for line in listing.stdout.splitlines() if " bob " in line)
    token_id = row.split()[1]
    revoked = ta.cli("ta", "admin", "token", "revoke", token_id)
    assert revoked.returncode == 0, revoked.stderr
    assert "revoked token" in revoked.stdout
    one_line_error(ta.cli("bob", "submissions"), 2, "unknown or revoked token")
    one_line_error(ta.cli("ta", "admin", "token", "revoke", "99999"), 2, "no token 99999")
    stuck = ta.cli("ta", "admin", "stuck")
    assert stuck.returncode == 0
    assert "nothing stuck" in stuck.stdout


@pytest.mark.slow  # ~4 s of CLI round trips
def test_submit_a_file_and_a_folder_and_wait(ta: Server, tmp_path: Path) -> None:
    graded = ta.cli("ta", "submit", str(LAYERS), "-a", "cnn-layers", "--wait")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "total: 52 / 52" in graded.stdout
    folder = tmp_path / "hw2"
    (folder / "cs231n").mkdir(parents=True)
    (folder / "cs231n" / "layers.py").write_text(LAYERS.read_text())
    (folder / ".git").mkdir()
    (folder / ".git" / "config").write_text("[core]\n")
    (folder / "notes.md").write_text("my notes\n")
    zipped = ta.cli("ta", "submit", str(folder), "-a", "cnn-layers", "--wait")
    assert zipped.returncode == 0, zipped.stdout + zipped.stderr
    assert "total: 52 / 52" in zipped.stdout
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.md").write_text("nothing here\n")
    one_line_error(ta.cli("ta", "submit", str(empty), "-a", "cnn-layers"), 2, "no layers.py")
    archive = tmp_path / "hw.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("notes.md", "no code\n")
    one_line_error(ta.cli("ta", "submit", str(archive), "-a", "cnn-layers"), 2, "no layers.py")
    one_line_error(ta.cli("ta", "submit", str(LAYERS), "-a", "nope"), 2, "no assignment")
    one_line_error(
        ta.cli("ta", "submit", str(LAYERS), "-a", "cnn-layers", "--json", "no/dir/r.json"),
        2,
        "not a folder",
    )


def test_a_submission_that_crashes_the_import_is_graded_not_failed(
    ta: Server, tmp_path: Path
) -> None:
    crash = tmp_path / "layers.py"
    crash.write_text("import os\nos._exit(3)\n")
    proc = ta.cli("ta", "submit", str(crash), "-a", "cnn-layers", "--wait")
    assert proc.returncode == 0, proc.stdout + proc.stderr  # graded: zero, its own verdict
    assert "graded" in proc.stdout


def test_leaderboard_comes_from_the_server(ta: Server, tmp_path: Path) -> None:
    board = ta.cli(
        "ta",
        "leaderboard",
        "digits-convnet",
        "--phase",
        "dev",
        "--split",
        "dev",
        "--json",
        str(tmp_path / "b.json"),
        "--html",
        str(tmp_path / "b.html"),
    )
    assert board.returncode == 0, board.stderr
    assert '"results": []' in (tmp_path / "b.json").read_text()
    assert "<html" in (tmp_path / "b.html").read_text()
    assert not list(ta.home.glob("ta-data/*.sqlite3"))
    one_line_error(
        ta.cli("ta", "leaderboard", "nope", "--phase", "dev", "--split", "dev"), 2, "nope"
    )


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker"]])
def test_the_service_never_grades_unisolated(command: list[str], tmp_path: Path) -> None:
    env = {**os.environ, "DLGRADER_SANDBOX": "process", "DLGRADER_DATA_DIR": str(tmp_path)}
    if command == ["worker"]:  # it checks the sandbox once its broker and database answer
        env["DLGRADER_BROKER_URL"] = "redis://127.0.0.1:1/0"
    one_line_error(run_cli(command, env), 2, "runs submissions unisolated")


@pytest.mark.parametrize("command", [["serve", "--port", "1"], ["reaper", "--once"], ["worker"]])
def test_server_commands_without_their_database_say_so(command: list[str]) -> None:
    env = {
        **os.environ,
        "DLGRADER_DATABASE_URL": f"postgresql+psycopg://x:y@127.0.0.1:{free_port()}/none",
        "DLGRADER_BROKER_URL": "redis://127.0.0.1:1/0",
    }
    if command[0] == "serve":
        env.pop("DLGRADER_BROKER_URL")
    one_line_error(run_cli(command, env), 3, "cannot use the database")


def raw_post(url: str, headers: str, body: bytes = b"") -> str:
    """A POST over a plain socket, so the test decides how much body is ever sent."""
    import select

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(f"POST /api/v1/submissions HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode())
        for start in range(0, len(body), 1 << 16):  # stop sending once the server answers
            if select.select([s], [], [], 0)[0]:
                break
            try:
                s.sendall(body[start : start + (1 << 16)])
            except OSError:
                break
        return s.recv(4096).decode("latin-1")


def test_no_body_is_read_before_the_token_and_the_size_are_checked(ta: Server) -> None:
    gigabyte = "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1073741824\r\n"
    answer = raw_post(ta.url, gigabyte)  # headers only: the answer comes without a body
    assert answer.startswith("HTTP/1.1 401"), answer
    answer = raw_post(ta.url, gigabyte + "Authorization: Bearer dlg_not-a-token\r\n")
    assert answer.startswith("HTTP/1.1 401"), answer
    answer = raw_post(ta.url, gigabyte + f"Authorization: Bearer {ta.admin_token}\r\n")
    assert answer.startswith("HTTP/1.1 413"), answer
    chunked = (
        "Content-Type: multipart/form-data; boundary=x\r\nTransfer-Encoding: chunked\r\n"
        f"Authorization: Bearer {ta.admin_token}\r\n"
    )
    chunk = b"x" * (1 << 20)
    body = b"".join(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(20))
    answer = raw_post(ta.url, chunked, body)  # 20 MB, past the 16 MB cap, with no length
    assert answer.startswith("HTTP/1.1 413"), answer


@pytest.mark.slow
def test_staff_push_a_checked_assignment_and_students_submit_to_it(
    ta: Server, tmp_path: Path
) -> None:
    import shutil

    folder = tmp_path / "rnn-layers"
    shutil.copytree(ROOT / "examples" / "rnn-course" / "assignments" / "rnn-layers", folder)
    pushed = ta.cli("ta", "admin", "assignment", "push", str(folder))
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    assert "checked here" in pushed.stdout
    assert "rnn-layers 2026.1" in pushed.stdout
    assert "(new)" in pushed.stdout
    solution = folder / "solution" / "rnn_layers.py"
    graded = ta.cli("ta", "submit", str(solution), "-a", "rnn-layers", "--wait")
    assert graded.returncode == 0, graded.stdout + graded.stderr
    assert "43 / 43" in graded.stdout
    # A wrong staff solution never reaches the server.
    solution.write_text(solution.read_text().replace("da.sum(axis=0)", "2 * da.sum(axis=0)", 1))
    refused = ta.cli("ta", "admin", "assignment", "push", str(folder))
    assert refused.returncode == 4, refused.stdout + refused.stderr
    assert "nothing was pushed" in refused.stderr


@pytest.mark.slow  # four evaluations in bubblewrap
def test_a_ta_imports_a_bundle_remotely_and_each_evaluation_exits_by_the_table(
    ta: Server, tmp_path: Path
) -> None:
    from tests.challenges.test_bundles import write_bundle

    bundle = write_bundle(tmp_path / "bundle")
    imported = ta.cli("ta", "challenge", "import", str(bundle), "--remote", "--name", "tiny")
    assert imported.returncode == 0, imported.stdout + imported.stderr
    assert "imported tiny version" in imported.stdout
    carol = ta.cli("ta", "admin", "token", "create", "--user", "carol").stdout.split()[-1]
    assert ta.cli("carol", "login", "--server", ta.url, "--token", carol).returncode == 0
    one_line_error(
        ta.cli("carol", "challenge", "import", str(bundle), "--remote"), 2, "needs the ta role"
    )

    def submit(answers: dict[str, object], metadata: str) -> subprocess.CompletedProcess[str]:
        path = tmp_path / "answers.json"
        path.write_text(json.dumps(answers))
        args = ["challenge", "submit", str(path), "-c", "tiny", "--phase", "dev", "--wait"]
        return ta.cli("carol", *args, "--metadata", metadata)

    model = '{"model": "guess"}'
    scored = submit({"answers": {"a": 1, "b": 2}}, model)
    assert scored.returncode == 0, scored.stdout + scored.stderr
    assert "dev_split: accuracy 0.4, correct 2" in scored.stdout
    one_line_error(submit({"answers": {}}, '{"size": "M"}'), 2, "model")  # required, missing
    crashed = submit({"mode": "crash"}, model)  # evaluate() raised: the submission's verdict
    assert crashed.returncode == 4, crashed.stdout + crashed.stderr
    assert "ValueError" in crashed.stdout
    broken = submit({"mode": "garbage"}, model)  # the host's script broke its own schema
    assert broken.returncode == 3, broken.stdout + broken.stderr
    assert "evaluation script is broken" in broken.stdout
    board = tmp_path / "tiny.json"
    shown = ta.cli(
        "ta", "leaderboard", "tiny", "--phase", "dev", "--split", "dev_split", "--json", str(board)
    )
    assert shown.returncode == 0, shown.stderr
    (entry,) = json.loads(board.read_text())["results"]
    assert entry["result"] == [0.4, 2]
    assert entry["submission__submission_metadata"] == {"model": "guess"}
    listed = ta.cli("carol", "submissions")  # challenge rows have no max_score
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.count(" tiny ") == 3
    first = scored.stdout.split("submitted ")[1].split()[0]
    status = ta.cli("carol", "status", first)
    assert status.returncode == 0, status.stderr
