"""The reproduce report as Markdown and as a self-contained HTML page (plot embedded)."""

from __future__ import annotations

import base64
import io

from grader.html import html_templates
from submissions_schema.reproduce import ReproduceReport

VERDICT_COLOURS = {
    "reproduced": "#1a7f37",
    "not_reproduced": "#cf222e",
    "inconclusive": "#9a6700",
    "failed_to_run": "#6e7781",
}


def claim_plots(report: ReproduceReport) -> dict[str, bytes]:
    """One small plot per claim: per-seed results of its metric beside the paper's value
    and the accepted band."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plots: dict[str, bytes] = {}
    for claim in report.claims:
        variants = claim.variants
        series = [
            [
                r.metrics[claim.metric]
                for r in report.runs
                if r.variant == v and r.ok and claim.metric in r.metrics
            ]
            for v in variants
        ]
        if not any(series):
            continue
        fig, ax = plt.subplots(figsize=(3.2, 2.6))
        for i, (variant, ys) in enumerate(zip(variants, series, strict=True)):
            ax.scatter([i] * len(ys), ys, s=28, alpha=0.8, label=variant)
        if claim.reported is not None:
            ax.axhline(
                claim.reported, color="#cf222e", linestyle="--", linewidth=1.2, label="paper"
            )
            if claim.tolerance is not None and claim.type == "absolute":
                ax.axhspan(
                    claim.reported - claim.tolerance,
                    claim.reported + claim.tolerance,
                    color="#cf222e",
                    alpha=0.08,
                )
        ax.set_xticks(range(len(variants)), variants)
        ax.set_title(
            f"{claim.id}: {claim.verdict.value.replace('_', ' ')}",
            fontsize=10,
            color=VERDICT_COLOURS[claim.verdict.value],
        )
        ax.set_ylabel(claim.metric)
        ax.legend(fontsize=7, loc="best")
        fig.tight_layout()
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=100)
        plt.close(fig)
        plots[claim.id] = buffer.getvalue()
    return plots


def summary_skeleton(report: ReproduceReport) -> str:
    results = "\n".join(
        f"- **{c.id}** ({c.metric}): {c.verdict.value.replace('_', ' ')} — {c.reason}"
        for c in report.claims
    )
    return f"""## Reproducibility summary (skeleton)

**Scope of reproducibility.** _Which claims of the paper the team set out to check._

**Methodology.** Every run executed in the {report.sandbox} sandbox with seeds pinned
(PYTHONHASHSEED, random, NumPy, torch) and deterministic algorithms requested;
{len({r.seed for r in report.runs})} seeds per variant ({", ".join(sorted({r.variant for r in report.runs}))}).
The determinism check ran one seed twice: **{report.determinism.result.value if report.determinism else "n/a"}**.

**Results.**
{results}

**What was easy.** _For the team to write._

**What was difficult.** _For the team to write._

**Communication with the original authors.** _For the team to write._
"""


def to_markdown(report: ReproduceReport) -> str:
    lines = [f"# Reproduction report: {report.title}", ""]
    if report.verdict != "completed":
        return "\n".join([*lines, f"**Stopped: {report.message}**", ""])
    lines += [
        "| claim | metric | verdict | reported | reproduced | reason |",
        "|---|---|---|---|---|---|",
    ]
    for c in report.claims:
        reproduced = "" if c.reproduced_mean is None else f"{c.reproduced_mean:.4g}"
        reported = "" if c.reported is None else f"{c.reported:.4g}"
        lines.append(
            f"| {c.id} | {c.metric} | **{c.verdict.value}** | {reported} | {reproduced} | "
            f"{c.reason.replace('|', '/')} |"
        )
    lines += [
        "",
        "## Runs",
        "",
        "| variant | seed | exit | wall (s) | peak MB | metrics | what failed |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report.runs:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in r.metrics.items())
        lines.append(
            f"| {r.variant} | {r.seed} | {r.exit_code} | {r.wall_s:.2f} | "
            f"{r.peak_memory_mb or ''} | {metrics} | {r.failure.replace('|', '/')} |"
        )
    lines += [
        "",
        "## Per variant",
        "",
        "| variant | metric | n | mean | std | 95% interval |",
        "|---|---|---|---|---|---|",
        *[
            f"| {a.variant} | {a.metric} | {a.n} | {a.mean:.4g} | {a.std:.4g} | "
            f"{a.ci95[0]:.4g} … {a.ci95[1]:.4g} |"
            for a in report.aggregates
        ],
    ]
    d = report.determinism
    lines += [
        "",
        "## Determinism",
        "",
        f"{d.result.value if d else 'n/a'} (largest relative difference "
        f"{d.max_relative_difference if d else 'n/a'}) for `{d.command if d else ''}`",
        "",
        "## Inputs and environment",
        "",
        f"- code sha256 `{report.code_sha256}`, git commit `{report.git_commit}` "
        f"(dirty: {report.git_dirty})",
        *[f"- data `{path}` sha256 `{digest}`" for path, digest in report.data.items()],
        f"- sandbox {report.sandbox}, image {report.image_digest or 'n/a'}",
        *[f"- {k}: {v}" for k, v in report.fingerprint.items() if k != "packages"],
        f"- packages: {', '.join(f'{k} {v}' for k, v in dict(report.fingerprint.get('packages', {})).items())}",  # type: ignore[call-overload]
        "",
        "## Verdict rules",
        "",
        *[f"- {rule}" for rule in report.rules],
        "",
        summary_skeleton(report),
    ]
    return "\n".join(lines)


TEMPLATES = html_templates("grader.reproduce")


def _fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def to_html(report: ReproduceReport) -> str:
    plots = claim_plots(report) if report.verdict == "completed" else {}
    packages = report.fingerprint.get("packages")
    return TEMPLATES.get_template("report.html.j2").render(
        r=report,
        fmt=_fmt,
        colours=VERDICT_COLOURS,
        plots={k: base64.b64encode(v).decode() for k, v in plots.items()},
        packages=sorted(packages.items()) if isinstance(packages, dict) else [],
        nondeterministic=sorted({op for run in report.runs for op in run.nondeterministic_ops}),
        seeds=len({run.seed for run in report.runs}),
    )
