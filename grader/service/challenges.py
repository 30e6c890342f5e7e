"""Challenge submissions, teams and leaderboards on top of the submission state machine.

A challenge submission is a submission row of kind "challenge" (its `assignment`
is the challenge's name); its evaluation writes one leaderboard-data row per
phase-split, and leaderboards are computed from those rows on every request.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import func, select, update

from grader.challenges.bundle import EVALAI_SCRIPT
from grader.challenges.evaluate import host_splits, split_inputs
from grader.challenges.leaderboard import ScoredSubmission, compute_leaderboard, without_scores
from grader.challenges.specs import all_challenges
from grader.service.accounts import has_role
from grader.service.db import (
    LeaderboardDataRow,
    SubmissionRow,
    TeamMemberRow,
    TeamRow,
    UserRow,
    session_scope,
    utcnow,
)
from grader.service.lifecycle import as_utc
from grader.service.submissions import (
    UNCOUNTED,
    ServiceError,
    SubmissionService,
    by_idempotency_key,
    to_model,
)
from grader.settings import Settings
from submissions_schema import (
    ACTIVE_STATUSES,
    FINAL_STATUSES,
    JobKind,
    Role,
    Submission,
    SubmissionDetail,
    SubmissionStatus,
)
from submissions_schema.challenges import (
    BoardChange,
    BoardRow,
    Challenge,
    ChallengeImported,
    ChallengeResult,
    LeaderboardEntry,
    MetaAttribute,
    Phase,
    SplitScore,
    SplitVisibility,
    SubmissionKind,
    TeamInfo,
)

IN_FLIGHT = [s.value for s in ACTIVE_STATUSES]
HOST_FAILED = '%"failed_by":"host"%'  # in a ChallengeResult's compact JSON
STATUS_FOR_LEADERBOARD = {SubmissionStatus.graded.value: "finished"}


class ChallengeService:
    def __init__(
        self,
        submissions: SubmissionService,
        settings: Settings,
        challenges: dict[str, Challenge] | None = None,
    ) -> None:
        self.submissions = submissions
        self.settings = settings
        self.url = submissions.url
        self._fixed = challenges

    @property
    def challenges(self) -> dict[str, Challenge]:
        """The given ones, or whatever is shipped and imported now (an import needs no restart)."""
        return self._fixed if self._fixed is not None else all_challenges(self.settings.data_dir)

    def redact(self, detail: SubmissionDetail, viewer: UserRow) -> SubmissionDetail:
        """A submission as its owner may see it: scores on host-only splits, and on any
        split of a phase whose leaderboard is private, wait for the phase's end."""
        result = detail.challenge_result
        if result is None or has_role(viewer, Role.ta):
            return detail
        challenge = self.challenges.get(result.challenge)
        phases = challenge.phases if challenge is not None else []
        phase = next((p for p in phases if p.codename == result.phase), None)
        kept: list[SplitScore] = []
        if challenge is not None and phase is not None:
            ended = phase.end_date is not None and utcnow() > as_utc(phase.end_date)
            splits = {ps.id: ps for ps in challenge.phase_splits}
            kept = [
                score
                for score in result.scores
                if ended
                or (
                    phase.leaderboard_public
                    and score.phase_split_id in splits
                    and splits[score.phase_split_id].visibility != SplitVisibility.host
                )
            ]
        # A host's traceback and output can quote its annotations: staff only.
        redacted = result.model_copy(
            update={"scores": kept, "host_log": "", "submission_result": None}
        )
        return detail.model_copy(update={"challenge_result": redacted})

    def challenge(self, name: str) -> Challenge:
        if name not in self.challenges:
            raise ServiceError(404, "unknown_challenge", f"no challenge {name!r}")
        return self.challenges[name]

    @staticmethod
    def visible(challenge: Challenge, viewer: UserRow | None) -> Challenge:
        """The challenge as `viewer` may see it. A phase that is not public (EvalAI's
        `is_public: False`) is the host's alone: absent from every list, page, submission
        and leaderboard for anyone but staff."""
        if viewer is not None and has_role(viewer, Role.ta):
            return challenge
        phases = [p for p in challenge.phases if p.is_public]
        ids = {p.id for p in phases}
        splits = [ps for ps in challenge.phase_splits if ps.challenge_phase_id in ids]
        return challenge.model_copy(update={"phases": phases, "phase_splits": splits})

    def phase(self, challenge: Challenge, codename: str, viewer: UserRow | None) -> Phase:
        try:
            return self.visible(challenge, viewer).phase(codename)
        except KeyError as exc:
            raise ServiceError(404, "unknown_phase", str(exc.args[0])) from None

    def split_inputs(self, name: str, split: str) -> bytes:
        challenge = self.challenge(name)
        try:
            splits = host_splits(challenge, self.settings)
        except ValueError as exc:
            raise ServiceError(404, "no_data", f"{name}: {exc}") from None
        if split not in splits:
            raise ServiceError(404, "unknown_split", f"{name} has no split {split!r}")
        return split_inputs(splits, split)

    # --- teams -----------------------------------------------------------------------------

    def team_of(self, user: UserRow, challenge: str) -> str:
        """The user's team in this challenge; a student in none is a team of one."""
        with session_scope(self.url) as session:
            name = session.scalar(
                select(TeamRow.name)
                .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
                .where(TeamRow.challenge == challenge, TeamMemberRow.user_id == user.id)
            )
        return name or user.name

    def create_team(self, challenge: str, name: str, members: list[str]) -> TeamInfo:
        self.challenge(challenge)
        with session_scope(self.url) as session:
            users = {
                u.name: u for u in session.scalars(select(UserRow).where(UserRow.name.in_(members)))
            }
            unknown = sorted(set(members) - set(users))
            if unknown:
                raise ServiceError(404, "unknown_user", f"no such users: {', '.join(unknown)}")
            for user in users.values():
                taken = session.scalar(
                    select(TeamRow.name)
                    .join(TeamMemberRow, TeamMemberRow.team_id == TeamRow.id)
                    .where(TeamRow.challenge == challenge, TeamMemberRow.user_id == user.id)
                )
                if taken and taken != name:
                    raise ServiceError(409, "already_in_a_team", f"{user.name} is in team {taken}")
            team = session.scalar(
                select(TeamRow).where(TeamRow.challenge == challenge, TeamRow.name == name)
            )
            if team is None:
                team = TeamRow(challenge=challenge, name=name)
                session.add(team)
                session.flush()
            existing = set(
                session.scalars(
                    select(TeamMemberRow.user_id).where(TeamMemberRow.team_id == team.id)
                )
            )
            for user in users.values():
                if user.id not in existing:
                    session.add(TeamMemberRow(team_id=team.id, user_id=user.id))
            session.flush()
            member_names = sorted(
                session.scalars(
                    select(UserRow.name)
                    .join(TeamMemberRow, TeamMemberRow.user_id == UserRow.id)
                    .where(TeamMemberRow.team_id == team.id)
                )
            )
        return TeamInfo(challenge=challenge, name=name, members=member_names)

    # --- submitting ------------------------------------------------------------------------

    def check_limits(self, challenge: Challenge, phase: Phase, team: str, now: datetime) -> None:
        with session_scope(self.url) as session:
            base = (
                select(func.count())
                .select_from(SubmissionRow)
                .where(
                    SubmissionRow.kind == JobKind.challenge,
                    SubmissionRow.assignment == challenge.name,
                    SubmissionRow.phase == phase.codename,
                    SubmissionRow.team == team,
                    SubmissionRow.is_baseline.is_(False),
                )
            )
            in_flight = session.scalar(base.where(SubmissionRow.status.in_(IN_FLIGHT))) or 0
            if in_flight >= phase.max_concurrent_submissions_allowed:
                raise ServiceError(
                    429,
                    "too_many_in_flight",
                    f"{in_flight} submissions of your team are still being evaluated; "
                    f"at most {phase.max_concurrent_submissions_allowed} at once",
                )
            # A result the host's own script broke is the host's failure: never counted.
            counted = base.where(
                SubmissionRow.status.not_in(UNCOUNTED),
                func.coalesce(SubmissionRow.result_json, "").not_like(HOST_FAILED),
            )
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            month = day.replace(day=1)
            for limit, since, what in (
                (phase.max_submissions, None, "in all"),
                (phase.max_submissions_per_month, month, "this month"),
                (phase.max_submissions_per_day, day, "today (UTC)"),
            ):
                query = (
                    counted if since is None else counted.where(SubmissionRow.created_at >= since)
                )
                if (session.scalar(query) or 0) >= limit:
                    raise ServiceError(
                        429,
                        "limit_reached",
                        f"the {phase.codename} phase allows {limit} submissions {what}",
                    )

    def submit(
        self,
        user: UserRow,
        challenge_name: str,
        phase_codename: str,
        file_name: str,
        data: bytes,
        method_name: str = "",
        is_public: bool | None = None,
        idempotency_key: str | None = None,
        submission_metadata: str | None = None,
    ) -> tuple[Submission, bool]:
        challenge = self.challenge(challenge_name)
        phase = self.phase(challenge, phase_codename, user)
        answers = meta_answers(phase, submission_metadata)
        public = phase.is_submission_public if is_public is None else is_public
        now = utcnow()
        if phase.start_date and now < as_utc(phase.start_date):
            raise ServiceError(
                403, "phase_not_open", f"{phase.codename} opens {phase.start_date:%Y-%m-%d %H:%M}"
            )
        if phase.end_date and now > as_utc(phase.end_date):
            raise ServiceError(
                403, "phase_closed", f"{phase.codename} closed {phase.end_date:%Y-%m-%d %H:%M}"
            )
        suffix = PurePosixPath(file_name).suffix.lower()
        if suffix not in phase.allowed_submission_file_types:
            raise ServiceError(
                422,
                "wrong_file_type",
                f"{suffix or 'no extension'} is not accepted in {phase.codename}; "
                f"send {' or '.join(phase.allowed_submission_file_types)}",
            )
        if not data:
            raise ServiceError(422, "empty_upload", "the upload is empty")
        trains = suffix == ".py" and challenge.evaluation != EVALAI_SCRIPT
        cap = self.settings.max_model_bytes if trains else self.settings.max_predictions_bytes
        if len(data) > cap:
            raise ServiceError(
                422, "upload_too_large", f"the upload is {len(data)} bytes; at most {cap}"
            )
        team = self.team_of(user, challenge.name)
        with session_scope(self.url) as session:
            if idempotency_key:
                existing = by_idempotency_key(session, user.id, idempotency_key)
                if existing is not None:
                    return to_model(existing), False
        self.check_limits(challenge, phase, team, now)
        with session_scope(self.url) as session:
            submission_id, created = self.submissions.record_received(
                session,
                user.id,
                file_name,
                data,
                idempotency_key,
                assignment=challenge.name,
                assignment_version="",
                kind=JobKind.challenge,
                phase=phase.codename,
                team=team,
                method_name=method_name[:200],
                is_public=public,
                is_baseline=has_role(user, Role.ta),
                queue=challenge.code_queue if trains else "cpu",
            )
            row = session.get(SubmissionRow, submission_id)
            if created and row is not None and challenge.evaluation == EVALAI_SCRIPT:
                # The answers travel with the row (no column of their own): the worker
                # passes them to evaluate(), and the result keeps them.
                row.result_json = ChallengeResult(
                    challenge=challenge.name,
                    phase=phase.codename,
                    kind=SubmissionKind.predictions,
                    status="submitted",
                    submission_metadata=answers,
                ).model_dump_json()
        if created:
            self.submissions.enqueue(submission_id)
        return self.submissions.get_model(submission_id), created

    def select(self, user: UserRow, submission_id: str) -> Submission:
        """A team picks the submission that counts in a phase that asks it to."""
        with session_scope(self.url) as session:
            row = self.submissions.visible_row(session, user, submission_id)
            if row.kind != JobKind.challenge:
                raise ServiceError(
                    409, "not_a_challenge_submission", "only challenge submissions are selected"
                )
            session.execute(
                update(SubmissionRow)
                .where(
                    SubmissionRow.assignment == row.assignment,
                    SubmissionRow.phase == row.phase,
                    SubmissionRow.team == row.team,
                )
                .values(selected=False)
            )
            row.selected = True
            return to_model(row)

    def mark(
        self,
        challenge_name: str,
        submission_id: str,
        *,
        is_baseline: bool | None = None,
        is_flagged: bool | None = None,
        is_public: bool | None = None,
    ) -> Submission:
        with session_scope(self.url) as session:
            row = session.get(SubmissionRow, submission_id)
            if row is None or row.kind != JobKind.challenge or row.assignment != challenge_name:
                raise ServiceError(
                    404, "not_found", f"{challenge_name} has no submission {submission_id}"
                )
            for field, value in (
                ("is_baseline", is_baseline),
                ("is_flagged", is_flagged),
                ("is_public", is_public),
            ):
                if value is not None:
                    setattr(row, field, value)
            return to_model(row)

    # --- importing bundles -----------------------------------------------------------------

    def import_bundle(
        self, source: Path, name: str | None = None, wait_s: float = 0.0
    ) -> ChallengeImported:
        """A host's EvalAI bundle (folder or .zip) as a new version of its challenge; a
        re-import evaluates the challenge's submissions again, with the leaderboards
        before and after (those still running after wait_s are listed as pending)."""
        from grader.challenges.bundle import (
            BundleError,
            build_environment,
            stage_bundle,
            store_bundle,
        )

        with tempfile.TemporaryDirectory(prefix="dlgrader-bundle-") as tmp:
            try:
                staged, folder = stage_bundle(
                    source, Path(tmp), name, self.settings.max_bundle_bytes, unzip_bundle
                )
                before = self.boards(staged.name)
                installed = build_environment(staged, self.settings.sandbox)
                challenge, previous = store_bundle(staged, folder, self.settings.data_dir)
            except BundleError as exc:
                raise ServiceError(422, "invalid_bundle", str(exc)) from None
        with session_scope(self.url) as session:
            ids = list(
                session.scalars(
                    select(SubmissionRow.id).where(
                        SubmissionRow.kind == JobKind.challenge,
                        SubmissionRow.assignment == challenge.name,
                    )
                )
            )
        # The same content is the same version: nothing to evaluate again.
        changed = previous is not None and previous.version != challenge.version
        queued = self.submissions.regrade(ids) if changed else []
        deadline = time.monotonic() + wait_s
        pending = set(queued)
        while pending and time.monotonic() < deadline:
            time.sleep(0.2)
            pending = {
                i for i in pending if self.submissions.get_model(i).status not in FINAL_STATUSES
            }
        after = self.boards(challenge.name)
        keys = list(dict.fromkeys([*before, *after]))
        return ChallengeImported(
            name=challenge.name,
            version=challenge.version,
            previous_version=previous.version if previous else None,
            evaluation=challenge.evaluation,
            phases=[p.codename for p in challenge.phases],
            splits=[d.codename for d in challenge.dataset_splits],
            unsupported=challenge.unsupported,
            installed=installed,
            reevaluated=len(queued),
            pending=sorted(pending),
            leaderboards=[
                BoardChange(
                    phase=k[0], split=k[1], before=before.get(k, []), after=after.get(k, [])
                )
                for k in keys
                if previous is not None
            ],
        )

    def boards(self, name: str) -> dict[tuple[str, str], list[BoardRow]]:
        """Every leaderboard of a challenge as its hosts see it: rank, team, the order-by value."""
        challenge = self.challenges.get(name)
        if challenge is None:
            return {}
        host = UserRow(name="host", role=Role.admin.value)  # a staff view, never stored
        codenames = {d.id: d.codename for d in challenge.dataset_splits}
        phases = {p.id: p.codename for p in challenge.phases}
        found = {}
        for ps in challenge.phase_splits:
            phase, split = phases[ps.challenge_phase_id], codenames[ps.dataset_split_id]
            entries, _ = self.leaderboard(name, phase, split, host)
            labels = challenge.leaderboard_schema(ps).labels
            at = labels.index(challenge.leaderboard_schema(ps).default_order_by)
            found[(phase, split)] = [
                BoardRow(
                    # The submission's id (EvalAI's entry keeps its row's id in `id`).
                    submission_id=str(getattr(e, "submission__id", e.id)),
                    team=e.submission__participant_team__team_name,
                    rank=e.rank,
                    value=e.result[at] if at < len(e.result) else None,
                )
                for e in entries
            ]
        return found

    # --- leaderboards ----------------------------------------------------------------------

    def leaderboard(
        self,
        challenge_name: str,
        phase_codename: str,
        split_codename: str,
        viewer: UserRow | None,
        order_by: str | None = None,
    ) -> tuple[list[LeaderboardEntry], datetime | None]:
        challenge = self.challenge(challenge_name)
        phase = self.phase(challenge, phase_codename, viewer)
        try:
            phase_split = challenge.phase_split(phase_codename, split_codename)
        except KeyError as exc:
            raise ServiceError(404, "unknown_split", str(exc.args[0])) from None
        now = utcnow()
        host = viewer is not None and has_role(viewer, Role.ta)
        ended = phase.end_date is not None and now > as_utc(phase.end_date)
        only_team: str | None = None
        if not host:
            hidden = phase_split.visibility == SplitVisibility.host or not phase.leaderboard_public
            if hidden and not ended:
                raise ServiceError(
                    403,
                    "leaderboard_private",
                    f"the {phase.codename}/{split_codename} leaderboard is private "
                    "until the phase ends",
                )
            if phase_split.visibility == SplitVisibility.owner_and_host and not ended:
                if viewer is None:
                    raise ServiceError(
                        401, "unauthenticated", "this leaderboard shows each team its own rows"
                    )
                only_team = self.team_of(viewer, challenge.name)
        with session_scope(self.url) as session:
            rows = session.execute(
                select(LeaderboardDataRow, SubmissionRow)
                .join(SubmissionRow, SubmissionRow.id == LeaderboardDataRow.submission_id)
                .where(
                    LeaderboardDataRow.challenge == challenge.name,
                    LeaderboardDataRow.phase_split_id == phase_split.id,
                    LeaderboardDataRow.disabled.is_(False),
                )
            ).all()
            team_ids = {
                name: team_id
                for name, team_id in session.execute(
                    select(TeamRow.name, TeamRow.id).where(TeamRow.challenge == challenge.name)
                )
            }
            scored = [
                scored_submission(data, sub, team_ids)
                for data, sub in rows
                if only_team is None or sub.team == only_team or sub.is_baseline
            ]
            updated = max((as_utc(data.at) for data, _ in rows), default=None)
        try:
            entries = compute_leaderboard(
                scored, challenge.leaderboard_schema(phase_split), phase, phase_split, order_by
            )
        except ValueError as exc:
            raise ServiceError(400, "bad_order_by", str(exc)) from None
        if not phase_split.show_scores_on_leaderboard and not host:
            entries = without_scores(entries)
        return entries, updated


def scored_submission(
    data: LeaderboardDataRow, sub: SubmissionRow, team_ids: dict[str, int]
) -> ScoredSubmission:
    """One leaderboard-data row and its submission as the leaderboard reads them: the
    metrics from the row, error bars, execution time and metadata from the stored result."""
    result = (
        ChallengeResult.model_validate_json(sub.result_json)
        if sub.result_json and sub.kind == JobKind.challenge
        else None
    )
    scores = result.scores if result else []
    score = next((s for s in scores if s.phase_split_id == data.phase_split_id), None)
    seconds = result.execution_time_s if result else None
    if seconds is None and sub.started_at and sub.finished_at:  # EvalAI: completed - started
        seconds = (as_utc(sub.finished_at) - as_utc(sub.started_at)).total_seconds()
    return ScoredSubmission(
        id=sub.id,
        team=sub.team or "",
        submitted_at=as_utc(sub.created_at),
        status=STATUS_FOR_LEADERBOARD.get(sub.status, sub.status),
        metrics=json.loads(data.metrics_json),
        method_name=sub.method_name,
        is_baseline=sub.is_baseline,
        is_public=sub.is_public,
        is_flagged=sub.is_flagged,
        selected=sub.selected,
        row_id=data.id,
        team_id=team_ids.get(sub.team or ""),
        error=score.error if score else None,
        execution_time_s=seconds,
        metadata=(result.submission_metadata or None) if result else None,
    )


MAX_META_TEXT = 2000


def _meta_value(attribute: MetaAttribute, value: Any) -> Any:
    """One answer, checked against its attribute's type; ValueError says what is wrong."""
    if attribute.type == "text":
        if not isinstance(value, str) or len(value) > MAX_META_TEXT:
            raise ValueError(f"is text of at most {MAX_META_TEXT} characters")
    elif attribute.type == "boolean":
        if not isinstance(value, bool):
            raise ValueError("is true or false")
    elif attribute.type == "radio":
        if value not in attribute.options:
            raise ValueError(f"is one of {', '.join(attribute.options)}")
    elif not isinstance(value, list) or not all(v in attribute.options for v in value):
        raise ValueError(f"is a list of some of {', '.join(attribute.options)}")
    return value


def meta_answers(phase: Phase, raw: str | None) -> dict[str, Any]:
    """The form's submission_metadata (a JSON object) checked against the phase's
    submission_meta_attributes: known names, the right types, the required ones there."""
    attributes = {a.name: a for a in phase.submission_meta_attributes}
    try:
        given = json.loads(raw) if raw else {}
    except (ValueError, RecursionError):
        raise ServiceError(
            422, "bad_submission_metadata", "submission_metadata is not valid JSON"
        ) from None
    if not isinstance(given, dict):
        raise ServiceError(
            422, "bad_submission_metadata", "submission_metadata must be a JSON object"
        )
    unknown = sorted(set(given) - set(attributes))
    if unknown:
        known = ", ".join(attributes) or "none"
        raise ServiceError(
            422,
            "bad_submission_metadata",
            f"{phase.codename} asks no {', '.join(unknown)[:200]}; its attributes: {known}",
        )
    missing = [a.name for a in attributes.values() if a.required and a.name not in given]
    if missing:
        raise ServiceError(
            422,
            "bad_submission_metadata",
            f"{phase.codename} requires submission_metadata {', '.join(missing)}",
        )
    answers = {}
    for name, value in given.items():
        try:
            answers[name] = _meta_value(attributes[name], value)
        except ValueError as exc:
            raise ServiceError(
                422, "bad_submission_metadata", f"{name} ({attributes[name].type}) {exc}"
            ) from None
    return answers


def unzip_bundle(data: bytes, dest: Path) -> None:
    """A bundle's zip (or the evaluation_script.zip inside it), through the upload checks."""
    from grader.challenges.bundle import CONFIG_FILE, BundleError
    from grader.service.uploads import UploadRejected, extract_zip

    try:
        extract_zip(data, dest, marker=CONFIG_FILE)
    except UploadRejected as exc:
        raise BundleError(f"{exc} ({exc.code})") from None
