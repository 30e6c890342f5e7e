"""Aggregates and the verdict rules, written so the report can quote them."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

from submissions_schema.reproduce import (
    AbsoluteClaim,
    ClaimResult,
    ClaimVerdict,
    ComparisonClaim,
    ThresholdClaim,
)

RULES = [
    "Tolerance τ, stated with each claim: the claim's own; else twice the paper's reported "
    "std when it gives one; else by the metric's kind: 1 point for a percentage, 0.01 for "
    "a fraction, 5% of the reported value for a loss, an error or anything else. τ never "
    "depends on the reproduction's own spread.",
    "Absolute claims, an equivalence test (TOST, α = 0.05) of d = reproduced mean − "
    "reported value: reproduced when d's 90% interval lies within ±τ (one-sided claims: "
    "above −τ, or below τ); not reproduced when d's 95% interval lies wholly beyond τ; "
    "inconclusive otherwise, or with fewer than 3 runs. When the paper gives its std and "
    "n, d's standard error includes the paper's own (Welch).",
    "Comparison claims: from the per-seed pairs, the share in the expected order and a "
    "bootstrap estimate of P(A beats B) (2,000 resamples of seeds); reproduced when "
    "P ≥ 0.95, not reproduced when P ≤ 0.5, inconclusive in between or with fewer than 3 pairs.",
    "Threshold claims: reproduced when the whole 95% interval clears the threshold, not "
    "reproduced when the whole interval misses it, inconclusive otherwise.",
    "Runs that failed (a crash, a timeout, a missing or non-finite metric) are listed with "
    "the claim, which is judged on the runs that succeeded; failed to run when none did.",
]


def summary(values: list[float]) -> tuple[float, float, tuple[float, float], float | None]:
    """(mean, sample std, 95% t-interval, coefficient of variation)."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    mean = float(x.mean())
    std = float(x.std(ddof=1)) if n > 1 else 0.0
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    else:
        half = math.inf
    cv = std / abs(mean) if mean else None
    return mean, std, (mean - half, mean + half), cv


def default_tolerance(claim: AbsoluteClaim) -> tuple[float, str]:
    """τ and where it comes from, never from the reproduction's own spread."""
    if claim.tolerance is not None:
        return claim.tolerance, "the claim's"
    reported = claim.reported
    if reported.std:
        return 2 * reported.std, "twice the paper's std"
    if claim.kind == "percent":
        return 1.0, "1 point of a percentage"
    if claim.kind == "fraction":
        return 0.01, "0.01 of a fraction"
    scale = abs(reported.value) or 1.0
    return 0.05 * scale, "5% of the reported value"


def judge_absolute(claim: AbsoluteClaim, values: list[float]) -> ClaimResult:
    reported = claim.reported
    base: dict[str, Any] = dict(
        id=claim.id, type=claim.type, metric=claim.metric, reported=reported.value
    )
    tau, source = default_tolerance(claim)
    base.update(tolerance=tau)
    if len(values) < 3:
        return ClaimResult(
            **base,
            verdict=ClaimVerdict.inconclusive,
            reason=f"only {len(values)} successful runs; at least 3 are needed",
        )
    mean, std, (low, high), _ = summary(values)
    n = len(values)
    delta = mean - reported.value
    variance = std**2 / n
    df = float(n - 1)
    if reported.std is not None and reported.n and reported.n > 1:  # Welch
        theirs = reported.std**2 / reported.n
        variance += theirs
        df = variance**2 / ((std**2 / n) ** 2 / (n - 1) + theirs**2 / (reported.n - 1))
    se = math.sqrt(variance)
    t90, t95 = float(stats.t.ppf(0.95, df)), float(stats.t.ppf(0.975, df))
    lo90, hi90 = delta - t90 * se, delta + t90 * se
    lo95, hi95 = delta - t95 * se, delta + t95 * se
    details: dict[str, float | str | None] = {
        "std": std,
        "ci_low": low,
        "ci_high": high,
        "n": n,
        "delta": delta,
        "delta_ci90_low": lo90,
        "delta_ci90_high": hi90,
        "tolerance_from": source,
    }
    base.update(reproduced_mean=mean, details=details)
    if claim.direction == "higher":  # not worse than reported by more than τ
        equivalent, beyond = lo90 >= -tau, hi95 < -tau
    elif claim.direction == "lower":
        equivalent, beyond = hi90 <= tau, lo95 > tau
    else:
        equivalent, beyond = -tau <= lo90 and hi90 <= tau, lo95 > tau or hi95 < -tau
    said = (
        f"mean {mean:.6g} vs reported {reported.value:.6g}: difference {delta:+.6g}, 90% "
        f"interval [{lo90:+.6g}, {hi90:+.6g}], τ = {tau:.6g} ({source})"
    )
    if equivalent:
        return ClaimResult(**base, verdict=ClaimVerdict.reproduced, reason=f"{said}: within τ")
    if beyond:
        return ClaimResult(**base, verdict=ClaimVerdict.not_reproduced, reason=f"{said}: beyond τ")
    return ClaimResult(
        **base,
        verdict=ClaimVerdict.inconclusive,
        reason=f"{said}: neither within nor beyond τ; more seeds would decide",
    )


def judge_comparison(
    claim: ComparisonClaim, a: dict[int, float], b: dict[int, float]
) -> ClaimResult:
    seeds = sorted(set(a) & set(b))
    base: dict[str, Any] = dict(id=claim.id, type=claim.type, metric=claim.metric)
    if len(seeds) < 3:
        return ClaimResult(
            **base,
            verdict=ClaimVerdict.inconclusive,
            reason=f"only {len(seeds)} seeds ran for both variants; at least 3 are needed",
        )
    sign = 1.0 if claim.expect == "a > b" else -1.0
    diff = sign * (np.array([a[s] for s in seeds]) - np.array([b[s] for s in seeds]))
    share = float(np.mean(diff > 0))
    rng = np.random.default_rng(0)
    boots = rng.integers(0, len(seeds), size=(2000, len(seeds)))
    p_better = float(np.mean(diff[boots].mean(axis=1) > 0))
    details: dict[str, float | str | None] = {
        "pairs": len(seeds),
        "share_in_order": share,
        "p_better": p_better,
        "mean_difference": float(diff.mean()),
    }
    order = f"{claim.a} {claim.expect[2]} {claim.b}"
    what = f"{order}: {share:.0%} of seed pairs in order, P ≈ {p_better:.2f}"
    if p_better >= 0.95:
        return ClaimResult(**base, verdict=ClaimVerdict.reproduced, reason=what, details=details)
    if p_better <= 0.5:
        return ClaimResult(
            **base, verdict=ClaimVerdict.not_reproduced, reason=what, details=details
        )
    return ClaimResult(
        **base,
        verdict=ClaimVerdict.inconclusive,
        reason=what + " (between 0.5 and 0.95)",
        details=details,
    )


def judge_threshold(claim: ThresholdClaim, values: list[float]) -> ClaimResult:
    base: dict[str, Any] = dict(id=claim.id, type=claim.type, metric=claim.metric)
    if len(values) < 3:
        return ClaimResult(
            **base,
            verdict=ClaimVerdict.inconclusive,
            reason=f"only {len(values)} successful runs; at least 3 are needed",
        )
    mean, _, (low, high), _ = summary(values)
    bound = claim.min if claim.min is not None else claim.max
    assert bound is not None
    details: dict[str, float | str | None] = {"ci_low": low, "ci_high": high, "bound": bound}
    base.update(reproduced_mean=mean, reported=bound, details=details)
    if claim.min is not None:
        clears, misses, what = low >= bound, high < bound, f"at least {bound:.6g}"
    else:
        clears, misses, what = high <= bound, low > bound, f"at most {bound:.6g}"
    interval = f"95% interval [{low:.6g}, {high:.6g}]"
    if clears:
        return ClaimResult(**base, verdict=ClaimVerdict.reproduced, reason=f"{interval} is {what}")
    if misses:
        return ClaimResult(
            **base, verdict=ClaimVerdict.not_reproduced, reason=f"{interval} is not {what}"
        )
    return ClaimResult(
        **base,
        verdict=ClaimVerdict.inconclusive,
        reason=f"{interval} straddles the threshold {bound:.6g}",
    )
