"""Time from upload to result for one `autodiff` submission, through both paths:

  embedded  `dlgrader serve` alone: SQLite, the in-process pool, bubblewrap
  docker    the API and a Celery worker on PostgreSQL and Redis, a Docker sandbox

    eval "$(scripts/services)"; python bench/upload_to_result.py [--repeats 5]

Each submission is timed from the POST until the API reports it graded (polled
every 20 ms), with warm processes: one untimed submission first.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = (ROOT / "examples" / "autodiff" / "autodiff.py").read_bytes()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli(env: dict[str, str], *args: str, log: Path | None = None) -> subprocess.Popen[bytes]:
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "grader.cli", *args],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )


def token(env: dict[str, str]) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "grader.cli",
            "admin",
            "token",
            "create",
            "--user",
            "bench",
            "--local",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip().splitlines()[-1]


def time_one(server: str, bearer: str) -> float:
    headers = {"Authorization": f"Bearer {bearer}"}
    start = time.perf_counter()
    upload = {"file": ("autodiff.py", SOLUTION)}
    response = httpx.post(
        f"{server}/api/v1/submissions",
        headers=headers,
        timeout=30,
        files=upload,
        data={"assignment": "autodiff"},
    )
    response.raise_for_status()
    submission_id = response.json()["id"]
    while True:
        status = httpx.get(
            f"{server}/api/v1/submissions/{submission_id}", headers=headers, timeout=30
        ).json()["status"]
        if status in ("graded", "failed", "rejected"):
            assert status == "graded", status
            return time.perf_counter() - start
        time.sleep(0.02)


def measure(env: dict[str, str], workers: int, repeats: int, logs: Path) -> list[float]:
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    processes = [cli(env, "serve", "--port", str(port), log=logs / "api.log")]
    processes += [
        cli(env, "worker", "--concurrency", "1", log=logs / f"worker{i}.log")
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        bearer = token(env)
        time_one(server, bearer)  # warm: imports, caches, the first container
        return [time_one(server, bearer) for _ in range(repeats)]
    finally:
        for p in processes:
            os.killpg(p.pid, signal.SIGTERM)
        for p in processes:
            p.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="dlgrader-bench-"))
    base = {**os.environ, "DLGRADER_HIDDEN_SEED": "1", "PYTHONUNBUFFERED": "1"}
    for key in ("DLGRADER_DATABASE_URL", "DLGRADER_BROKER_URL"):
        base.pop(key, None)

    embedded = {**base, "DLGRADER_DATA_DIR": str(tmp / "embedded"), "DLGRADER_SANDBOX": "bwrap"}
    results = {"embedded (SQLite, in-process, bwrap)": measure(embedded, 0, args.repeats, tmp)}

    postgres = os.environ.get("DLGRADER_TEST_POSTGRES_URL")
    if postgres:
        import psycopg

        name = f"bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(postgres.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        docker = {
            **base,
            "DLGRADER_DATA_DIR": str(tmp / "docker"),
            "DLGRADER_SANDBOX": "docker",
            "DLGRADER_DATABASE_URL": postgres.rsplit("/", 1)[0] + f"/{name}",
            "DLGRADER_BROKER_URL": "redis://127.0.0.1:6379/15",
        }
        label = "docker (PostgreSQL, Redis, Celery, Docker)"
        results[label] = measure(docker, 1, args.repeats, tmp)
    else:
        print('(no DLGRADER_TEST_POSTGRES_URL: `eval "$(scripts/services)"` for the Docker path)')

    print(f"autodiff example, upload to result, {args.repeats} submissions each after one warm-up")
    for path, times in results.items():
        print(
            f"  {path:<44} median {statistics.median(times):6.3f} s   "
            f"min {min(times):6.3f} s   max {max(times):6.3f} s"
        )


if __name__ == "__main__":
    main()
