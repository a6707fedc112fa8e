"""Agent scorecards: each agent's figures over a period, with their team's median beside each one."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reports.metrics import Tally

# The scorecard's figures, in the order the table shows them.
FIGURES = (
    "conversations",
    "first_response_seconds",
    "handling_seconds",
    "csat_satisfied_share",
    "ratings",
    "complaints",
    "transfers",
    "quality_score",
    "online_seconds",
    "paused_seconds",
    "utilisation",
)


@dataclass(frozen=True)
class Member:
    """An agent as the scorecards see them: id, display name and teams."""

    id: str
    name: str
    teams: tuple[str, ...]
    capacity: int = 1


def card(
    tallied: Mapping[str, Tally], quality: float | None, capacity: int = 1
) -> dict[str, float | int | None]:
    """Return one agent's figures from their tallies (the cube for ``agent=<id>``) and quality score.

    Utilisation is the handling time over the time online times the capacity: 1.0 is every slot busy
    for every online second (handling counts from the handoff, so it can pass 1 slightly).
    """

    def get(kind: str) -> Tally:
        return tallied.get(kind) or Tally()

    ratings = get("rating")
    satisfied = sum(n for score, n in ratings.by_detail.items() if score in ("4", "5"))
    return {
        "conversations": get("assigned").count,
        "first_response_seconds": get("agent_first_reply").mean(),
        "handling_seconds": get("closed").mean(),
        "csat_satisfied_share": round(satisfied / ratings.count, 4) if ratings.count else None,
        "ratings": ratings.count,
        "complaints": get("complaint_opened").count,
        "transfers": get("transfer").count,
        "quality_score": quality,
        "online_seconds": round(online, 1) if (online := get("presence_online").total) else None,
        "paused_seconds": round(paused, 1) if (paused := get("presence_paused").total) else None,
        "utilisation": round(get("closed").total / (online * max(1, capacity)), 4) if online else None,
    }


def with_team_medians(
    members: Sequence[Member], cards: Mapping[str, Mapping[str, float | int | None]]
) -> list[dict[str, Any]]:
    """Return one row per agent: their figures and, per figure, the median of their first team's agents."""
    rows = []
    for member in members:
        team = member.teams[0] if member.teams else ""
        mates = [cards[m.id] for m in members if (m.teams[:1] or ("",))[0] == team and m.id in cards]
        medians: dict[str, float | None] = {}
        for figure in FIGURES:
            values = [float(v) for c in mates if (v := c.get(figure)) is not None]
            medians[figure] = round(statistics.median(values), 4) if values else None
        rows.append(
            {
                "agent": member.id,
                "name": member.name,
                "team": team,
                "figures": cards.get(member.id, {}),
                "team_median": medians,
            }
        )
    return rows


def sheet(rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[object]]]:
    """Return the scorecard rows as a spreadsheet: agent, name, team, then each figure and its team median."""
    header = ["agent", "name", "team"]
    for figure in FIGURES:
        header += [figure, f"{figure}_team_median"]
    table: list[list[object]] = []
    for row in rows:
        line: list[object] = [row["agent"], row["name"], row["team"]]
        for figure in FIGURES:
            line += [row["figures"].get(figure), row["team_median"].get(figure)]
        table.append(["" if v is None else v for v in line])
    return header, table
