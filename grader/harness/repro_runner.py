"""The reproduce harness: runs one command of a project inside the sandbox.

    python -I repro_runner.py MANIFEST INPUTS_DIR PROJECT_DIR OUT_DIR

Sets the determinism environment before the project's Python starts
(PYTHONHASHSEED, CUBLAS_WORKSPACE_CONFIG, a sitecustomize that seeds random,
NumPy and torch), runs the command (a /bin/sh line) in the (read-only) project folder
with a time limit, and writes `run.json`: exit code, wall time, peak memory, the
metrics file the command wrote, the log's tail, and the nondeterministic operations
seen.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

SITE = str(Path(__file__).resolve().parent / "repro_site")
MAX_METRICS_BYTES = 1 << 20


def fingerprint(env: dict[str, str]) -> dict[str, object]:
    """The environment the runs see: OS, Python, every package, CPU, GPU, determinism."""
    import platform
    from importlib import metadata

    info: dict[str, object] = {
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "packages": dict(
            sorted(
                {
                    d.metadata["Name"]: d.version
                    for d in metadata.distributions()
                    if d.metadata["Name"]
                }.items()
            )
        ),
        "determinism": {k: env[k] for k in ("PYTHONHASHSEED", "CUBLAS_WORKSPACE_CONFIG")},
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        query = ["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"]
        driver = subprocess.run(query, capture_output=True, text=True, timeout=20)
        if driver.returncode == 0:
            info["nvidia_smi"] = driver.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_cuda"] = torch.version.cuda
        info["cudnn"] = (
            torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        )
        if torch.cuda.is_available():
            props = torch.cuda.get_device_properties(0)
            info["gpu"] = props.name
            info["gpu_multiprocessors"] = props.multi_processor_count
            info["gpu_capability"] = f"{props.major}.{props.minor}"
        info["determinism"] = {
            **info["determinism"],  # type: ignore[dict-item]
            "cudnn.benchmark": False,
            "cudnn.deterministic": True,
            "use_deterministic_algorithms": "warn_only",
        }
    except ImportError:
        pass
    return info


def main(manifest_path: str, inputs_dir: str, project_dir: str, out_dir: str) -> int:
    manifest = json.loads(Path(manifest_path).read_text())
    out = Path(out_dir)
    run_dir = out / "run"
    run_dir.mkdir(exist_ok=True)
    nondet = out / "nondeterministic.txt"
    seed = str(manifest["seed"])
    python_dir = str(Path(sys.executable).parent)
    env = {
        # /opt/bin: `python` and `python3` for the project's command (bubblewrap links them).
        "PATH": f"/opt/bin:{python_dir}:/usr/bin:/bin",
        "HOME": "/tmp",
        "PYTHONHASHSEED": seed,
        "REPRO_SEED": seed,
        "REPRO_NONDET_FILE": str(nondet),
        "CUBLAS_WORKSPACE_CONFIG": ":4096:8",
        # The sandbox's own package folder, when it has one (bubblewrap), after the hook.
        # Without the hooks when asked (hooks: false), to compare with an unhooked run.
        "PYTHONPATH": os.pathsep.join(
            [
                *([SITE] if manifest.get("hooks", True) else []),
                *[p for p in sys.path if p.startswith("/opt/site")],
            ]
        ),
        # The project declares its threads (run.threads), recorded in the fingerprint.
        "OMP_NUM_THREADS": str(int(manifest.get("threads", 1))),
        "OPENBLAS_NUM_THREADS": str(int(manifest.get("threads", 1))),
        "MKL_NUM_THREADS": str(int(manifest.get("threads", 1))),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for key in ("LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES"):
        if key in os.environ:
            env[key] = os.environ[key]
    # A shell, as a README's command line is written (`cd src && python train.py`,
    # `X=1 python ...`): it runs inside the sandbox, so it adds no reach.
    argv = ["/bin/sh", "-c", manifest["command"].replace("{out}", shlex.quote(str(run_dir)))]
    start = time.monotonic()
    log = out / "log.txt"
    timed_out = False
    with open(log, "wb") as log_file:
        try:
            proc = subprocess.Popen(
                argv,
                cwd=project_dir,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            log_file.write(f"cannot start {argv[0]}: {exc}\n".encode())
            proc = None
        code = None
        if proc is not None:
            try:
                code = proc.wait(timeout=float(manifest["time_limit_s"]))
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    wall = time.monotonic() - start
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    metrics: dict[str, float] = {}
    metrics_path = Path(manifest["metrics_file"].replace("{out}", str(run_dir)))
    try:
        if metrics_path.is_file() and metrics_path.stat().st_size <= MAX_METRICS_BYTES:
            loaded = json.loads(metrics_path.read_text())
            if isinstance(loaded, dict):
                metrics = {
                    k: float(v)
                    for k, v in loaded.items()
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                }
    except (ValueError, OSError):
        pass
    tail = log.read_bytes()[-4000:].decode("utf-8", "replace") if log.exists() else ""
    ops = nondet.read_text().splitlines() if nondet.exists() else []
    record = {
        "exit_code": code,
        "wall_s": round(wall, 3),
        "peak_memory_mb": round(peak_kb / 1024, 1),
        "metrics": metrics,
        "timed_out": timed_out,
        "log_tail": tail,
        "nondeterministic_ops": sorted(set(ops))[:50],
    }
    (out / "run.json").write_text(json.dumps(record))
    if manifest.get("fingerprint"):
        (out / "fingerprint.json").write_text(json.dumps(fingerprint(env), default=str))
    return 0


if __name__ == "__main__":
    os.umask(0o022)
    sys.exit(main(*sys.argv[1:5]))
