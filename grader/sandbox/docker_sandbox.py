"""Docker: the sandbox on GPU nodes.

No network, a read-only root, a size-capped tmpfs /tmp, every capability dropped,
no-new-privileges, an unprivileged user, a pids limit, memory equal to
memory+swap, a CPU quota, ulimits (nofile, fsize, core 0), private IPC, an
explicit environment with no secrets, capped logs, and at most one GPU: the one
the worker's slot owns. The job's output folder (on the host's tmpfs) is the only
writable mount, watched for size like bubblewrap's. Containers carry a
deterministic name and labels, so the reaper can find orphans.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from typing import Any

from grader.sandbox.base import JobDirs, Sandbox, SandboxLimits, SandboxRun, folder_bytes
from grader.sandbox.image import DEFAULT_IMAGE, image_problem

LABEL = "org.dlgrader.job"
NAME_PREFIX = "dlgrader-job-"


def _client() -> Any:
    import docker

    return docker.from_env(timeout=30)


def container_name(job_label: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in job_label)[:100]
    return f"{NAME_PREFIX}{safe}"


class DockerSandbox(Sandbox):
    name = "docker"

    def __init__(
        self, image: str = DEFAULT_IMAGE, gpu: str | None = None, cpus: float = 1.0
    ) -> None:
        self.image = image
        self.gpu = gpu
        self.cpus = cpus

    @classmethod
    def available(cls, image: str = DEFAULT_IMAGE) -> str | None:
        try:
            client = _client()
            client.ping()
        except Exception as exc:
            return f"the Docker daemon does not answer ({type(exc).__name__})"
        return image_problem(client, image)

    def run(self, job: JobDirs, limits: SandboxLimits) -> SandboxRun:
        from docker.errors import APIError, NotFound
        from docker.types import DeviceRequest, LogConfig, Ulimit

        client = _client()
        label = job.label or uuid.uuid4().hex
        name = container_name(label)
        with contextlib.suppress(NotFound):  # a leftover of a killed attempt
            client.containers.get(name).remove(force=True)
        start = time.monotonic()
        container = client.containers.create(
            self.image,
            command=[
                "python",
                "-I",
                f"/opt/harness/{job.entry}",
                "/job/manifest.json",
                "/job/inputs",
                "/job/submission",
                "/out",
            ],
            name=name,
            labels={LABEL: label},
            user="65534:65534",
            working_dir="/tmp",
            environment={
                "HOME": "/tmp",
                "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
            },
            network_mode="none",
            read_only=True,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            ipc_mode="private",
            pids_limit=limits.max_processes,
            mem_limit=limits.memory_bytes,
            memswap_limit=limits.memory_bytes,
            nano_cpus=int(self.cpus * 1e9),
            ulimits=[
                Ulimit(name="nofile", soft=limits.open_files, hard=limits.open_files),
                Ulimit(name="fsize", soft=limits.file_size_bytes, hard=limits.file_size_bytes),
                Ulimit(name="core", soft=0, hard=0),
            ],
            tmpfs={"/tmp": f"size={limits.tmp_bytes},mode=1777"},
            volumes={
                str(job.submission): {"bind": "/job/submission", "mode": "ro"},
                str(job.inputs): {"bind": "/job/inputs", "mode": "ro"},
                str(job.manifest): {"bind": "/job/manifest.json", "mode": "ro"},
                str(job.out): {"bind": "/out", "mode": "rw"},
            },
            device_requests=(
                [DeviceRequest(device_ids=[self.gpu], capabilities=[["gpu"]])]
                if self.gpu is not None
                else None
            ),
            log_config=LogConfig(
                type="json-file", config={"max-size": str(limits.output_bytes), "max-file": "1"}
            ),
        )
        timed_out = exceeded = False
        try:
            container.start()
            deadline = start + limits.wall_s
            while True:
                container.reload()
                if container.status not in ("created", "running"):
                    break
                if time.monotonic() >= deadline:
                    timed_out = True
                    break
                if folder_bytes(job.out) > limits.out_dir_bytes:
                    exceeded = True
                    break
                time.sleep(0.05)
            if timed_out or exceeded:
                with contextlib.suppress(APIError):
                    container.kill()
            state = container.wait(timeout=30)
            container.reload()
            oom = bool(container.attrs["State"].get("OOMKilled"))
            code = int(state.get("StatusCode", -1))
            stdout = container.logs(stdout=True, stderr=False)[-limits.output_bytes :]
            stderr = container.logs(stdout=False, stderr=True)[-limits.output_bytes :]
        finally:
            with contextlib.suppress(APIError):
                container.remove(force=True)
        # Docker reports a signal death as 128 + signal.
        return SandboxRun(
            exit_code=None if code > 128 or timed_out else code,
            signal=code - 128 if code > 128 else None,
            timed_out=timed_out,
            out_dir_exceeded=exceeded,
            oom_killed=oom,
            wall_s=time.monotonic() - start,
            stdout=stdout.decode("utf-8", "replace"),
            stderr=stderr.decode("utf-8", "replace"),
            sandbox=self.name,
        )


def kill_orphans(active_labels: Callable[[], set[str]]) -> list[str]:
    """Remove sandbox containers whose job is not running any more (a worker died).

    Containers are listed before the active jobs are read: a job's row says running
    before its container exists, so no container of a live job is taken for an orphan.
    """
    from docker.errors import APIError

    removed: list[str] = []
    try:
        client = _client()
        containers = client.containers.list(all=True, filters={"label": LABEL})
    except Exception:  # no daemon here: nothing to clean
        return removed
    if not containers:
        return removed
    active = active_labels()
    for container in containers:
        if container.labels.get(LABEL) not in active:
            with contextlib.suppress(APIError):
                container.remove(force=True)
                removed.append(container.name)
    return removed
