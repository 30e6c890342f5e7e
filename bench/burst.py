"""A deadline burst: N `autodiff` submissions uploaded at once, graded by one Celery worker
and then by two, on real PostgreSQL, Redis and bubblewrap.

    eval "$(scripts/services)"; python bench/burst.py [--count 1000]

For each worker count, a fresh database and Redis queue: the workers start and beat, the
submissions are uploaded through the HTTP API from 16 threads (100 students, 10 each), and
the run waits until every row is final. Printed side by side: lost (rows never final) and
duplicate results (both must be 0), throughput per worker, the speed-up from one worker to
two, p50 and p95 from upload to result, and the grading overhead per submission: a worker's
time on it (claimed to recorded) minus the student's own calls, timed in this process.
Targets on a 2-core machine: speed-up >= 1.8, overhead <= 0.3 s.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis
from sqlalchemy import func, select

from grader.grading.cases import JobAliases, build_cases, write_job
from grader.grading.course import get_assignment
from grader.harness.runner import Harness
from grader.sandbox import JobDirs
from grader.service.accounts import create_token
from grader.service.db import ResultRow, SubmissionRow, session_scope
from grader.service.heartbeats import last_heartbeats
from grader.service.migrate import migrate
from grader.settings import scratch_dir
from submissions_schema import FINAL_STATUSES, Role

sys.path.insert(0, str(Path(__file__).parent))
from upload_to_result import cli, free_port

ROOT = Path(__file__).resolve().parents[1]
SOLUTION = ROOT / "examples" / "autodiff" / "autodiff.py"
STUDENTS = 100
SPEEDUP_TARGET, OVERHEAD_TARGET_S = 1.8, 0.3


@dataclass
class Burst:
    workers: int
    submitted: int
    lost: int
    duplicates: int
    wall_s: float
    latencies: list[float]
    occupancy: list[float]

    @property
    def throughput(self) -> float:
        return self.submitted / self.wall_s


def student_compute_s(repeats: int = 20) -> float:
    """The manifest's calls of one autodiff grading, made in this process: the student's
    own compute, with nothing of ours around it."""
    spec = get_assignment("autodiff")
    cases = build_cases(spec, 0, secret_seed=1)
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(dir=scratch_dir()) as tmp:
            job = JobDirs.create(Path(tmp))
            (job.submission / SOLUTION.name).write_text(SOLUTION.read_text())
            write_job(cases, spec, job.inputs, job.manifest, JobAliases.draw(cases))
            manifest = json.loads(job.manifest.read_text())
            sys.modules.pop(spec.module, None)
            start = time.perf_counter()
            Harness(manifest, job.inputs, str(job.submission), job.out).run()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def new_database(admin_url: str) -> str:
    import psycopg

    name = f"burst_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def run_burst(workers: int, count: int, admin_url: str, tmp: Path) -> Burst:
    database = new_database(admin_url)
    broker = "redis://127.0.0.1:6379/14"
    queue = redis.Redis.from_url(broker)
    queue.flushdb()
    migrate(database)
    with session_scope(database) as session:
        tokens = [create_token(session, f"s{i}", Role.student).token for i in range(STUDENTS)]
    env = {
        **os.environ,
        "DLGRADER_DATABASE_URL": database,
        "DLGRADER_BROKER_URL": broker,
        "DLGRADER_SANDBOX": "bwrap",
        "DLGRADER_HIDDEN_SEED": "1",
        "DLGRADER_DATA_DIR": str(tmp / f"data{workers}"),
        "DLGRADER_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    }
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    logs = tmp / f"logs{workers}"
    logs.mkdir()
    processes = [cli(env, "serve", "--port", str(port), log=logs / "api.log")]
    processes += [
        cli(env, "worker", "--concurrency", "1", log=logs / f"worker{i}.log")
        for i in range(workers)
    ]
    try:
        deadline = time.monotonic() + 120
        while len(last_heartbeats(queue)) < workers or not ready(server):
            if time.monotonic() > deadline:
                raise SystemExit(f"the stack did not start; see {logs}")
            time.sleep(0.2)
        source = SOLUTION.read_bytes()
        # One pooled client: students upload from their own machines, so the uploader's
        # CPU here should be small (a new client per request costs ~27 ms of CPU each).
        client = httpx.Client(timeout=60, limits=httpx.Limits(max_connections=16))

        def upload(i: int) -> None:
            response = client.post(
                f"{server}/api/v1/submissions",
                headers={"Authorization": f"Bearer {tokens[i % STUDENTS]}"},
                files={"file": (SOLUTION.name, source)},
                data={"assignment": "autodiff"},
            )
            response.raise_for_status()

        start = time.perf_counter()
        with client, ThreadPoolExecutor(16) as pool:
            list(pool.map(upload, range(count)))
        finals = {s.value for s in FINAL_STATUSES}
        deadline = time.monotonic() + 60 + count * 3.0
        while time.monotonic() < deadline:
            with session_scope(database) as session:
                pending = session.scalar(
                    select(func.count()).where(SubmissionRow.status.not_in(finals))
                )
            if pending == 0:
                break
            time.sleep(0.5)
        wall = time.perf_counter() - start
        with session_scope(database) as session:
            rows = session.execute(
                select(
                    SubmissionRow.status,
                    SubmissionRow.created_at,
                    SubmissionRow.started_at,
                    SubmissionRow.finished_at,
                )
            ).all()
            per_submission = session.execute(
                select(func.count()).select_from(ResultRow).group_by(ResultRow.submission_id)
            ).scalars()
            duplicates = sum(n - 1 for n in per_submission)
        graded = [r for r in rows if r.status == "graded" and r.finished_at and r.started_at]
        return Burst(
            workers=workers,
            submitted=len(rows),
            lost=sum(1 for r in rows if r.status not in finals) + (count - len(rows)),
            duplicates=duplicates,
            wall_s=wall,
            latencies=[(r.finished_at - r.created_at).total_seconds() for r in graded],
            occupancy=[(r.finished_at - r.started_at).total_seconds() for r in graded],
        )
    finally:
        for p in processes:
            os.killpg(p.pid, signal.SIGTERM)
        for p in processes:
            p.wait(timeout=60)


def ready(server: str) -> bool:
    try:
        return httpx.get(f"{server}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=1000)
    args = parser.parse_args()
    admin_url = os.environ.get("DLGRADER_TEST_POSTGRES_URL")
    if not admin_url:
        raise SystemExit('needs PostgreSQL and Redis: eval "$(scripts/services)" first')
    tmp = Path(tempfile.mkdtemp(prefix="dlgrader-burst-"))
    compute = student_compute_s()
    bursts = [run_burst(n, args.count, admin_url, tmp) for n in (1, 2)]
    cores = os.cpu_count()
    print(f"{args.count} autodiff submissions at once, bubblewrap, {cores} cores; logs in {tmp}")
    print(f"  student's own calls, in-process: {compute * 1e3:.0f} ms per submission")
    for b in bursts:
        overhead = statistics.mean(b.occupancy) - compute
        print(
            f"  {b.workers} worker{'s' if b.workers > 1 else ' '}: lost {b.lost}, duplicates "
            f"{b.duplicates}, {b.wall_s:6.1f} s, {b.throughput:5.2f}/s "
            f"({b.throughput / b.workers:5.2f}/s per worker), upload to result "
            f"p50 {percentile(b.latencies, 50):6.1f} s p95 {percentile(b.latencies, 95):6.1f} s, "
            f"overhead {overhead:5.3f} s per submission "
            f"({'ok' if overhead <= OVERHEAD_TARGET_S else 'OVER'})"
        )
    speedup = bursts[1].throughput / bursts[0].throughput
    verdict = "ok" if speedup >= SPEEDUP_TARGET else "UNDER"
    print(f"  speed-up, 1 -> 2 workers: {speedup:.2f}x (target >= {SPEEDUP_TARGET}: {verdict})")


if __name__ == "__main__":
    main()
