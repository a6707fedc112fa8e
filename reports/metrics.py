"""Service metrics from the roll-ups: pure functions, one definition per figure (the README lists them).

Bot and human figures are never mixed: bot first response is the bot's reply time, human first response
is measured from the handoff, not from the conversation's start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from reports.events import BUCKETS

DIMENSIONS = ("channel", "team", "agent", "tier")


@dataclass(frozen=True)
class Costs:
    """What the service costs: an agent hour and one bot conversation, in one currency."""

    agent_per_hour: float = 60.0
    bot_per_conversation: float = 0.3
    currency: str = "CNY"


@dataclass
class Tally:
    """Counts (and values) of one kind of event, summed over the roll-up rows kept."""

    count: int = 0
    total: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    by_detail: dict[str, int] = field(default_factory=dict)

    def mean(self) -> float | None:
        """Return the mean value, or None without values."""
        valued = sum(self.buckets)
        return round(self.total / valued, 2) if valued else None

    def percentile(self, q: float) -> float | None:
        """Return the q-quantile, interpolated inside its bucket (exact to the bucket's width)."""
        valued = sum(self.buckets)
        if not valued:
            return None
        rank, seen = q * valued, 0
        for index, n in enumerate(self.buckets):
            if n and seen + n >= rank:
                low = BUCKETS[index - 1] if index else 0.0
                high = BUCKETS[index] if index < len(BUCKETS) else BUCKETS[-1] * 2
                return round(low + (high - low) * (rank - seen) / n, 2)
            seen += n
        return float(BUCKETS[-1])


Row = tuple[str, dict[str, str], str, str]  # kind, dimensions, detail, stat (n, s or b<i>)


def rows(rollups: Iterable[Mapping[str, str]]) -> Iterable[tuple[Row, float]]:
    """Yield every roll-up field as (kind, dimensions, detail, stat) and its number."""
    for rollup in rollups:
        for name, raw in rollup.items():
            base, _, stat = name.rpartition("#")
            kind, channel, team, agent, tier, detail = base.split("|", 5)
            yield (
                (kind, {"channel": channel, "team": team, "agent": agent, "tier": tier}, detail, stat),
                float(raw),
            )


def tallies(
    rollups: Iterable[Mapping[str, str]], keep: Callable[[dict[str, str]], bool] = lambda dims: True
) -> dict[str, Tally]:
    """Sum the roll-ups per kind, keeping only rows whose dimensions ``keep`` accepts."""
    found: dict[str, Tally] = {}
    for (kind, dims, detail, stat), number in rows(rollups):
        if not keep(dims):
            continue
        tally = found.setdefault(kind, Tally())
        if stat == "n":
            tally.count += int(number)
            tally.by_detail[detail] = tally.by_detail.get(detail, 0) + int(number)
        elif stat == "s":
            tally.total += number
        elif stat.startswith("b"):
            tally.buckets[int(stat[1:])] += int(number)
    return found


def cube_tallies(cubes: Iterable[Mapping[str, str]], dimension: str = "") -> dict[str, Tally]:
    """Sum the cubes per kind for one dimension's value (``team=support``) or, when empty, for all."""
    found: dict[str, Tally] = {}
    suffix = "|" + dimension
    for cube in cubes:
        for name, raw in cube.items():
            base, _, stat = name.rpartition("#")
            if not base.endswith(suffix):
                continue  # most fields are other dimensions' values: skip them before splitting
            kind, detail = base[: len(base) - len(suffix)].split("|", 1)
            tally = found.setdefault(kind, Tally())
            if stat == "n":
                tally.count += int(raw)
                tally.by_detail[detail] = tally.by_detail.get(detail, 0) + int(raw)
            elif stat == "s":
                tally.total += float(raw)
            else:
                tally.buckets[int(stat[1:])] += int(raw)
    return found


def _share(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def summary(t: Mapping[str, Tally], costs: Costs) -> dict[str, Any]:
    """Return every figure of one period from its tallies."""

    def get(kind: str) -> Tally:
        return t.get(kind) or Tally()

    opened, handoffs, recontacts = get("opened").count, get("handoff").count, get("recontact").count
    closed, kb = get("closed"), get("kb_answer")
    bot_only = max(0, opened - handoffs)
    contained = max(0, bot_only - recontacts)
    # Resolved: settled by the bot (contained), or closed by an agent or the customer (not gone silent).
    resolved = contained + closed.by_detail.get("agent", 0) + closed.by_detail.get("customer", 0)
    return {
        "volume": {
            "conversations": opened,
            "customer_messages": get("customer_message").count,
            "bot_only": bot_only,
            "handed_over": handoffs,
        },
        "bot": {
            "first_response_seconds": {
                "mean": get("bot_reply").mean(),
                "p50": get("bot_reply").percentile(0.5),
            },
            "kb_answers": kb.count,
            "kb_shares": {band: _share(n, kb.count) for band, n in sorted(kb.by_detail.items())},
        },
        "human": _human(get, closed),
        "resolution": {"resolved": resolved, "rate": _share(resolved, opened)},
        "handoff_reasons": dict(sorted(get("handoff").by_detail.items())),
        "handoff_rates": {
            reason: _share(n, opened) for reason, n in sorted(get("handoff").by_detail.items())
        },
        "containment": {
            "contained": contained,
            "rate": _share(contained, opened),
            "recontacts": recontacts,
            "escalation_rate": _share(handoffs, opened),
        },
        "csat": {
            **_csat(get("rating"), closed.count),
            "bot": _csat(get("rating_bot")),
            "human": _csat(get("rating_human"), closed.count),
        },
        "complaints": {
            **{
                name: get(f"complaint_{name}").count
                for name in ("opened", "escalated", "resolved", "confirmed", "closed_unconfirmed")
            },
            "median_seconds_to_confirm": get("complaint_confirmed").percentile(0.5),
            "confirmed_share": _share(
                get("complaint_confirmed").count,
                get("complaint_confirmed").count + get("complaint_closed_unconfirmed").count,
            ),
        },
        "cost": _cost(costs, closed.total / 3600, opened, handoffs, contained, resolved),
    }


def _human(get: Callable[[str], Tally], closed: Tally) -> dict[str, Any]:
    """The human side's figures: times from the handoff and the assignment, queueing, reopens."""
    return {
        "first_response_seconds": _spread(get("agent_first_reply")),
        "queue_wait_seconds": _spread(get("assigned")),
        "handling_seconds": _spread(closed),
        "handling_in_hours_seconds": _spread(get("handled_in_hours")),
        "closed": closed.count,
        "closed_by": dict(sorted(closed.by_detail.items())),
        "transfers": get("transfer").count,
        "queued": get("queued").count,
        "offered": get("offered").count,
        "offline_messages": get("offline_message").count,
        "reopened": get("reopened").count,
        "reopen_rate": _share(get("reopened").count, closed.count),
    }


def _csat(ratings: Tally, asked: int | None = None) -> dict[str, Any]:
    """CSAT of some ratings: satisfied (4-5) share; response rate over ``asked`` (closes) when given."""
    satisfied = sum(n for score, n in ratings.by_detail.items() if score in ("4", "5"))
    figures: dict[str, Any] = {
        "responses": ratings.count,
        "satisfied_share": _share(satisfied, ratings.count),
        "by_score": dict(sorted(ratings.by_detail.items())),
    }
    if asked is not None:
        figures["response_rate"] = _share(ratings.count, asked)
    return figures


def _spread(tally: Tally) -> dict[str, float | None]:
    return {"mean": tally.mean(), "p50": tally.percentile(0.5), "p90": tally.percentile(0.9)}


def _cost(
    costs: Costs, human_hours: float, opened: int, handoffs: int, contained: int, resolved: int
) -> dict[str, Any]:
    """Cost of the period, bot and human apart, and what containment saved (at the handed-over price)."""
    human_cost = human_hours * costs.agent_per_hour
    bot_cost = opened * costs.bot_per_conversation
    per_handover = (human_cost / handoffs + costs.bot_per_conversation) if handoffs else None
    saving = contained * (per_handover - costs.bot_per_conversation) if per_handover is not None else None
    return {
        "currency": costs.currency,
        "total": round(human_cost + bot_cost, 2),
        "human": round(human_cost, 2),
        "bot": round(bot_cost, 2),
        "per_conversation": round((human_cost + bot_cost) / opened, 2) if opened else None,
        "per_resolved_conversation": round((human_cost + bot_cost) / resolved, 2) if resolved else None,
        "per_handed_over_conversation": round(per_handover, 2) if per_handover is not None else None,
        "saving_from_containment": round(saving, 2) if saving is not None else None,
    }
