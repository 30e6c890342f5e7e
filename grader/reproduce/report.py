"""The reproduce report as Markdown and as a self-contained HTML page (plot embedded)."""

from __future__ import annotations

import base64
import io
from html import escape

from submissions_schema.reproduce import ReproduceReport

VERDICT_COLOURS = {
    "reproduced": "#1a7f37",
    "not_reproduced": "#cf222e",
    "inconclusive": "#9a6700",
    "failed_to_run": "#6e7781",
}


def plot_png(report: ReproduceReport) -> bytes | None:
    """Per-seed results of each claim's metric, beside the claimed value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [c for c in report.claims if c.type in ("absolute", "threshold", "comparison")]
    if not panels or not report.runs:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.0), squeeze=False)
    for ax, claim in zip(axes[0], panels, strict=True):
        variants = claim.variants
        for i, variant in enumerate(variants):
            ys = [
                r.metrics[claim.metric]
                for r in report.runs
                if r.variant == variant and r.ok and claim.metric in r.metrics
            ]
            ax.scatter([i] * len(ys), ys, s=28, alpha=0.8, label=variant)
        if claim.reported is not None:
            ax.axhline(
                claim.reported, color="#cf222e", linestyle="--", linewidth=1.2, label="claimed"
            )
        if claim.tolerance is not None and claim.reported is not None and claim.type == "absolute":
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
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


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
    if report.verdict == "input_mismatch":
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
        "| variant | seed | exit | wall (s) | peak MB | metrics |",
        "|---|---|---|---|---|---|",
    ]
    for r in report.runs:
        metrics = ", ".join(f"{k} {v:.4g}" for k, v in r.metrics.items())
        lines.append(
            f"| {r.variant} | {r.seed} | {r.exit_code} | {r.wall_s:.2f} | "
            f"{r.peak_memory_mb or ''} | {metrics} |"
        )
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


def to_html(report: ReproduceReport) -> str:
    png = plot_png(report) if report.verdict == "completed" else None
    image = (
        f'<img alt="per-seed results against each claim" src="data:image/png;base64,'
        f'{base64.b64encode(png).decode()}">'
        if png
        else ""
    )
    rows = "".join(
        f'<tr class="{escape(c.verdict.value)}"><td>{escape(c.id)}</td><td>{escape(c.metric)}</td>'
        f'<td class="verdict" style="color:{VERDICT_COLOURS[c.verdict.value]}">'
        f"{escape(c.verdict.value.replace('_', ' '))}</td>"
        f"<td>{'' if c.reported is None else f'{c.reported:.4g}'}</td>"
        f"<td>{'' if c.reproduced_mean is None else f'{c.reproduced_mean:.4g}'}</td>"
        f"<td>{escape(c.reason)}</td></tr>"
        for c in report.claims
    )
    runs = "".join(
        f"<tr><td>{escape(r.variant)}</td><td>{r.seed}</td><td>{r.exit_code}</td>"
        f"<td>{r.wall_s:.2f}</td><td>{r.peak_memory_mb or ''}</td>"
        f"<td>{escape(', '.join(f'{k} {v:.4g}' for k, v in r.metrics.items()))}</td></tr>"
        for r in report.runs
    )
    d = report.determinism
    fingerprint = "".join(
        f"<li><b>{escape(str(k))}</b>: {escape(str(v))[:400]}</li>"
        for k, v in report.fingerprint.items()
    )
    stopped = f'<p class="stop">Stopped: {escape(report.message)}</p>' if report.message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reproduction: {escape(report.title)}</title>
<style>
body {{ font: 15px/1.5 "DejaVu Sans", system-ui, sans-serif; color:#1d2433; background:#f6f7fb; margin:0 }}
main {{ max-width: 1000px; margin: 28px auto; padding: 0 20px }}
section {{ background:#fff; border:1px solid #e4e7ec; border-radius:12px; padding:16px 20px; margin:16px 0 }}
table {{ width:100%; border-collapse:collapse }} th, td {{ text-align:left; padding:6px 8px;
border-bottom:1px solid #eef0f3; vertical-align:top }} th {{ font-size:12px; color:#667085 }}
td.verdict {{ font-weight:700; white-space:nowrap }} img {{ max-width:100% }} .stop {{ color:#cf222e; font-weight:700 }}
</style></head><body><main>
<h1>Reproduction: {escape(report.title)}</h1>{stopped}
<section><h2>Claims</h2><table><thead><tr><th>claim</th><th>metric</th><th>verdict</th>
<th>reported</th><th>reproduced</th><th>reason</th></tr></thead><tbody>{rows}</tbody></table>{image}</section>
<section><h2>Determinism</h2><p><b>{escape(d.result.value if d else "n/a")}</b>
(largest relative difference {d.max_relative_difference if d else "n/a"})</p></section>
<section><h2>Runs</h2><table><thead><tr><th>variant</th><th>seed</th><th>exit</th><th>wall s</th>
<th>peak MB</th><th>metrics</th></tr></thead><tbody>{runs}</tbody></table></section>
<section><h2>Inputs and environment</h2><ul><li><b>code sha256</b>: {report.code_sha256}</li>
<li><b>git</b>: {escape(str(report.git_commit))} (dirty: {report.git_dirty})</li>
{"".join(f"<li><b>data {escape(p)}</b>: {h}</li>" for p, h in report.data.items())}
<li><b>sandbox</b>: {escape(report.sandbox)}</li>{fingerprint}</ul></section>
<section><h2>Verdict rules</h2><ul>{"".join(f"<li>{escape(r)}</li>" for r in report.rules)}</ul></section>
</main></body></html>
"""
