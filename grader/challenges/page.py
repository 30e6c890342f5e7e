"""A leaderboard as a self-contained static page: no scripts, no external assets."""

from __future__ import annotations

from datetime import datetime
from html import escape

from submissions_schema.challenges import Challenge, LeaderboardEntry, PhaseSplit

STYLE = """
:root { --ink:#1d2433; --muted:#667085; --line:#e4e7ec; --accent:#3559e0; --base:#fff7e0; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 "DejaVu Sans", system-ui, sans-serif; color: var(--ink);
       background: #f6f7fb; }
main { max-width: 980px; margin: 32px auto; padding: 0 20px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 0; color: var(--muted); }
.card { background: #fff; border: 1px solid var(--line); border-radius: 12px; margin-top: 20px;
        overflow: hidden; box-shadow: 0 1px 2px rgba(16,24,40,.05); }
table { width: 100%; border-collapse: collapse; }
th, td { padding: 10px 14px; text-align: left; border-bottom: 1px solid var(--line); }
th { font-size: 12px; letter-spacing: .04em; text-transform: uppercase; color: var(--muted);
     background: #fafbfc; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.rank { font-weight: 700; width: 56px; }
td.team, td.when { white-space: nowrap; }
tr.first td.rank { color: var(--accent); }
tr.baseline td { background: var(--base); }
.tag { display: inline-block; margin-left: 8px; padding: 1px 8px; border-radius: 999px;
       font-size: 11px; background: #f2c94c; color: #5c4400; }
.order { color: var(--accent); }
footer { color: var(--muted); font-size: 13px; margin-top: 12px; }
.empty { padding: 24px; color: var(--muted); }
"""


def shown(value: float | str, precision: int) -> str:
    """Counts (parameters) as integers, scores at the split's precision, '#' as is."""
    if isinstance(value, str):
        return value
    if float(value).is_integer() and abs(value) >= 100:
        return f"{int(value):,}"
    return f"{value:.{precision}f}"


def render_leaderboard(
    challenge: Challenge,
    phase_split: PhaseSplit,
    entries: list[LeaderboardEntry],
    updated_at: datetime,
    order_by: str | None = None,
) -> str:
    schema = challenge.leaderboard_schema(phase_split)
    precision = phase_split.leaderboard_decimal_precision
    order_by = order_by or schema.default_order_by
    phase = next(p for p in challenge.phases if p.id == phase_split.challenge_phase_id)
    split = next(d for d in challenge.dataset_splits if d.id == phase_split.dataset_split_id)
    heads = "".join(
        f'<th class="num{" order" if label == order_by else ""}" data-label="{escape(label)}">'
        f"{escape(label.replace('_', ' '))}{' ▼' if label == order_by else ''}</th>"
        for label in schema.labels
    )
    rows = []
    for e in entries:
        classes = " ".join(
            c
            for c in (
                "baseline" if e.submission__is_baseline else "",
                "first" if e.rank == 1 else "",
            )
            if c
        )
        tag = '<span class="tag">baseline</span>' if e.submission__is_baseline else ""
        cells = "".join(f'<td class="num">{escape(shown(v, precision))}</td>' for v in e.result)
        team = escape(e.submission__participant_team__team_name)
        rows.append(
            f'<tr class="{classes}" data-team="{team}">'
            f'<td class="rank">{"" if e.rank is None else e.rank}</td>'
            f'<td class="team">{team}{tag}</td>'
            f"<td>{escape(e.submission__method_name)}</td>{cells}"
            f'<td class="when">{e.submission__submitted_at:%Y-%m-%d %H:%M}</td></tr>'
        )
    body = (
        f"<table><thead><tr><th>rank</th><th>team</th><th>method</th>{heads}"
        f"<th>submitted (UTC)</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        if rows
        else '<p class="empty">No ranked entries yet.</p>'
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(challenge.title)} — {escape(phase.name)} / {escape(split.name)}</title>
<style>{STYLE}</style></head>
<body><main>
<header><h1>{escape(challenge.title)}</h1>
<p>{escape(phase.name)} phase · {escape(split.name)} · ordered by
<strong>{escape(order_by.replace("_", " "))}</strong></p></header>
<section class="card">{body}</section>
<footer>Last updated
<time datetime="{updated_at.isoformat()}">{updated_at:%Y-%m-%d %H:%M} UTC</time>
· {len([e for e in entries if e.rank is not None])} teams ranked
· computed by dlgrader from stored results</footer>
</main></body></html>
"""
