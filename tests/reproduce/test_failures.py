"""Every way a reproduction goes wrong gets a verdict that says what failed — through
bubblewrap, on small projects that fail the way real ones did."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.reproduce.job import ReproduceJob, error_line
from grader.sandbox import select_sandbox
from grader.sandbox.bwrap import BwrapSandbox
from submissions_schema.reproduce import ClaimVerdict, ReproduceReport

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(BwrapSandbox.available() is not None, reason="no bubblewrap"),
]

HEAD = """
import json, os, sys
from pathlib import Path
seed = int(sys.argv[sys.argv.index("--seed") + 1])
out = Path(sys.argv[sys.argv.index("--out") + 1]); out.mkdir(parents=True, exist_ok=True)
"""
CLAIMS = """
run: {cmd: "python train.py --seed {seed} --out {out}", seeds: [0, 1, 2, 3], time_limit_s: 30, packages: [numpy]%s}
claims: [{id: C1, type: absolute, metric: acc, kind: percent, reported: {value: 90.0}}]
"""


def project(tmp_path: Path, body: str, run_extra: str = "") -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "train.py").write_text(HEAD + body)
    (tmp_path / "claims.yaml").write_text(CLAIMS % run_extra)
    return tmp_path


def execute(folder: Path, **kwargs: object) -> ReproduceReport:
    report = ReproduceJob(folder, select_sandbox("bwrap"), **kwargs).execute()  # type: ignore[arg-type]
    ReproduceReport.model_validate_json(report.model_dump_json())  # always valid JSON
    json.loads(report.model_dump_json())
    return report


def test_a_metric_never_written_names_those_that_were(tmp_path: Path) -> None:
    body = '(out / "metrics.json").write_text(json.dumps({"accuracy": 90.0, "loss": 0.3}))\n'
    claim = execute(project(tmp_path, body)).claims[0]
    assert claim.verdict == ClaimVerdict.failed_to_run
    assert claim.reason == "no run wrote acc; they wrote accuracy, loss"


@pytest.mark.slow
def test_shared_memory_works_as_a_data_loaders_workers_use_it(tmp_path: Path) -> None:
    """torch's DataLoader with num_workers > 0 passes batches through /dev/shm."""
    body = (
        "from multiprocessing import shared_memory\n"
        "block = shared_memory.SharedMemory(create=True, size=1 << 20)\n"
        "block.buf[0] = 7\n"
        "block.close(); block.unlink()\n"
        '(out / "metrics.json").write_text(json.dumps({"acc": 90.0 + seed / 100}))\n'
    )
    report = execute(project(tmp_path, body))
    assert [r.failure for r in report.runs] == [""] * len(report.runs)
    assert report.claims[0].verdict == ClaimVerdict.reproduced


@pytest.mark.slow
def test_metrics_at_the_wrong_path_say_what_the_run_wrote(tmp_path: Path) -> None:
    body = '(out / "results.json").write_text(json.dumps({"acc": 90.0}))\n'
    report = execute(project(tmp_path, body))
    assert report.runs[0].failure == "no metrics in metrics.json: the run wrote results.json"
    assert "results.json" in report.claims[0].reason


@pytest.mark.slow
def test_nan_is_a_failure_and_the_report_stays_valid_json(tmp_path: Path) -> None:
    body = 'print("{\\"acc\\": NaN}", file=open(out / "metrics.json", "w"))\n'
    report = execute(project(tmp_path, body))
    assert "acc is not a finite number" in report.runs[0].failure
    assert report.claims[0].verdict == ClaimVerdict.failed_to_run


def test_one_crashing_seed_leaves_a_verdict_on_the_rest(tmp_path: Path) -> None:
    body = (
        'if seed == 2:\n    raise ValueError("bad batch at step 7")\n'
        '(out / "metrics.json").write_text(json.dumps({"acc": 90.0 + seed / 100}))\n'
    )
    claim = execute(project(tmp_path, body)).claims[0]
    assert claim.verdict == ClaimVerdict.reproduced
    assert "judged on 3 runs; 1 failed: default seed 2: exit code 1: ValueError: bad batch" in (
        claim.reason
    )


@pytest.mark.slow
def test_the_error_line_is_found_however_much_the_run_printed_after(tmp_path: Path) -> None:
    body = (
        "import traceback\ntry:\n    {}['missing']\nexcept KeyError:\n    traceback.print_exc()\n"
        "for i in range(400):\n    print('cleanup line', i)\n"
        "sys.exit(3)\n"
    )
    report = execute(project(tmp_path, body))
    assert report.runs[0].error_line == "KeyError: 'missing'"
    assert "exit code 3: KeyError: 'missing'" in report.claims[0].reason
    assert error_line("usage: train.py\ntrain.py: error: unrecognized arguments: --lr") == (
        "train.py: error: unrecognized arguments: --lr"
    )


def test_seeds_that_never_reach_the_code_are_called_out(tmp_path: Path) -> None:
    body = '(out / "metrics.json").write_text(json.dumps({"acc": 90.25}))\n'
    claim = execute(project(tmp_path, body)).claims[0]
    assert "every seed gave exactly 90.25" in claim.reason
    assert "one run counted 4 times" in claim.reason


def test_docker_refuses_a_project_that_needs_other_packages(tmp_path: Path) -> None:
    from grader.reproduce.job import ClaimsError
    from grader.sandbox.docker_sandbox import DockerSandbox

    folder = project(tmp_path, "")
    (folder / "claims.yaml").write_text(
        (folder / "claims.yaml")
        .read_text()
        .replace("packages: [numpy]", "packages: [numpy, scikit-learn]")
    )
    with pytest.raises(ClaimsError, match="scikit-learn, which the Docker sandbox image"):
        ReproduceJob(folder, DockerSandbox())


@pytest.mark.slow
def test_the_command_is_a_shell_line_as_a_readme_writes_it(tmp_path: Path) -> None:
    body = '(out / "metrics.json").write_text(json.dumps({"acc": float(os.environ["ACC"])}))\n'
    folder = project(tmp_path / "p", body)
    (folder / "src").mkdir()
    (folder / "train.py").rename(folder / "src" / "train.py")
    claims = (folder / "claims.yaml").read_text()
    line = "cd src && ACC=90 python train.py --seed {seed} --out {out}"
    (folder / "claims.yaml").write_text(
        claims.replace("python train.py --seed {seed} --out {out}", line)
    )
    report = execute(folder)
    assert [r.failure for r in report.runs] == [""] * len(report.runs)
    assert report.runs[0].metrics == {"acc": 90.0}


def test_a_wrong_command_stops_after_two_identical_failures(tmp_path: Path) -> None:
    body = 'sys.exit("train.py: error: unrecognized arguments: --epochs")\n'
    report = execute(project(tmp_path, body))
    assert len(report.runs) == 2  # not all four seeds
    assert report.claims[0].verdict == ClaimVerdict.failed_to_run


@pytest.mark.slow
def test_finished_runs_are_reused_and_a_resumed_job_reruns_nothing(tmp_path: Path) -> None:
    body = (
        '(out / "metrics.json").write_text(json.dumps({"acc": 90.0 + seed / 100}))\n'
        '(out / "model.txt").write_text(f"weights of seed {seed}")\n'
        '(out / "curves").mkdir(); (out / "curves" / "loss.json").write_text("[3, 2, 1]")\n'
        '(out / "scratch.bin").write_bytes(b"not declared")\n'
    )
    folder = project(tmp_path / "p", body, ', artifacts: ["model.txt", "curves/*.json"]')
    first = execute(folder, cache_dir=tmp_path / "cache")
    assert not any(r.cached for r in first.runs)
    run = first.runs[0]
    assert [a.path for a in run.artifacts] == ["curves/loss.json", "model.txt"]
    assert all(a.kept for a in run.artifacts)
    kept = list((tmp_path / "cache" / "artifacts").rglob("model.txt"))
    assert {k.read_text() for k in kept} == {f"weights of seed {s}" for s in range(4)}
    second = execute(folder, cache_dir=tmp_path / "cache")
    assert all(r.cached for r in second.runs)
    assert [c.verdict for c in second.claims] == [c.verdict for c in first.claims]
    claims = folder / "claims.yaml"  # a claim edited: the runs did not change
    claims.write_text(claims.read_text().replace("value: 90.0", "value: 90.1"))
    assert all(r.cached for r in execute(folder, cache_dir=tmp_path / "cache").runs)
    (folder / "train.py").write_text((folder / "train.py").read_text() + "\n# edited\n")
    third = execute(folder, cache_dir=tmp_path / "cache")
    assert not any(r.cached for r in third.runs)  # new code: new runs


@pytest.mark.slow
def test_threads_are_the_projects_to_declare(tmp_path: Path) -> None:
    body = (
        '(out / "metrics.json").write_text(json.dumps('
        '{"acc": 90.0, "threads": int(os.environ["OMP_NUM_THREADS"])}))\n'
    )
    report = execute(project(tmp_path, body, ", threads: 2"))
    assert {r.metrics["threads"] for r in report.runs} == {2.0}


@pytest.mark.slow
def test_a_project_runs_in_its_own_pinned_environment(tmp_path: Path) -> None:
    body = (
        "import numpy as np\n"
        '(out / "metrics.json").write_text(json.dumps('
        '{"acc": 90.0, "numpy_major": int(np.__version__.split(".")[0])}))\n'
    )
    env = ', environment: {requirements: ["numpy==1.26.4"]}'
    report = execute(project(tmp_path / "ok", body, env))
    assert {r.metrics["numpy_major"] for r in report.runs} == {1.0}
    broken = ', environment: {requirements: ["numpy==0.0.1"], no_index: true}'
    refused = execute(project(tmp_path / "bad", body, broken))
    assert refused.verdict == "environment_failed"
    assert "cannot install numpy==0.0.1" in refused.message
    assert refused.runs == []


@pytest.mark.slow
def test_torch_is_seeded_when_the_project_imports_it_and_never_loaded_before(
    tmp_path: Path,
) -> None:
    body = (
        'loaded = int("torch" in sys.modules)\n'
        "import numpy as np\n"
        "draw = float(np.random.rand())\n"
        "import torch\n"
        '(out / "metrics.json").write_text(json.dumps({"acc": 90.0, "loaded": loaded,'
        ' "np": draw, "torch": float(torch.rand(1))}))\n'
    )
    folder = project(tmp_path, body)
    claims = folder / "claims.yaml"
    claims.write_text(claims.read_text().replace("packages: [numpy]", "packages: [numpy, torch]"))
    report = execute(folder)
    assert report.determinism is not None
    assert report.determinism.result.value == "bitwise"
    assert {r.metrics["loaded"] for r in report.runs} == {0.0}
    by_seed = {r.seed: (r.metrics["np"], r.metrics["torch"]) for r in report.runs}
    assert len(set(by_seed.values())) == len(by_seed)  # each seed its own draws


@pytest.mark.slow
def test_prepare_runs_once_and_its_output_is_in_every_run(tmp_path: Path) -> None:
    folder = project(
        tmp_path / "ok",
        'table = json.loads(Path("prepared/table.json").read_text())\n'
        '(out / "metrics.json").write_text(json.dumps({"acc": table["acc"]}))\n',
        ', prepare: "python prepare.py {out}"',
    )
    (folder / "prepare.py").write_text(
        "import json, sys\nfrom pathlib import Path\n"
        "Path(sys.argv[1]).mkdir(parents=True, exist_ok=True)\n"
        'Path(sys.argv[1], "table.json").write_text(json.dumps({"acc": 90.0}))\n'
    )
    report = execute(folder)
    assert report.claims[0].verdict == ClaimVerdict.reproduced
    assert all(r.metrics["acc"] == 90.0 for r in report.runs)
    (folder / "prepare.py").write_text(
        "raise SystemExit('no data here: prepare needs a download')\n"
    )
    stopped = execute(folder)
    assert stopped.verdict == "prepare_failed"
    assert "no data here" in stopped.message


@pytest.mark.slow
def test_the_determinism_check_finds_the_first_diverging_step_and_the_unhooked_run(
    tmp_path: Path,
) -> None:
    body = (
        "import random, time\nimport numpy as np\n"
        "curve = [1.0, 0.5, 0.25]\nrandom.seed(time.time_ns())\n"
        "curve += [0.1 + random.random() / 1e3 for _ in range(3)]\n"
        "(out / 'curve.json').write_text(json.dumps({'loss': curve}))\n"
        # Unseeded NumPy: right under the hooks, different without them.
        "(out / 'metrics.json').write_text(json.dumps({'acc': 90.0 + float(np.random.rand())}))\n"
    )
    folder = project(tmp_path, body, ', curve: "curve.json"')
    report = ReproduceJob(folder, select_sandbox("bwrap"), unhooked=True).execute()
    assert report.determinism is not None
    assert report.determinism.first_divergent_step == 3
    assert "relies on the seeding dlgrader does" in report.determinism.unhooked
    assert report.runs[0].curve["loss"][:3] == [1.0, 0.5, 0.25]


@pytest.mark.slow
def test_a_lock_file_the_project_ships_pins_its_environment(tmp_path: Path) -> None:
    body = (
        "import numpy as np\n"
        '(out / "metrics.json").write_text(json.dumps('
        '{"acc": 90.0, "numpy_major": int(np.__version__.split(".")[0])}))\n'
    )
    folder = project(tmp_path, body, ", environment: {requirements_file: requirements.lock}")
    (folder / "requirements.lock").write_text(
        "# uv pip compile\nnumpy==1.26.4 \\\n    --hash=sha256:0000  # via the project\n"
    )
    report = execute(folder)
    assert {r.metrics["numpy_major"] for r in report.runs} == {1.0}


@pytest.mark.slow
def test_a_pinned_project_runs_in_a_derived_docker_image(tmp_path: Path) -> None:
    from grader.sandbox.docker_sandbox import DockerSandbox

    if DockerSandbox.available() is not None:
        pytest.skip(f"docker: {DockerSandbox.available()}")
    body = (
        "import numpy as np\n"
        '(out / "metrics.json").write_text(json.dumps('
        '{"acc": 90.0, "numpy_major": int(np.__version__.split(".")[0])}))\n'
    )
    folder = project(tmp_path, body, ', environment: {requirements: ["numpy==1.26.4"]}')
    report = ReproduceJob(folder, DockerSandbox()).execute()
    assert report.verdict == "completed", report.message
    assert {r.metrics["numpy_major"] for r in report.runs} == {1.0}
