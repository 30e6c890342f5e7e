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
import logging
import os
import time
import uuid
from collections.abc import Callable
from typing import Any

from grader.sandbox.base import (
    JobDirs,
    Sandbox,
    SandboxFailed,
    SandboxLimits,
    SandboxRun,
)
from grader.sandbox.image import DEFAULT_IMAGE, image_problem
from grader.untrusted_fs import tree_bytes

DOCKER_SOCKET = "/var/run/docker.sock"

log = logging.getLogger(__name__)

LABEL = "org.dlgrader.job"
DAEMON_RETURN_S = 60.0  # how long a failed run waits for a restarting daemon to clean up
NAME_PREFIX = "dlgrader-job-"


def _client() -> Any:
    import docker

    return docker.from_env(timeout=30)


def container_name(job_label: str) -> str:
    """Unique per run (two jobs may share a label); a job's containers are found by their
    LABEL, never by name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "-" for c in job_label)[:100]
    return f"{NAME_PREFIX}{safe}-{uuid.uuid4().hex[:8]}"


class DockerSandbox(Sandbox):
    name = "docker"

    @classmethod
    def discard(cls, job_label: str) -> list[str]:
        return remove_job_containers(job_label)

    @classmethod
    def remove_orphans(cls, orphaned: Callable[[set[str]], set[str]]) -> list[str]:
        return kill_orphans(orphaned)

    def __init__(
        self, image: str = DEFAULT_IMAGE, gpu: str | None = None, cpus: float = 1.0
    ) -> None:
        self.image = image
        self.gpu = gpu
        self.cpus = cpus

    @classmethod
    def available(cls, image: str = DEFAULT_IMAGE) -> str | None:
        if "DOCKER_HOST" not in os.environ and not os.path.exists(DOCKER_SOCKET):
            # No daemon to ask: say so without importing the Docker SDK (0.1 s per command).
            return f"no Docker daemon here ({DOCKER_SOCKET} is missing, DOCKER_HOST unset)"
        try:
            client = _client()
            client.ping()
        except ImportError:
            return "the docker Python package is missing (pip install 'dlgrader[service]')"
        except Exception as exc:
            return f"the Docker daemon does not answer ({type(exc).__name__})"
        return image_problem(client, image)

    def run(self, job: JobDirs, limits: SandboxLimits) -> SandboxRun:
        from docker.errors import DockerException, NotFound
        from requests.exceptions import RequestException

        label = job.label or uuid.uuid4().hex
        name = container_name(label)
        try:
            client = _client()
        except DockerException as exc:
            problem = f"the Docker daemon does not answer ({type(exc).__name__})"
            raise SandboxFailed(problem) from exc
        try:
            with contextlib.suppress(NotFound):  # a leftover of a killed attempt
                client.containers.get(name).remove(force=True)
            return self._run(client, name, label, job, limits)
        except NotFound as exc:
            raise SandboxFailed(
                f"the sandbox container vanished mid-run ({exc.explanation})"
            ) from exc
        except (DockerException, RequestException) as exc:
            raise SandboxFailed(
                f"the Docker daemon stopped answering mid-run ({type(exc).__name__})"
            ) from exc
        finally:
            remove_container(client, name)

    def _run(
        self, client: Any, name: str, label: str, job: JobDirs, limits: SandboxLimits
    ) -> SandboxRun:
        from docker.errors import APIError
        from docker.types import DeviceRequest, LogConfig, Ulimit

        start, started_at = time.monotonic(), time.time()
        container = client.containers.create(
            job.image or self.image,
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
            stop_signal="SIGKILL",  # a daemon shutting down need not wait for student code
        )
        timed_out = exceeded = False
        container.start()
        deadline = start + limits.wall_s
        while True:
            container.reload()
            if container.status not in ("created", "running"):
                break
            if time.monotonic() >= deadline:
                timed_out = True
                break
            if tree_bytes(job.out) > limits.out_dir_bytes:
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
        if code > 128 and not (timed_out or exceeded or oom):
            # PID 1 of a container ignores the signals its own processes send it, so a
            # signal death we did not cause is either a fault (SIGSEGV) or the daemon's.
            stopped = client.events(
                since=started_at - 1,
                until=time.time(),
                filters={"container": container.id, "event": "kill"},
                decode=True,
            )
            if any(True for _ in stopped):
                raise SandboxFailed(
                    "the sandbox container was stopped from outside (the Docker daemon "
                    "shutting down or restarting, or an administrator)"
                )
        stdout = container.logs(stdout=True, stderr=False)[-limits.output_bytes :]
        stderr = container.logs(stdout=False, stderr=True)[-limits.output_bytes :]
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


def remove_container(client: Any, name: str, wait_s: float = DAEMON_RETURN_S) -> None:
    """Remove a job's container, waiting up to wait_s for a daemon that is restarting;
    past that it is the reaper's (a container of a job no longer running)."""
    from docker.errors import DockerException, NotFound
    from requests.exceptions import RequestException

    deadline = time.monotonic() + wait_s
    while True:
        try:
            client.containers.get(name).remove(force=True)
            return
        except NotFound:
            return
        except (DockerException, RequestException) as exc:
            if time.monotonic() >= deadline:
                log.warning("container %s not removed (%s); the reaper will", name, exc)
                return
            time.sleep(0.5)


def remove_job_containers(job_label: str) -> list[str]:
    """Remove the containers of one job (its worker was killed); none without a daemon."""
    removed: list[str] = []
    try:
        from docker.errors import APIError

        containers = _client().containers.list(all=True, filters={"label": f"{LABEL}={job_label}"})
    except Exception as exc:  # no daemon here: nothing to remove
        log.info("no containers of %s removed: %s", job_label, exc)
        return removed
    for container in containers:
        try:
            container.remove(force=True)
            removed.append(container.name)
        except APIError as exc:
            if exc.status_code == 409:  # already being removed, by its own dying worker
                removed.append(container.name)
            else:
                log.warning("container %s not removed: %s", container.name, exc)
    return removed


def kill_orphans(orphaned: Callable[[set[str]], set[str]]) -> list[str]:
    """Remove sandbox containers whose job is not running any more (a worker died), as
    `orphaned` judges their labels; a container it does not name stays.

    Containers are listed before the jobs are read: a job's row says running before its
    container exists, so no container of a live job is taken for an orphan.
    """
    removed: list[str] = []
    try:
        from docker.errors import APIError

        client = _client()
        containers = client.containers.list(all=True, filters={"label": LABEL})
    except Exception:  # no daemon here: nothing to clean
        return removed
    if not containers:
        return removed
    gone = orphaned({str(c.labels.get(LABEL)) for c in containers})
    for container in containers:
        if container.labels.get(LABEL) in gone:
            with contextlib.suppress(APIError):
                container.remove(force=True)
                removed.append(container.name)
    return removed
