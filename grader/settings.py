"""Every setting of the grader in one typed object, read from DLGRADER_* variables."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

ENV_PREFIX = "DLGRADER_"
DEFAULT_ALLOWED_PACKAGES = (
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "matplotlib",
    "pillow",
    "torch",
    "torchvision",
    "tqdm",
    "pyyaml",
)


class Settings(BaseModel):
    """`Settings(x=...)` takes x as given and every other field from DLGRADER_<FIELD>, else
    its default. (A plain model, not pydantic-settings: that one costs every command
    0.12 s of imports for the few lines below.)"""

    model_config = ConfigDict(extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _from_environment(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        env: dict[str, Any] = {}
        for name in cls.model_fields:
            raw = os.environ.get(f"{ENV_PREFIX}{name.upper()}")
            if raw is not None:  # lists and pairs are JSON, e.g. [300, 360]
                env[name] = json.loads(raw) if raw.lstrip().startswith(("[", "{")) else raw
        return {**env, **data}

    hidden_seed: int | None = Field(
        None,
        description="secret seed of the hidden cases; grading servers must set it, and a "
        "student's machine never has it (an unset seed draws a fresh one per run)",
    )
    sandbox: str = Field(
        "auto", description="auto, bwrap, docker, or process (no isolation: never the service's)"
    )
    course_dir: Path | None = Field(
        None,
        description="a course folder (course.yaml, assignments/<name>/) whose assignments "
        "are graded beside the built-in ones",
    )
    data_dir: Path = Field(
        Path.home() / ".local" / "share" / "dlgrader",
        description="uploads, the embedded database, results",
    )
    scratch_dir: Path | None = Field(
        None,
        description="where job folders live while a submission runs; default: /dev/shm "
        "when writable (a tmpfs: creating files there is ~30x cheaper than on disk), else TMPDIR",
    )
    case_cache_size: int = Field(32, description="assignments x seeds whose cases stay in memory")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; unset: SQLite in the data folder (the embedded default)"
    )
    broker_url: str | None = Field(
        None, description="Celery broker (redis://...); unset: an in-process worker pool"
    )
    max_attempts: int = Field(3, ge=1, description="gradings tried before 'could not grade'")
    stuck_margin_s: float = Field(
        120.0, description="how long past its limit a queued or running submission is re-queued"
    )
    visibility_timeout_s: float | None = Field(
        None,
        description="Redis redelivers an unacknowledged task after this long; unset: longer "
        "than any task's hard limit (lower it only to test duplicate deliveries)",
    )
    task_time_limits_s: tuple[float, float] | None = Field(
        None,
        description="Celery's (soft, hard) time limits for every grading task, as JSON "
        "[soft, hard], a soft of 0 for none; unset: the assignment's wall limit plus 30 s and "
        "plus 60 s, so the sandbox's own limit always fires first (set it to test a hard limit)",
    )
    sandbox_wait_s: float = Field(
        120.0,
        ge=0,
        description="how long a Docker worker waits for its daemon to come back (a restart) "
        "before taking a job; no attempt is spent meanwhile",
    )
    database_retry_s: float = Field(
        120.0, ge=0, description="how long a worker keeps retrying an unreachable database"
    )
    embedded_workers: int = Field(2, ge=1, description="threads grading in `dlgrader serve`")
    max_request_bytes: int = Field(
        16 << 20,
        description="largest request body the API reads where no limit below applies (a "
        "homework upload is also held to its assignment's max_upload_bytes)",
    )
    max_project_bytes: int = Field(50 << 20, description="largest reproducibility project zip")
    max_assignment_bytes: int = Field(
        20 << 20, description="largest assignment folder (zip) staff may push"
    )
    max_predictions_bytes: int = Field(1 << 20, description="largest challenge predictions file")
    max_model_bytes: int = Field(256 << 10, description="largest challenge model.py")
    max_bundle_bytes: int = Field(
        100 << 20, description="largest EvalAI challenge bundle (zip) a host may import"
    )
    challenge_eval_time_s: float = Field(
        300.0,
        gt=0,
        description="seconds a bundle's evaluate() may take on one submission where its "
        "phase sets no execution_time_limit (EvalAI's default, 300)",
    )
    challenge_eval_memory_bytes: int = Field(
        4 << 30, description="memory a bundle's evaluate() may use on one submission"
    )
    min_free_bytes: int = Field(
        256 << 20, ge=0, description="uploads are refused when the data folder has less free"
    )
    log_format: Literal["json", "text"] = Field(
        "json", description="service logs: one JSON object per line, or plain text"
    )
    log_level: str = Field("INFO", description="root log level of the API, workers and reaper")
    job_cgroups: Literal["if_available", "required"] | None = Field(
        None,
        description="a cgroup per bubblewrap job (memory of all its processes, their "
        "number): 'required' refuses to grade where none can be made (not root, no cgroup "
        "controllers), 'if_available' accepts per-process limits there; unset: required "
        "by the service (serve, worker), which grades untrusted code, if_available for "
        "`dlgrader grade` of one's own",
    )
    allowed_packages: list[str] = Field(
        default_factory=lambda: list(DEFAULT_ALLOWED_PACKAGES),
        description="distributions a reproducibility project may ask the sandbox to mount "
        "(claims.yaml run.packages), with what they require; JSON list",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{self.data_dir / 'dlgrader.sqlite3'}"

    def service_hidden_seed(self) -> int:
        """The service's hidden seed: the configured one, else one drawn once and kept in
        the data folder (private), so regrades see the same hidden cases."""
        if self.hidden_seed is not None:
            return self.hidden_seed
        path = self.data_dir / "hidden_seed"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(str(secrets.randbits(31)))
        return int(path.read_text().strip())

    def private_seed(self, purpose: str) -> int:
        """A seed for one private use (a challenge's host-drawn split), derived from the
        hidden seed: as secret as it, and unrelated to the hidden cases' seeds."""
        digest = hashlib.sha256(f"{purpose}\0{self.service_hidden_seed()}".encode()).digest()
        return int.from_bytes(digest[:8], "little")

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


class SettingsError(ValueError):
    """A DLGRADER_* variable holds a value its setting cannot take; one line says which."""


@cache
def get_settings() -> Settings:
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = f"{ENV_PREFIX}{str(first['loc'][0]).upper()}" if first["loc"] else "a setting"
        raise SettingsError(f"{name}: {first['msg']}") from None


def scratch_dir() -> Path | None:
    configured = get_settings().scratch_dir
    if configured is not None:
        configured.mkdir(parents=True, exist_ok=True)  # ours to make, like the data folder
        return configured
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else None
