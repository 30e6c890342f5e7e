"""Hostile and broken submissions through the real bubblewrap: each gets a definite
verdict, the grader keeps running, and nothing outside the sandbox changes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from grader.grading.course import get_assignment
from grader.grading.grade import grade
from grader.grading.specs import Assignment
from grader.sandbox import select_sandbox
from grader.sandbox.bwrap import BwrapSandbox
from submissions_schema import GradingResult, TestStatus, Verdict
from tests.grading.helpers import processes_matching

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "cnn-layers" / "layers.py"

pytestmark = [pytest.mark.integration]


@pytest.fixture(params=["bwrap", "docker"], autouse=True)
def sandbox_name(request: pytest.FixtureRequest) -> str:
    """Every hostile case runs through both sandboxes and must get the same verdict."""
    from grader.sandbox.docker_sandbox import DockerSandbox

    name = str(request.param)
    problem = (BwrapSandbox if name == "bwrap" else DockerSandbox).available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{name}: {problem}")
        pytest.skip(f"{name}: {problem}")
    SANDBOX[0] = name
    return name


SANDBOX = ["bwrap"]


def small_assignment(time_limit_s: float = 20.0, preserve: tuple[str, ...] = ()) -> Assignment:
    """cnn-layers cut to its ReLU problem, so each hostile run is short; `preserve` names
    the inputs its contract says the student must not modify."""
    spec = get_assignment("cnn-layers")
    relu = next(p for p in spec.problems if p.name == "relu")
    relu = relu.model_copy(
        update={"time_limit_s": 2.0, "hidden_cases": 0, "preserve": list(preserve)}
    )
    return spec.model_copy(
        update={
            "problems": [relu],
            "time_limit_s": time_limit_s,
        }
    )


def run(
    tmp_path: Path, source: str | bytes, time_limit_s: float = 20.0, preserve: tuple[str, ...] = ()
) -> GradingResult:
    path = tmp_path / "layers.py"
    if isinstance(source, bytes):
        path.write_bytes(source)
    else:
        path.write_text(source)
    spec = small_assignment(time_limit_s, preserve)
    return grade(path, spec, select_sandbox(SANDBOX[0]), secret_seed=1)


GOOD = """
import numpy as np
def relu_forward(x):
    return np.maximum(0, x), x
def relu_backward(dout, cache):
    return dout * (cache > 0)
"""


def statuses(result: GradingResult) -> set[TestStatus]:
    return {t.status for t in result.tests}


def test_baseline_passes(tmp_path: Path) -> None:
    assert run(tmp_path, GOOD).score == pytest.approx(3.0)


def test_syntax_error(tmp_path: Path) -> None:
    result = run(tmp_path, "def relu_forward(x):\n    return (\n")
    assert result.verdict == Verdict.graded
    assert result.score == 0
    assert "SyntaxError" in result.message


def test_non_utf8_source(tmp_path: Path) -> None:
    result = run(tmp_path, b"x = '\xff\xfe'\n")
    assert result.score == 0
    assert "SyntaxError" in result.message


def test_missing_function(tmp_path: Path) -> None:
    result = run(
        tmp_path, "import numpy as np\ndef relu_forward(x):\n    return np.maximum(0, x), x\n"
    )
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert {t.status for t in backward} == {TestStatus.missing}
    assert all(t.status == TestStatus.passed for t in result.tests if t.function == "relu_forward")


def test_wrong_signature(tmp_path: Path) -> None:
    result = run(tmp_path, GOOD.replace("def relu_forward(x):", "def relu_forward(x, y):"))
    forward = [t for t in result.tests if t.function == "relu_forward"]
    assert {t.status for t in forward} == {TestStatus.error}
    assert "TypeError" in forward[0].message


@pytest.mark.parametrize(
    "exit_call",
    [
        "import sys; sys.exit(0)",
        "import os; os._exit(0)",
        # The exit status of a container stopped from outside: still the student's doing.
        "import os; os._exit(137)",
    ],
)
def test_exit_at_import(tmp_path: Path, exit_call: str) -> None:
    result = run(tmp_path, f"{exit_call}\n{GOOD}")
    assert result.verdict == Verdict.graded
    assert result.score == 0


def test_sigkill_to_itself_at_import_is_not_taken_for_a_sandbox_failure(tmp_path: Path) -> None:
    # Under bubblewrap the harness dies; in Docker it is PID 1 and the kernel ignores it.
    result = run(tmp_path, f"import os, signal; os.kill(os.getpid(), signal.SIGKILL)\n{GOOD}")
    assert result.verdict == Verdict.graded


def test_os_exit_inside_a_function(tmp_path: Path) -> None:
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", "import os; os._exit(0)"))
    assert result.verdict == Verdict.graded
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert all(t.status == TestStatus.error for t in backward)
    assert "never returned" in backward[0].message


def test_sys_exit_inside_a_function(tmp_path: Path) -> None:
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", "import sys; sys.exit(0)"))
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert all(t.status == TestStatus.error and "SystemExit" in t.message for t in backward)


@pytest.mark.slow  # each waits out its time limit
@pytest.mark.parametrize(
    "body",
    [
        "while True: pass",
        "import time; time.sleep(3600)",
        "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n    while True: pass",
    ],
)
def test_loops_and_sleeps_time_out(tmp_path: Path, body: str) -> None:
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert {t.status for t in backward} <= {TestStatus.timeout, TestStatus.error}
    assert TestStatus.timeout in {t.status for t in backward}


@pytest.mark.slow  # waits out the wall limit
def test_alarm_swallowed_by_the_student_hits_the_wall_limit(tmp_path: Path) -> None:
    body = "while True:\n        try:\n            while True: pass\n        except BaseException: pass"
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body), time_limit_s=6)
    assert result.verdict == Verdict.graded
    assert all(t.score == 0 for t in result.tests if t.function == "relu_backward")


def test_allocating_100_gb(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        GOOD.replace(
            "return dout * (cache > 0)", "import numpy as np; a = np.ones(100 * 2**30 // 8)"
        ),
    )
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert {t.status for t in backward} == {TestStatus.error}
    assert "MemoryError" in backward[0].message


@pytest.mark.slow  # waits for the process limit to hold the bomb
def test_fork_bomb(tmp_path: Path) -> None:
    body = "import os\n    while True:\n        try: os.fork()\n        except OSError: pass"
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body), time_limit_s=8)
    assert result.verdict == Verdict.graded
    assert all(t.score == 0 for t in result.tests if t.function == "relu_backward")


def test_many_threads(tmp_path: Path) -> None:
    body = (
        "import threading, time\n    for _ in range(100000):\n"
        "        threading.Thread(target=time.sleep, args=(60,), daemon=True).start()"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body), time_limit_s=8)
    assert result.verdict == Verdict.graded
    assert all(t.score == 0 for t in result.tests if t.function == "relu_backward")


IN_PLACE_RELU = GOOD.replace(
    "return np.maximum(0, x), x", "np.maximum(x, 0, out=x)\n    return x, x"
).replace("return dout * (cache > 0)", "dout[cache <= 0] = 0\n    return dout")


def test_modifying_an_input_in_place_is_allowed_unless_the_contract_says_not(
    tmp_path: Path,
) -> None:
    """Every call gets its own copies, so changing one in place harms nobody: correct
    code written that way (CS231n's in-place ReLU, `dout[...] = 0`) earns its points."""
    allowed = run(tmp_path, IN_PLACE_RELU)
    assert allowed.score == allowed.max_score, [t.message for t in allowed.tests]


def test_modifying_an_input_in_place_is_named(tmp_path: Path) -> None:
    result = run(tmp_path, IN_PLACE_RELU, preserve=("x",))
    forward = [t for t in result.tests if t.function == "relu_forward"]
    assert {t.status for t in forward} == {TestStatus.error}
    assert "in place" in forward[0].message


def test_patching_numpy_does_not_hide_an_in_place_change(tmp_path: Path) -> None:
    """The check compares on the trusted side; the sandbox's NumPy is the student's."""
    patched = "import numpy as np\nnp.array_equal = lambda *a, **k: True\n" + IN_PLACE_RELU
    result = run(tmp_path, patched, preserve=("x",))
    forward = [t for t in result.tests if t.function == "relu_forward"]
    assert {t.status for t in forward} == {TestStatus.error}
    assert "in place" in forward[0].message


@pytest.mark.slow  # prints until its time limit
def test_printing_forever(tmp_path: Path) -> None:
    body = "while True: print('x' * 1000)"
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body), time_limit_s=6)
    assert result.verdict == Verdict.graded
    assert all(t.score == 0 for t in result.tests if t.function == "relu_backward")


def test_huge_file_and_many_files(tmp_path: Path) -> None:
    body = (
        "f = open('/tmp/big', 'wb')\n    f.write(b'0' * (200 << 20))\n    return dout * (cache > 0)"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    assert all(t.status == TestStatus.error for t in result.tests if t.function == "relu_backward")
    body = "fs = [open('/tmp/f%d' % i, 'w') for i in range(1000000)]"
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    assert all(t.status == TestStatus.error for t in result.tests if t.function == "relu_backward")


def test_filling_the_output_folder_is_stopped(tmp_path: Path) -> None:
    body = (
        "i = 0\n    while True:\n        i += 1\n"
        "        with open('/out/junk%d' % i, 'wb') as f: f.write(b'0' * (32 << 20))"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body), time_limit_s=30)
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert all(t.score == 0 for t in backward)
    assert "too much into its output folder" in backward[0].message
    assert result.execution_time_s < 20


def test_filling_tmp_is_refused(tmp_path: Path) -> None:
    body = (
        "for i in range(100):\n        with open('/tmp/junk%d' % i, 'wb') as f: f.write(b'0' * (16 << 20))\n"
        "    return dout * (cache > 0)"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert {t.status for t in backward} == {TestStatus.error}
    assert "No space left" in backward[0].message or "OSError" in backward[0].message


def test_network_is_unreachable(tmp_path: Path) -> None:
    body = (
        "import socket\n    socket.create_connection(('1.1.1.1', 80), timeout=1)\n"
        "    return dout * (cache > 0)"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert all(t.status == TestStatus.error for t in backward)
    assert "OSError" in backward[0].message or "unreachable" in backward[0].message.lower()


@pytest.mark.parametrize(
    "target",
    ["/etc/shadow", "/work", str(Path(__file__).resolve()), str(Path(__file__).parents[2])],
)
def test_files_outside_the_submission_are_not_there(tmp_path: Path, target: str) -> None:
    body = f"import os\n    os.listdir({target!r}) if os.path.isdir({target!r}) else open({target!r}).read()\n    return dout * (cache > 0)"
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert all(t.status == TestStatus.error for t in backward), backward[0].message


@pytest.mark.parametrize("module", ["grader", "reference_impl", "submissions_schema"])
def test_grader_and_reference_cannot_be_imported(tmp_path: Path, module: str) -> None:
    result = run(tmp_path, f"import {module}\n{GOOD}")
    assert result.score == 0
    assert "ModuleNotFoundError" in result.message


def test_printing_fake_results_changes_nothing(tmp_path: Path) -> None:
    fake = (
        'print(\'{"score": 100, "tests": []}\')\n'
        "open('/out/results.json', 'w').write('{\"score\": 100}')\n"
        'open(\'/out/status.jsonl\', \'a\').write(\'{"id": "relu.0.b", "status": "ok"}\\n\')\n'
    )
    result = run(tmp_path, fake + GOOD.replace("return dout * (cache > 0)", "return dout"))
    assert result.score == pytest.approx(1.0)  # the forwards only


def test_monkeypatching_numpy_changes_nothing(tmp_path: Path) -> None:
    patch = "import numpy as np\nnp.allclose = lambda *a, **k: True\nnp.array_equal = lambda *a, **k: True\n"
    result = run(tmp_path, patch + GOOD.replace("return dout * (cache > 0)", "return dout"))
    assert result.score == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("ret", "status"),
    [
        (
            "class A(np.ndarray):\n        def __eq__(self, o): return True\n    return np.zeros_like(dout).view(A)",
            TestStatus.error,
        ),
        ("return np.array([object()] * dout.size, dtype=object)", TestStatus.error),
        ("return dout.tolist()", TestStatus.error),
        ("return dout * np.nan", TestStatus.failed),
        ("return dout * np.inf", TestStatus.failed),
        ("return dout[:1]", TestStatus.failed),
        ("return (dout * (cache > 0)).astype(np.float16)", TestStatus.failed),
    ],
)
def test_bad_return_values(tmp_path: Path, ret: str, status: TestStatus) -> None:
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", ret))
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert {t.status for t in backward} == {status}, [t.message for t in backward]


def test_symlink_in_the_output_folder_is_not_followed(tmp_path: Path) -> None:
    body = (
        "import os\n    for f in os.listdir('/out'):\n"
        "        if f.endswith('.npy'): os.remove('/out/' + f); os.symlink('/etc/passwd', '/out/' + f)\n"
        "    return dout * (cache > 0)"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    assert result.verdict == Verdict.graded


@pytest.mark.parametrize("name", ["numpy.py", "sitecustomize.py"])
def test_shipped_numpy_or_sitecustomize_is_not_used(tmp_path: Path, name: str) -> None:
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "layers.py").write_text(GOOD)
    (folder / name).write_text("raise SystemExit('hijacked')\n")
    result = grade(folder, small_assignment(), select_sandbox(SANDBOX[0]), secret_seed=1)
    assert result.score == pytest.approx(3.0)


def test_nothing_outside_changes(tmp_path: Path) -> None:
    marker = tmp_path / "outside.txt"
    marker.write_text("untouched")
    os.chmod(tmp_path, 0o777)
    body = f"open({str(marker)!r}, 'w').write('owned')\n    return dout * (cache > 0)"
    sub = tmp_path / "s"
    sub.mkdir()
    run(sub, GOOD.replace("return dout * (cache > 0)", body))
    assert marker.read_text() == "untouched"


def test_orphaned_new_session_child_is_not_left_behind(tmp_path: Path) -> None:
    marker = f"orphan-{os.getpid()}-{SANDBOX[0]}"
    body = (
        "import subprocess, sys\n"
        "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
        f"{marker!r}], start_new_session=True)\n"
        "    return dout * (cache > 0)"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    assert result.score == pytest.approx(3.0)
    assert processes_matching(marker) == []


def test_killing_the_parent_harness(tmp_path: Path) -> None:
    body = (
        "import os, signal\n    os.kill(os.getppid(), signal.SIGKILL)\n"
        "    os.kill(1, signal.SIGKILL)\n    return dout * (cache > 0)"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    assert result.verdict == Verdict.graded
    assert all(t.status == TestStatus.passed for t in result.tests if t.function == "relu_forward")


def test_ctypes_segfault_is_a_crash_not_a_grader_error(tmp_path: Path) -> None:
    body = "import ctypes\n    ctypes.string_at(0)"
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    assert result.verdict == Verdict.graded
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert {t.status for t in backward} == {TestStatus.error}
    assert "segmentation fault (SIGSEGV)" in backward[0].message


def test_malicious_pickle_in_an_output_file_is_never_loaded(tmp_path: Path) -> None:
    witness = tmp_path / "pwned"
    os.chmod(tmp_path, 0o777)
    body = (
        "import os, pickle\n"
        "    class Evil:\n"
        f"        def __reduce__(self): return (open, ({str(witness)!r}, 'w'))\n"
        "    out = np.array([Evil()], dtype=object)\n"
        "    for f in os.listdir('/out'):\n"
        "        if f.endswith('.npy'): np.save('/out/' + f, out, allow_pickle=True)\n"
        "    return dout * (cache > 0)"
    )
    sub = tmp_path / "s"
    sub.mkdir()
    result = run(sub, GOOD.replace("return dout * (cache > 0)", body))
    assert result.verdict == Verdict.graded
    assert not witness.exists()
    forward = [t for t in result.tests if t.function == "relu_forward"]
    assert forward
    assert all(t.score == 0 for t in forward)  # its outputs were replaced, unread


def test_a_10_gb_output_file_is_refused(tmp_path: Path) -> None:
    # Even a sparse one (10 GB by its size, nothing on disk) stops at the file-size rlimit; past
    # it, the trusted side checks each output's size before it reads a byte.
    body = (
        "import os\n"
        "    for f in os.listdir('/out'):\n"
        "        if f.endswith('.npy'):\n"
        "            with open('/out/' + f, 'r+b') as h: h.truncate(10 << 30)\n"
        "    return dout * (cache > 0)"
    )
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    assert result.verdict == Verdict.graded
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert {t.status for t in backward} == {TestStatus.error}
    assert "File too large" in backward[0].message


def test_environment_holds_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "s3cr3t-" + str(os.getpid())
    monkeypatch.setenv("DLGRADER_HIDDEN_SEED", secret)
    monkeypatch.setenv("DLGRADER_DATABASE_URL", f"postgresql://u:{secret}@db/x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    body = "import os\n    raise RuntimeError(repr(dict(os.environ)))"
    result = run(tmp_path, GOOD.replace("return dout * (cache > 0)", body))
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert "RuntimeError" in backward[0].message
    assert secret not in result.model_dump_json()


@pytest.mark.slow  # two bombs held for their whole time limit
def test_two_fork_bombs_do_not_starve_a_third_job(tmp_path: Path) -> None:
    """Each bubblewrap job runs as a uid of its own (a Docker job in a container of its
    own): RLIMIT_NPROC, counted per uid, was one pool for every job beside the bombs."""
    from concurrent.futures import ThreadPoolExecutor

    body = (  # children that hold their process slots; a parent no alarm stops
        "import os, signal, time\n"
        "    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGALRM])\n"
        "    while True:\n"
        "        try:\n"
        "            if os.fork() == 0:\n"
        "                time.sleep(60)\n"
        "        except OSError:\n"
        "            time.sleep(0.05)"
    )
    bomb = GOOD.replace("return dout * (cache > 0)", body)
    dirs = [tmp_path / name for name in ("bomb1", "bomb2", "good")]
    for d in dirs:
        d.mkdir()
    with ThreadPoolExecutor(3) as pool:
        bombs = [pool.submit(run, d, bomb, 12.0) for d in dirs[:2]]
        time.sleep(2)  # the bombs have forked to their limits
        # Correct code that starts a thread, as torch and BLAS do: a task of its uid.
        threaded = GOOD.replace(
            "return np.maximum(0, x), x",
            "from concurrent.futures import ThreadPoolExecutor\n"
            "    with ThreadPoolExecutor(1) as pool:\n"
            "        return pool.submit(np.maximum, 0, x).result(), x",
        )
        good = run(dirs[2], threaded)
        for b in bombs:
            b.result()
    assert good.verdict == Verdict.graded
    assert good.score == good.max_score, [t.message for t in good.tests if t.score < t.max_score]


@pytest.mark.slow  # four processes fill 4.8 GB between them
def test_memory_is_bounded_per_job_not_per_process(tmp_path: Path) -> None:
    """Four 1.2 GB processes each stay under RLIMIT_AS (2 GB): only the job's cgroup
    (bubblewrap) or container (Docker) bounds their sum."""
    body = (
        "import subprocess, sys\n"
        "    hog = \"x = b'x' * (1200 << 20); import time; time.sleep(3)\"\n"
        "    procs = [subprocess.Popen([sys.executable, '-c', hog]) for _ in range(4)]\n"
        "    if any(p.wait() for p in procs):\n"
        "        raise MemoryError('a child was killed')\n"
        "    return dout * (cache > 0)"
    )
    spec = small_assignment(60)
    relu = spec.problems[0].model_copy(update={"time_limit_s": 20.0})  # time for the hogs
    path = tmp_path / "layers.py"
    path.write_text(GOOD.replace("return dout * (cache > 0)", body))
    spec = spec.model_copy(update={"problems": [relu]})
    result = grade(path, spec, select_sandbox(SANDBOX[0]), secret_seed=1)
    assert result.verdict == Verdict.graded
    backward = [t for t in result.tests if t.function == "relu_backward"]
    assert backward
    assert all(t.score == 0 for t in backward), [t.message for t in backward]
    assert any("memory" in t.message or "killed" in t.message for t in backward)
