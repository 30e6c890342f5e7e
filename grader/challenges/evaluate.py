"""Scoring a challenge submission on the trusted side. Labels never leave it."""

from __future__ import annotations

from grader.challenges import digits
from submissions_schema.challenges import (
    Challenge,
    ChallengeResult,
    SplitScore,
    SubmissionKind,
)


class SubmissionUnreadable(ValueError):
    """The student's file cannot be scored (the message says why); not our failure."""


def phase_splits_of(challenge: Challenge, phase: str) -> list[tuple[str, int]]:
    """(split codename, phase-split id) for every split the phase is evaluated on."""
    p = challenge.phase(phase)
    codenames = {d.id: d.codename for d in challenge.dataset_splits}
    return [
        (codenames[ps.dataset_split_id], ps.id)
        for ps in challenge.phase_splits
        if ps.challenge_phase_id == p.id
    ]


def score_predictions(
    challenge: Challenge, phase: str, data: bytes, file_name: str
) -> ChallengeResult:
    if challenge.evaluation != "digits":
        raise ValueError(f"no evaluator {challenge.evaluation!r}")
    scores = []
    for split, ps_id in phase_splits_of(challenge, phase):
        try:
            metrics = digits.score_predictions(split, data, file_name)
        except digits.PredictionsRejected as exc:
            raise SubmissionUnreadable(f"{split} split: {exc}") from None
        scores.append(
            SplitScore(
                split=split,
                phase_split_id=ps_id,
                metrics=metrics,
                fingerprint=digits.splits()[split].fingerprint,
            )
        )
    return ChallengeResult(
        challenge=challenge.name, phase=phase, kind=SubmissionKind.predictions, scores=scores
    )
