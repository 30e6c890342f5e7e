"""Scoring a challenge submission on the trusted side. Labels never leave it."""

from __future__ import annotations

import io
import time

import numpy as np

from grader.challenges import digits
from grader.settings import Settings
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


def host_splits(challenge: Challenge, settings: Settings) -> dict[str, digits.Split]:
    """The challenge's data as this host has it: its private splits drawn from a seed
    derived from the host's secret."""
    if challenge.evaluation != "digits":
        raise ValueError(f"no evaluator {challenge.evaluation!r}")
    return digits.splits(settings.private_seed(f"challenge:{challenge.name}"))


def split_inputs(splits: dict[str, digits.Split], split: str) -> bytes:
    """What a team may download of a split, as .npz: its images as `x` (float32,
    (n, 1, 8, 8), in [0, 1]); the train split's labels as `y`. Ids are row numbers."""
    arrays: dict[str, np.ndarray] = {"x": splits[split].images}
    if split == "train":
        arrays["y"] = splits[split].labels
    buffer = io.BytesIO()
    np.savez_compressed(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def score_predictions(
    challenge: Challenge, phase: str, data: bytes, file_name: str, splits: dict[str, digits.Split]
) -> ChallengeResult:
    started = time.monotonic()
    scores = []
    for split, ps_id in phase_splits_of(challenge, phase):
        try:
            metrics = digits.score_predictions(splits[split], data, file_name)
        except digits.PredictionsRejected as exc:
            raise SubmissionUnreadable(f"{split} split: {exc}") from None
        scores.append(
            SplitScore(
                split=split,
                phase_split_id=ps_id,
                metrics=metrics,
                fingerprint=splits[split].fingerprint,
            )
        )
    return ChallengeResult(
        challenge=challenge.name,
        phase=phase,
        kind=SubmissionKind.predictions,
        scores=scores,
        execution_time_s=round(time.monotonic() - started, 6),
    )
