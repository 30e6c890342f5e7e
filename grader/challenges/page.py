"""A challenge's pages: its overview (phases, splits, metrics, the host's description)
and one leaderboard, rendered server-side from the same entries the API returns, which
the leaderboard page also embeds as JSON (`#leaderboard-data`). No script is needed to
read either.

Templates are Jinja2, autoescaped, in `templates/`. A page extends `layout`: the
standalone one here, or the service's site layout (a Template passed in), so the
service's navigation and sign-in wrap the same content.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import nh3
from jinja2 import Template
from markupsafe import Markup

from grader.challenges.leaderboard import is_ascending
from grader.html import html_templates
from submissions_schema.challenges import (
    Challenge,
    DatasetSplit,
    LeaderboardEntry,
    LeaderboardPage,
    LeaderboardSchema,
    Phase,
    PhaseSplit,
)

TEMPLATES = html_templates("grader.challenges")
STANDALONE = "standalone.html.j2"


def shown(value: float | str, precision: int) -> str:
    """What a cell shows: ints as ints (with thousands separators), other numbers at the
    phase-split's precision (display only; the JSON keeps the value), '#' as is."""
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{precision}f}"


def host_html(text: str) -> Markup:
    """A host's HTML (a challenge description) cleaned by nh3 (Ammonia): no scripts,
    no event handlers, no javascript: links. Plain text comes out escaped."""
    return Markup(nh3.clean(text))


def json_for_script(board: LeaderboardPage) -> Markup:
    """The page's JSON inside <script type="application/json">: '<', '>' and '&' as
    \\u escapes, so a team named `</script>` cannot end the element."""
    text = board.model_dump_json()
    return Markup(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))


@dataclass(frozen=True)
class Metric:
    label: str
    description: str
    ascending: bool


@dataclass(frozen=True)
class SplitLink:
    split: DatasetSplit
    phase_split: PhaseSplit
    url: str


@dataclass(frozen=True)
class PhaseView:
    phase: Phase
    splits: list[SplitLink]


def metrics(schema: LeaderboardSchema, phase_split: PhaseSplit) -> list[Metric]:
    return [
        Metric(
            label,
            schema.metadata[label].description if label in schema.metadata else "",
            is_ascending(schema, phase_split, label),
        )
        for label in schema.labels
    ]


def leaderboard_path(challenge: str, phase: str, split: str) -> str:
    return "/".join(("/challenges", *(quote(part, safe="") for part in (challenge, phase, split))))


def phase_views(challenge: Challenge) -> list[PhaseView]:
    splits = {d.id: d for d in challenge.dataset_splits}
    return [
        PhaseView(
            phase,
            [
                SplitLink(
                    splits[ps.dataset_split_id],
                    ps,
                    leaderboard_path(
                        challenge.name, phase.codename, splits[ps.dataset_split_id].codename
                    ),
                )
                for ps in challenge.phase_splits
                if ps.challenge_phase_id == phase.id
            ],
        )
        for phase in challenge.phases
    ]


HOST_SECTIONS = {  # a bundle's templates/*.html shown below the phases, in this order
    "evaluation_details": "Evaluation",
    "submission_guidelines": "Submitting",
    "terms_and_conditions": "Terms and conditions",
}


def render_challenge(
    challenge: Challenge,
    host_templates: dict[str, str] | None = None,
    layout: Template | str = STANDALONE,
    **context: Any,
) -> str:
    """The overview: the host's description, every phase with its dates, limits and own
    text, its splits linked to their leaderboards, each leaderboard's metrics with their
    descriptions and direction. `host_templates` are a bundle's HTML texts by name
    (`description`, `phase-<codename>`, ...); without them the config's description
    is shown. All host HTML is sanitised."""
    texts = host_templates or {}
    boards = [
        (b.id, metrics(b.schema_, _any_split_of(challenge, b.id)), b.schema_.default_order_by)
        for b in challenge.leaderboards
    ]
    return TEMPLATES.get_template("challenge.html.j2").render(
        layout=layout,
        challenge=challenge,
        description=host_html(texts.get("description", challenge.description)),
        phase_texts={
            p.codename: host_html(texts[f"phase-{p.codename}"])
            for p in challenge.phases
            if f"phase-{p.codename}" in texts
        },
        sections=[
            (title, host_html(texts[key])) for key, title in HOST_SECTIONS.items() if key in texts
        ],
        phases=phase_views(challenge),
        boards=boards,
        **context,
    )


def _any_split_of(challenge: Challenge, leaderboard_id: int) -> PhaseSplit:
    """A phase-split of this leaderboard, for the direction of labels without metadata
    (or a default one when no split uses the leaderboard)."""
    for ps in challenge.phase_splits:
        if ps.leaderboard_id == leaderboard_id:
            return ps
    return PhaseSplit(id=0, challenge_phase_id=0, leaderboard_id=leaderboard_id, dataset_split_id=0)


def render_leaderboard(
    challenge: Challenge,
    phase_split: PhaseSplit,
    entries: list[LeaderboardEntry],
    updated_at: datetime,
    order_by: str | None = None,
    layout: Template | str = STANDALONE,
    scores_shown: bool = True,
    **context: Any,
) -> str:
    """One phase-split's leaderboard: the table from `entries`, and `entries` as the
    API's page JSON. `scores_shown` false (a hidden-scores split, a reader who is not
    host) leaves the values out of the table."""
    schema = challenge.leaderboard_schema(phase_split)
    phase = next(p for p in challenge.phases if p.id == phase_split.challenge_phase_id)
    split = next(d for d in challenge.dataset_splits if d.id == phase_split.dataset_split_id)
    board = LeaderboardPage(count=len(entries), results=entries)
    return TEMPLATES.get_template("leaderboard.html.j2").render(
        layout=layout,
        challenge=challenge,
        phase=phase,
        split=split,
        phase_split=phase_split,
        metrics=metrics(schema, phase_split),
        order_by=order_by or schema.default_order_by,
        default_order_by=schema.default_order_by,
        entries=entries,
        board_json=json_for_script(board),
        updated_at=updated_at,
        precision=phase_split.leaderboard_decimal_precision,
        shown=shown,
        scores_shown=scores_shown,
        timed=phase_split.show_execution_time,
        overview=f"/challenges/{quote(challenge.name, safe='')}",
        ranked=sum(1 for e in entries if e.rank is not None),
        **context,
    )
