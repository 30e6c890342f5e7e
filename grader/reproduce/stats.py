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
    "Default tolerance τ = max(0.5 points, 2·s) where s is the runs' standard deviation: "
    "0.5 points is 0.5 on a 0-100 metric, 0.005 on a 0-1 metric; a claim may give its own τ.",
    "Absolute claims: the accepted region is the reported value ± τ (one-sided claims: "
    "not worse than it by more than τ). Reproduced when the mean lies in it and the 95% "
    "t-interval's half-width is at most τ; not reproduced when the whole interval lies "
    "outside it; inconclusive otherwise, or with fewer than 3 runs.",
    "Comparison claims: from the per-seed pairs, the share in the expected order and a "
    "bootstrap estimate of P(A beats B) (2,000 resamples of seeds); reproduced when "
    "P ≥ 0.95, not reproduced when P ≤ 0.5, inconclusive in between or with fewer than 3 pairs.",
    "Threshold claims: reproduced when the whole 95% interval clears the threshold, not "
    "reproduced when the whole interval misses it, inconclusive otherwise.",
    "Any claim whose runs failed or timed out: failed to run, with the log's tail.",
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


def default_tolerance(reported: float, std: float) -> float:
    point = 0.005 if abs(reported) <= 1.0 else 0.5
    return max(point, 2 * std)


def judge_absolute(claim: AbsoluteClaim, values: list[float]) -> ClaimResult:
    reported = claim.reported.value
    base: dict[str, Any] = dict(
        id=claim.id, type=claim.type, metric=claim.metric, reported=reported
    )
    if len(values) < 3:
        return ClaimResult(
            **base,
            verdict=ClaimVerdict.inconclusive,
            reason=f"only {len(values)} successful runs; at least 3 are needed",
        )
    mean, std, (low, high), _ = summary(values)
    tau = claim.tolerance or default_tolerance(reported, std)
    half = (high - low) / 2
    details: dict[str, float | str | None] = {
        "std": std,
        "ci_low": low,
        "ci_high": high,
        "n": len(values),
        "delta": mean - reported,
    }
    base.update(reproduced_mean=mean, tolerance=tau, details=details)
    lower = reported - tau if claim.direction in ("higher", "two_sided") else -math.inf
    upper = reported + tau if claim.direction in ("lower", "two_sided") else math.inf
    region = f"[{lower:.4g}, {upper:.4g}]".replace("-inf", "−∞").replace("inf", "∞")
    interval = f"mean {mean:.4g}, 95% interval [{low:.4g}, {high:.4g}]"
    if lower <= mean <= upper and half <= tau:
        return ClaimResult(
            **base,
            verdict=ClaimVerdict.reproduced,
            reason=f"{interval} within the accepted {region} (τ = {tau:.4g})",
        )
    if high < lower or low > upper:
        return ClaimResult(
            **base,
            verdict=ClaimVerdict.not_reproduced,
            reason=f"{interval} lies outside the accepted {region} (τ = {tau:.4g})",
        )
    return ClaimResult(
        **base,
        verdict=ClaimVerdict.inconclusive,
        reason=f"{interval} is too wide to decide against {region} (τ = {tau:.4g}): "
        "more seeds needed",
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
        clears, misses, what = low >= bound, high < bound, f"at least {bound:.4g}"
    else:
        clears, misses, what = high <= bound, low > bound, f"at most {bound:.4g}"
    interval = f"95% interval [{low:.4g}, {high:.4g}]"
    if clears:
        return ClaimResult(**base, verdict=ClaimVerdict.reproduced, reason=f"{interval} is {what}")
    if misses:
        return ClaimResult(
            **base, verdict=ClaimVerdict.not_reproduced, reason=f"{interval} is not {what}"
        )
    return ClaimResult(
        **base,
        verdict=ClaimVerdict.inconclusive,
        reason=f"{interval} straddles the threshold {bound:.4g}",
    )
