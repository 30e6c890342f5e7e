"""Challenges and their leaderboards, in EvalAI's vocabulary so hosts and pages carry over.

A challenge has phases (dev, test, ...) that evaluate on dataset splits; each
phase-split has a leaderboard whose schema names the metrics, the default order
and each metric's direction. Leaderboard JSON has the shape of EvalAI's API, plus
an explicit `rank`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import MISSING, ConfigDict, Field, model_validator

from submissions_schema.base import SchemaModel
from submissions_schema.environment import Environment


class SplitVisibility(StrEnum):
    """Who sees a phase-split's leaderboard (EvalAI's 1, 2, 3)."""

    host = "host"  # hosts only, until the phase ends
    owner_and_host = "owner_and_host"  # each team its own rows, hosts all
    public = "public"


class SubmissionKind(StrEnum):
    predictions = "predictions"  # a file of predictions for the split, scored at once
    code = "code"  # a model.py trained in the sandbox, evaluated on the hidden split


class MetricMeta(SchemaModel):
    sort_ascending: bool = False
    description: str = ""


class LeaderboardSchema(SchemaModel):
    labels: list[str] = Field(min_length=1)
    default_order_by: str
    metadata: dict[str, MetricMeta] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _order_by_is_a_label(self) -> LeaderboardSchema:
        if self.default_order_by not in self.labels:
            raise ValueError(
                f"default_order_by {self.default_order_by!r} is not one of {self.labels}"
            )
        for label in self.metadata:
            if label not in self.labels:
                raise ValueError(f"metadata names {label!r}, which is not a label")
        return self

    def ascending(self, label: str) -> bool:
        return label in self.metadata and self.metadata[label].sort_ascending


class LeaderboardSpec(SchemaModel):
    model_config = ConfigDict(populate_by_name=True)

    id: int
    schema_: LeaderboardSchema = Field(alias="schema")


class DatasetSplit(SchemaModel):
    id: int
    name: str
    codename: str


class MetaAttribute(SchemaModel):
    """One question a submission answers when it is made (EvalAI's
    submission_meta_attributes); the answers reach evaluate() in submission_metadata."""

    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    type: Literal["text", "radio", "checkbox", "boolean"]
    options: list[str] = Field(default_factory=list)
    required: bool = False

    @model_validator(mode="after")
    def _choices_have_options(self) -> MetaAttribute:
        if self.type in ("radio", "checkbox") and not self.options:
            raise ValueError(f"submission_meta_attributes {self.name!r}: {self.type} needs options")
        return self


class Phase(SchemaModel):
    id: int
    name: str
    codename: str
    start_date: datetime | None = None
    end_date: datetime | None = None
    is_public: bool = True
    leaderboard_public: bool = True
    max_submissions_per_day: int = Field(100000, ge=1)
    max_submissions_per_month: int = Field(100000, ge=1)
    max_submissions: int = Field(100000, ge=1)
    max_concurrent_submissions_allowed: int = Field(3, ge=1)
    allowed_submission_file_types: list[str] = Field(default_factory=lambda: [".csv", ".json"])
    is_restricted_to_select_one_submission: bool = False
    submission_kind: SubmissionKind = SubmissionKind.predictions
    # EvalAI bundles: the phase's annotation file inside the bundle (stored privately),
    # and how evaluate()'s results are taken.
    test_annotation_file: str | None = None
    is_partial_submission_evaluation_enabled: bool = Field(
        False, description="a result covering only some splits is ranked on those it has"
    )
    submission_meta_attributes: list[MetaAttribute] = Field(default_factory=list)
    is_submission_public: bool = Field(
        True, description="whether a new submission is public when its form does not say"
    )
    execution_time_limit: float | None = Field(
        None, gt=0, description="seconds evaluate() may take; unset: the host's default"
    )


class PhaseSplit(SchemaModel):
    id: int
    challenge_phase_id: int
    leaderboard_id: int
    dataset_split_id: int
    visibility: SplitVisibility = SplitVisibility.public
    leaderboard_decimal_precision: int = Field(2, ge=0, le=10)
    is_leaderboard_order_descending: bool = True
    show_leaderboard_by_latest_submission: bool = False
    show_execution_time: bool = Field(
        False, description="entries carry submission__execution_time (seconds)"
    )
    show_scores_on_leaderboard: bool = Field(
        True, description="false: the page and non-host readers see ranks, not values"
    )


class Challenge(SchemaModel):
    name: str
    title: str
    description: str = ""
    evaluation: str = Field(
        description="the evaluator that scores submissions: 'digits' (built in) or "
        "'evalai-script' (the bundle's own evaluate(), run in the sandbox)"
    )
    version: str = Field("", description="an imported bundle's content hash")
    environment: Environment | None = Field(
        None, description="the evaluation script's requirements (its requirements.txt)"
    )
    leaderboards: list[LeaderboardSpec]
    phases: list[Phase]
    dataset_splits: list[DatasetSplit]
    phase_splits: list[PhaseSplit]
    code_queue: str = Field("cpu", description="where code submissions train: cpu or gpu")
    code_budget_epochs: int = Field(20, ge=1, description="epochs a code submission may train")
    code_budget_s: float = Field(120.0, gt=0, description="seconds a code submission may train")
    unsupported: list[str] = Field(
        default_factory=list, description="settings of an imported config we do not honour"
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> Challenge:
        ids = {
            "phase": {p.id for p in self.phases},
            "leaderboard": {b.id for b in self.leaderboards},
            "dataset split": {d.id for d in self.dataset_splits},
        }
        for ps in self.phase_splits:
            for kind, value in (
                ("phase", ps.challenge_phase_id),
                ("leaderboard", ps.leaderboard_id),
                ("dataset split", ps.dataset_split_id),
            ):
                if value not in ids[kind]:
                    raise ValueError(
                        f"phase split {ps.id} names {kind} {value}, which is not defined"
                    )
        return self

    def phase(self, codename: str) -> Phase:
        for p in self.phases:
            if p.codename == codename:
                return p
        raise KeyError(
            f"{self.name} has no phase {codename!r}; phases: "
            f"{', '.join(p.codename for p in self.phases)}"
        )

    def split(self, codename: str) -> DatasetSplit:
        for d in self.dataset_splits:
            if d.codename == codename:
                return d
        raise KeyError(f"{self.name} has no split {codename!r}")

    def phase_split(self, phase: str, split: str) -> PhaseSplit:
        p, d = self.phase(phase), self.split(split)
        for ps in self.phase_splits:
            if ps.challenge_phase_id == p.id and ps.dataset_split_id == d.id:
                return ps
        raise KeyError(f"phase {phase!r} is not evaluated on split {split!r}")

    def phase_split_by_id(self, phase_split_id: int) -> PhaseSplit:
        return next(ps for ps in self.phase_splits if ps.id == phase_split_id)

    def leaderboard_schema(self, phase_split: PhaseSplit) -> LeaderboardSchema:
        return next(b.schema_ for b in self.leaderboards if b.id == phase_split.leaderboard_id)


class LeaderboardSchemaOut(SchemaModel):
    """The leaderboard's schema as the host stored it; `metadata` only when given."""

    labels: list[str]
    default_order_by: str
    metadata: dict[str, MetricMeta] | MISSING = MISSING


Value = int | float | str  # a metric as reported (ints stay ints), or "#" when missing


class LeaderboardEntry(SchemaModel):
    """One row, key for key EvalAI's leaderboard API entry (apps/jobs/utils.py,
    calculate_distinct_sorted_leaderboard_data), plus `rank`. Differences, by design:
    ids of submissions are strings here, and a team of one has no team id."""

    id: int = Field(description="the leaderboard-data row (one submission on one split)")
    submission__participant_team: int | None = Field(
        description="the team's id; null for a student competing alone (no team row)"
    )
    submission__participant_team__team_name: str
    submission__participant_team__team_url: str = ""
    challenge_phase_split: int
    result: list[Value] = Field(description="metric values in the schema's label order")
    error: list[Value] | None = Field(
        None, description="error bars in label order, when the evaluation reported them"
    )
    filtering_score: float = Field(
        description="the order-by metric as a float (EvalAI casts it); 0 when missing"
    )
    filtering_error: float = Field(0, description="the order-by metric's error bar, or 0")
    leaderboard__schema: LeaderboardSchemaOut
    submission__submitted_at: datetime
    submission__is_baseline: bool
    submission__method_name: str
    submission__is_public: bool
    submission__id: str
    submission__submission_metadata: dict[str, Any] | None = None
    submission__is_verified_by_host: bool = False
    submission__execution_time: float | MISSING | None = Field(
        MISSING,
        description="seconds the evaluation took; present only when the phase-split "
        "has show_execution_time",
    )
    rank: int | None = Field(description="1, 2, 2, 4 on ties; baselines are shown, not ranked")


class LeaderboardPage(SchemaModel):
    count: int
    next: str | None = None
    previous: str | None = None
    results: list[LeaderboardEntry]


class SplitScore(SchemaModel):
    split: str
    phase_split_id: int
    # int stays int: EvalAI hosts report counts, and a leaderboard shows 42, not 42.0.
    metrics: dict[str, int | float | None]
    error: dict[str, int | float | None] | None = Field(
        None, description="per-metric error bars, as an EvalAI evaluate() returns them"
    )
    fingerprint: str = Field(
        description="sha256 of what was evaluated: the split's data, or the annotation file"
    )


class ChallengeResult(SchemaModel):
    """What evaluating one challenge submission produced (stored beside the submission)."""

    challenge: str
    phase: str
    kind: SubmissionKind
    scores: list[SplitScore] = Field(default_factory=list)
    message: str = ""
    log_tail: str = Field("", description="the end of a code submission's output")
    challenge_version: str = Field("", description="the imported version that evaluated it")
    execution_time_s: float | None = Field(None, description="seconds the evaluation took")
    status: Literal["submitted", "finished", "partially_evaluated", "failed"] = Field(
        "finished", description="EvalAI's submission status; 'submitted' until evaluated"
    )
    failed_by: Literal["", "submission", "host"] = Field(
        "",
        description="who a failure is charged to: the submission (evaluate() raised or "
        "timed out on it: it counts against the phase's limits) or the host (evaluate() "
        "returned a result its own schema does not allow: it does not count)",
    )
    submission_metadata: dict[str, Any] = Field(
        default_factory=dict, description="the answers to the phase's meta attributes"
    )
    submission_result: Any = Field(None, description="evaluate()'s submission_result (staff)")
    host_log: str = Field(
        "", description="staff only: the evaluation's stderr, stdout and traceback"
    )


class BoardRow(SchemaModel):
    submission_id: str
    team: str
    rank: int | None
    value: int | float | str | None = Field(description="the default order-by metric")


class BoardChange(SchemaModel):
    phase: str
    split: str
    before: list[BoardRow]
    after: list[BoardRow]


class ChallengeImported(SchemaModel):
    """What importing an EvalAI bundle did: the new version, and with a re-import the
    leaderboards before and after its submissions were evaluated again."""

    name: str
    version: str
    previous_version: str | None = None
    evaluation: str
    phases: list[str]
    splits: list[str]
    unsupported: list[str] = Field(default_factory=list)
    installed: list[str] = Field(default_factory=list, description="the script's requirements")
    reevaluated: int = 0
    pending: list[str] = Field(default_factory=list, description="still being evaluated")
    leaderboards: list[BoardChange] = Field(default_factory=list)


class ChallengeInfo(SchemaModel):
    name: str
    title: str
    phases: list[Phase]
    dataset_splits: list[DatasetSplit]


class TeamInfo(SchemaModel):
    challenge: str
    name: str
    members: list[str]
