"""The reports API: a period's figures, filtered by channel / team / agent / tier, beside the one before."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from reports.events import Kind, ServiceEvents
from reports.export import COLUMNS, cells, rows, to_csv, to_xlsx
from reports.metrics import DIMENSIONS, Costs, Tally, cube_tallies, summary, tallies
from reports.prometheus import GaugeSource
from reports.scorecards import FIGURES, Member, card, sheet, with_team_medians
from staff.api import Operation, session_of
from staff.errors import ApiError, json_error

EVENTS = web.AppKey("service_events", ServiceEvents)
COSTS = web.AppKey("costs", Costs)
# Where the agents and their quality scores come from (the handoff feature's, plugged in by bot/).
MEMBERS: web.AppKey[Callable[[], Awaitable[list[Member]]]] = web.AppKey("report_members")
LIVE: web.AppKey[GaugeSource] = web.AppKey("report_live")
QUALITY_SCORE: web.AppKey[Callable[[str, float], Awaitable[tuple[float | None, int]]]] = web.AppKey(
    "report_quality_score"
)
MAX_DAYS = 366
MAX_JSON_ROWS = 500
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _period(request: web.Request, events: ServiceEvents) -> tuple[dt.date, dt.date]:
    """Read ``from`` / ``to`` (YYYY-MM-DD, the reports' days; default today); a 400 says why not."""
    today = dt.datetime.now(events.zone).date()
    try:
        first = dt.date.fromisoformat(request.query.get("from", today.isoformat()))
        last = dt.date.fromisoformat(request.query.get("to", first.isoformat()))
    except ValueError:
        raise ApiError(400, "from and to are dates (YYYY-MM-DD)") from None
    if last < first or (last - first).days >= MAX_DAYS:
        raise ApiError(400, f"to is on or after from, at most {MAX_DAYS} days apart")
    return first, last


async def report(request: web.Request) -> web.StreamResponse:
    """The figures of one period and of the period of the same length before it."""
    events = request.app[EVENTS]
    first, last = _period(request, events)
    wanted = {d: request.query[d] for d in DIMENSIONS if request.query.get(d)}

    length = (last - first).days + 1
    before_last = first - dt.timedelta(days=1)
    before_first = before_last - dt.timedelta(days=length - 1)
    costs = request.app[COSTS]
    now = summary(await _tallies(events, first, last, wanted), costs)
    before = summary(await _tallies(events, before_first, before_last, wanted), costs)
    return web.json_response(
        {
            "from": first.isoformat(),
            "to": last.isoformat(),
            "filters": wanted,
            "figures": now,
            "previous": {"from": before_first.isoformat(), "to": before_last.isoformat(), "figures": before},
        }
    )


async def _tallies(
    events: ServiceEvents, first: dt.date, last: dt.date, wanted: dict[str, str]
) -> dict[str, Tally]:
    """One filter (or none) reads the week and day cubes; several read every combination of the days."""
    if len(wanted) <= 1:
        dimension = "".join(f"{name}={value}" for name, value in wanted.items())
        return cube_tallies(await events.cubes(first, last), dimension)
    return tallies(await events.days(first, last), lambda dims: all(dims[d] == v for d, v in wanted.items()))


async def series(request: web.Request) -> web.StreamResponse:
    """Day by day figures over the period (the dashboard's trends); one filter at most."""
    events = request.app[EVENTS]
    first, last = _period(request, events)
    wanted = {d: request.query[d] for d in DIMENSIONS if request.query.get(d)}
    if len(wanted) > 1:
        return json_error(400, "trends take one filter at most")
    dimension = "".join(f"{name}={value}" for name, value in wanted.items())
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    costs = request.app[COSTS]
    cubes = await events.day_cubes(days)
    points = [
        {"day": day.isoformat(), "figures": summary(cube_tallies([cube], dimension), costs)}
        for day, cube in zip(days, cubes, strict=True)
    ]
    return web.json_response({"from": first.isoformat(), "to": last.isoformat(), "days": points})


async def heatmap(request: web.Request) -> web.StreamResponse:
    """Customer messages (or ``?kind=``) per weekday (Monday first) and local hour over the period."""
    events = request.app[EVENTS]
    first, last = _period(request, events)
    kind = request.query.get("kind", "customer_message")
    if kind not in {k.value for k in Kind}:
        return json_error(400, f"unknown kind {kind!r}")
    grid = await events.heat(first, last, kind)
    return web.json_response({"from": first.isoformat(), "to": last.isoformat(), "kind": kind, "grid": grid})


async def live(request: web.Request) -> web.StreamResponse:
    """Right now, across the deployment: waiting per team, longest wait, agents, open and overdue cases."""
    samples = await request.app[LIVE]()
    rows: dict[str, dict[str, float]] = {}
    for sample in samples:
        label = next(iter(sample.labels.values()), "")
        rows.setdefault(sample.name, {})[label] = sample.value
    return web.json_response(rows)


async def scorecards(request: web.Request) -> web.StreamResponse:
    """Every agent's scorecard for the period (``?team=`` narrows it), with their team's medians."""
    return await _scorecards(request, only=None)


async def my_scorecard(request: web.Request) -> web.StreamResponse:
    """The signed-in agent's own scorecard, with their team's medians."""
    return await _scorecards(request, only=session_of(request).username)


async def _scorecards(request: web.Request, only: str | None) -> web.StreamResponse:
    events = request.app[EVENTS]
    first, last = _period(request, events)
    kind = _format(request, "json")
    members = await request.app[MEMBERS]()
    team = request.query.get("team")
    if only is not None:
        mine = next((m for m in members if m.id == only), None)
        team = mine.teams[0] if mine and mine.teams else None
    if team:
        members = [m for m in members if m.teams[:1] == (team,)]
    cubes = await events.cubes(first, last)
    since = dt.datetime.combine(first, dt.time(0), events.zone).timestamp()
    cards = {}
    for member in members:
        quality, _ = await request.app[QUALITY_SCORE](member.id, since)
        cards[member.id] = card(cube_tallies(cubes, f"agent={member.id}"), quality, member.capacity)
    rows = with_team_medians(members, cards)
    if only is not None:
        rows = [row for row in rows if row["agent"] == only]
    if kind == "json":
        return web.json_response(
            {"from": first.isoformat(), "to": last.isoformat(), "figures": list(FIGURES), "agents": rows}
        )
    header, table = sheet(rows)
    return await _download("scorecards", (first, last), kind, header, table)


async def _download(
    what: str, period: tuple[dt.date, dt.date], kind: str, header: list[str], table: list[list[object]]
) -> web.StreamResponse:
    """Answer a table as a CSV or XLSX attachment (the workbook is built off the event loop)."""
    name = f"{what}-{period[0].isoformat()}-{period[1].isoformat()}.{kind}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if kind == "csv":
        return web.Response(
            body=to_csv(header, table), content_type="text/csv", charset="utf-8", headers=headers
        )
    body = await asyncio.to_thread(to_xlsx, what, header, table)
    return web.Response(body=body, content_type=XLSX, headers=headers)


def _format(request: web.Request, default: str) -> str:
    """Read ``format`` (json, csv or xlsx); a 400 says which are known."""
    kind = request.query.get("format", default)
    if kind not in ("csv", "xlsx", "json"):
        raise ApiError(400, "format is json, csv or xlsx")
    return kind


async def conversations(request: web.Request) -> web.StreamResponse:
    """One row per conversation for the period, as CSV (default) or XLSX; user ids masked unless admin.

    ``channel``, ``team``, ``agent`` and ``tier`` keep the conversations that had that value (the
    dashboard's drill-down from an agent's scorecard row, say).
    """
    events = request.app[EVENTS]
    first, last = _period(request, events)
    kind = _format(request, "csv")
    wanted = {d: request.query[d] for d in DIMENSIONS if request.query.get(d)}
    start = dt.datetime.combine(first, dt.time(0), events.zone).timestamp()
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), events.zone).timestamp() - 0.001
    table = [
        row
        for row in rows(await events.between(start, end), events.zone)
        if all(getattr(row, name) == value for name, value in wanted.items())
    ]
    reveal = session_of(request).has("admin")
    request["audit"] = {"rows": len(table), "ids_shown": reveal}
    if kind == "json":  # the dashboard's drill-down: the conversations behind a day's or an agent's figures
        return web.json_response(
            {"columns": COLUMNS, "rows": [cells(row, reveal) for row in table[:MAX_JSON_ROWS]]}
        )
    table_cells = [cells(row, reveal) for row in table]
    return await _download("conversations", (first, last), kind, COLUMNS, table_cells)


def operations() -> list[Operation]:
    """Return the reports API's operations."""
    return [
        Operation(
            "GET",
            "/api/reports/summary",
            report,
            "Service figures for ?from=&to= (YYYY-MM-DD), filtered by channel, team, agent, tier.",
            "supervisor",
        ),
        Operation(
            "GET",
            "/api/reports/scorecards",
            scorecards,
            "Agent scorecards for ?from=&to= (?team= narrows; &format=json|csv|xlsx), with team medians.",
            "supervisor",
            audit="scorecards_viewed",
        ),
        Operation("GET", "/api/reports/scorecards/mine", my_scorecard, "Your own scorecard.", "agent"),
        Operation(
            "GET",
            "/api/reports/series",
            series,
            "Day-by-day figures for ?from=&to= (one filter).",
            "supervisor",
        ),
        Operation(
            "GET",
            "/api/reports/heatmap",
            heatmap,
            "Events per weekday and local hour for ?from=&to= (&kind=, default customer_message).",
            "supervisor",
        ),
        Operation(
            "GET",
            "/api/reports/conversations",
            conversations,
            "One row per conversation for ?from=&to= (&format=csv|xlsx|json, &channel=&team=&agent=&tier="
            " to keep those); user ids masked unless admin.",
            "supervisor",
            audit="conversations_exported",
        ),
        Operation(
            "GET", "/api/reports/live", live, "Queues, agents and complaint cases right now.", "supervisor"
        ),
    ]


SCHEMAS: dict[str, Any] = {}
