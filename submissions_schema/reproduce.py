"""Reproducibility projects: the claims file a team writes, and the report the job returns."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, model_validator

from submissions_schema.base import SchemaModel
from submissions_schema.environment import Environment


class Strict(SchemaModel):
    model_config = ConfigDict(extra="forbid")


class RunSpec(Strict):
    cmd: str = Field(description="the command, with {seed}, {out} and optionally {args}")
    metrics_file: str = Field(
        "{out}/metrics.json", description="where a run writes its metrics (JSON)"
    )
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2, 3, 4], min_length=3)
    variants: dict[str, str] = Field(
        default_factory=lambda: {"default": ""}, description="name -> what {args} becomes"
    )
    gpu: bool = False
    time_limit_s: float = Field(600.0, gt=0, description="per run")
    smoke: str | None = Field(None, description="a short command for the determinism check")
    prepare: str | None = Field(
        None,
        description="run once before the runs, offline, in the sandbox (with {out}); what it "
        "leaves in {out} is in every run's copy of the project, under prepared/",
    )
    curve: str | None = Field(
        None,
        description="a file in {out} with per-step values (a JSON list, or an object of "
        "lists): the determinism check finds the first step where twins differ",
    )
    packages: list[str] = Field(
        default_factory=lambda: ["numpy", "scikit-learn"],
        description="what the runs import from the host (bubblewrap mounts these); "
        "ignored with an environment",
    )
    environment: Environment | None = Field(
        None,
        description="the project's own pinned requirements (built once, cached, mounted "
        "in place of the host's packages)",
    )
    threads: int | None = Field(
        None,
        ge=1,
        le=64,
        description="OMP/BLAS threads per run (default: the job slot's CPUs), recorded in "
        "the fingerprint",
    )
    artifacts: list[str] = Field(
        default_factory=list,
        description="files each run leaves in {out} worth keeping (globs: model.pt, "
        "curves/*.json); kept per run beside the cache, size-capped, listed in the report",
    )

    @model_validator(mode="after")
    def _placeholders(self) -> RunSpec:
        if self.prepare is not None and "{out}" not in self.prepare:
            raise ValueError("run.prepare lacks {out}")
        for name, command in (("cmd", self.cmd), ("smoke", self.smoke or "{seed}{out}")):
            missing = [p for p in ("{seed}", "{out}") if p not in command]
            if missing:
                raise ValueError(f"run.{name} lacks {', '.join(missing)}")
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError("run.seeds repeats a seed")
        return self


class DataFile(Strict):
    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class Reported(Strict):
    value: float
    std: float | None = Field(None, ge=0)
    n: int | None = Field(None, ge=1)


class AbsoluteClaim(Strict):
    id: str
    type: Literal["absolute"]
    metric: str
    direction: Literal["higher", "lower", "two_sided"] = "two_sided"
    reported: Reported
    tolerance: float | None = Field(None, gt=0, description="the accepted distance, in units")
    kind: Literal["percent", "fraction", "loss", "error", "other"] | None = Field(
        None,
        description="what the metric is, for the default tolerance: percent (1 point), "
        "fraction (0.01), loss/error/other (5% of the reported value)",
    )
    variant: str = "default"

    @property
    def variants(self) -> list[str]:
        """The variants whose runs it is judged on."""
        return [self.variant]


class ComparisonClaim(Strict):
    id: str
    type: Literal["comparison"]
    metric: str
    a: str = Field(description="a variant's name")
    b: str
    expect: Literal["a > b", "a < b"] = "a > b"

    @property
    def variants(self) -> list[str]:
        return [self.a, self.b]


class ThresholdClaim(Strict):
    id: str
    type: Literal["threshold"]
    metric: str
    min: float | None = None
    max: float | None = None
    variant: str = "default"

    @model_validator(mode="after")
    def _one_bound(self) -> ThresholdClaim:
        if (self.min is None) == (self.max is None):
            raise ValueError(f"threshold claim {self.id}: give exactly one of min and max")
        return self

    @property
    def variants(self) -> list[str]:
        return [self.variant]


Claim = Annotated[AbsoluteClaim | ComparisonClaim | ThresholdClaim, Field(discriminator="type")]


class ClaimsFile(Strict):
    title: str = ""
    paper: str = ""
    run: RunSpec
    data: list[DataFile] = Field(default_factory=list)
    claims: list[Claim] = Field(min_length=1)

    @model_validator(mode="after")
    def _variants_exist(self) -> ClaimsFile:
        ids = [c.id for c in self.claims]
        if len(set(ids)) != len(ids):
            raise ValueError("claim ids must be unique")
        for claim in self.claims:
            for name in claim.variants:
                if name not in self.run.variants:
                    raise ValueError(
                        f"claim {claim.id} names variant {name!r}, which run.variants "
                        f"does not define ({', '.join(self.run.variants)})"
                    )
        return self


class ClaimVerdict(StrEnum):
    reproduced = "reproduced"
    not_reproduced = "not_reproduced"
    inconclusive = "inconclusive"
    failed_to_run = "failed_to_run"


class DeterminismClass(StrEnum):
    bitwise = "bitwise"
    numeric = "numeric"  # relative difference at most 1e-6
    divergent = "divergent"
    failed = "failed"


class Artifact(SchemaModel):
    path: str = Field(description="relative to the run's {out}")
    bytes: int
    sha256: str
    kept: bool = Field(description="false: over the size cap, listed only")


class RunRecord(SchemaModel):
    variant: str
    seed: int
    exit_code: int | None
    wall_s: float
    peak_memory_mb: float | None
    metrics: dict[str, float] = Field(default_factory=dict)
    timed_out: bool = False
    log_tail: str = ""
    nondeterministic_ops: list[str] = Field(default_factory=list)
    failure: str = Field("", description="what went wrong, for a person; empty when it ran")
    error_line: str = Field("", description="the exception line found in the log")
    wrote: list[str] = Field(default_factory=list, description="files the run left in {out}")
    cached: bool = Field(False, description="reused from an identical earlier run")
    artifacts: list[Artifact] = Field(default_factory=list)
    curve: dict[str, list[float]] = Field(
        default_factory=dict, description="per-step values from run.curve, when declared"
    )

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and bool(self.metrics)


class Aggregate(SchemaModel):
    variant: str
    metric: str
    n: int
    mean: float
    std: float
    ci95: tuple[float, float]
    cv: float | None


class ClaimResult(SchemaModel):
    id: str
    type: str
    metric: str
    verdict: ClaimVerdict
    reason: str
    variants: list[str] = Field(default_factory=list, description="the runs it was judged on")
    reported: float | None = None
    reproduced_mean: float | None = None
    tolerance: float | None = None
    details: dict[str, float | str | None] = Field(default_factory=dict)


class Determinism(SchemaModel):
    result: DeterminismClass
    max_relative_difference: float | None = None
    command: str = ""
    variant: str = ""
    seeds: list[int] = Field(default_factory=list)
    metric: str = Field("", description="the metric that differed most between twins")
    reason: str = Field("", description="why the check failed, when it did")
    first_divergent_step: int | None = Field(
        None, description="the first step where the twins' curves differ (run.curve)"
    )
    unhooked: str = Field(
        "", description="asked for: the same seed run without the seeding hooks, compared"
    )


class ReproduceReport(SchemaModel):
    title: str
    paper: str = Field("", description="what claims.yaml says the claims come from")
    started_at: datetime
    finished_at: datetime
    verdict: Literal["completed", "input_mismatch", "environment_failed", "prepare_failed"] = (
        "completed"
    )
    message: str = ""
    code_sha256: str
    git_commit: str | None = None
    git_dirty: bool | None = None
    data: dict[str, str] = Field(default_factory=dict, description="path -> sha256 found")
    sandbox: str
    image_digest: str | None = None
    fingerprint: dict[str, object] = Field(default_factory=dict)
    determinism: Determinism | None = None
    runs: list[RunRecord] = Field(default_factory=list)
    aggregates: list[Aggregate] = Field(default_factory=list)
    claims: list[ClaimResult] = Field(default_factory=list)
    rules: list[str] = Field(default_factory=list, description="the verdict rules, as applied")
