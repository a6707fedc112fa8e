"""What the engine reports to the service events: ownership changes, read with the queue's ticket.

A transition listener sees every handoff, queueing, assignment, close and return to the bot, however it
came about (the dialogue, a rule, a take-over, the queue's claims, the silence sweep), so no service has to
remember to report them. Keys are the conversation and the transition's time: a retried transition is not
a second event, and a second instance reporting the same one changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from bot.wiring import Services
from core.state import Owner, Transition
from reports.events import ServiceEvents
from reports.scorecards import Member


def handoff_reason(reason: str) -> str:
    """Group a transition's free-text reason into the reports' handoff reasons."""
    text = reason.lower()
    if text.startswith("rule"):
        return "rule"
    if "complain" in text:
        return "complaint"
    if "kb" in text or "miss" in text:
        return "kb_misses"
    if "taken over" in text:
        return "takeover"
    return "asked"


def transition_events(services: Services, events: ServiceEvents) -> Callable[[Transition], Awaitable[None]]:
    """Return the state listener that records handoffs, queueing, assignments, closes and returns."""

    async def record(t: Transition) -> None:
        conversation, key = t.conversation_id, f"{t.conversation_id}:{t.at_ms}"
        ticket = await services.queue.ticket(conversation)
        team, tier = (ticket.team, ticket.tier) if ticket else (services.handoff.team, "")
        agent = ticket.agent if ticket else ""
        customer = (ticket.customer_id if ticket else "") or conversation
        if t.previous is Owner.BOT and t.current in (Owner.QUEUED, Owner.AGENT):
            # The ticket is made after this move: the profile is read here (the person, on any channel).
            profile = await services.profiles.for_identity(conversation)
            tier, customer = tier or profile.tier, profile.id
            detail = handoff_reason(t.reason)
            await events.observe("handoff", conversation, key=key, team=team, tier=tier, detail=detail)
            if await events.closed_recently(customer):
                # Back for a human within the window after an agent closed: that close did not settle it.
                await events.observe("reopened", conversation, key=key, team=team, tier=tier)
        if t.current is Owner.QUEUED:
            await events.observe(
                "queued", conversation, key=key, team=team, tier=tier, detail=t.previous.value
            )
        if t.current is Owner.AGENT and ticket is not None:
            waited = max(0.0, (t.at_ms - ticket.enqueued_ms) / 1000)
            await events.observe(
                "assigned", conversation, key=key, team=team, tier=tier, agent=agent, value=waited
            )
        elif t.current is Owner.CLOSED and t.previous is Owner.AGENT and ticket is not None:
            await _closed(services, events, t, ticket.team, tier, agent)
            await events.mark_closed(customer)
        elif t.current is Owner.BOT and t.previous in (Owner.AGENT, Owner.QUEUED):
            await events.observe("returned_to_bot", conversation, key=key, team=team, tier=tier, agent=agent)

    return record


async def _closed(
    services: Services, events: ServiceEvents, t: Transition, team: str, tier: str, agent: str
) -> None:
    """Record a close with its handling time (assigned → closed), plain and within opening hours."""
    conversation, key = t.conversation_id, f"{t.conversation_id}:{t.at_ms}"
    started_ms = t.previous_since_ms or t.at_ms
    handled = max(0.0, (t.at_ms - started_ms) / 1000)
    detail = "silence" if "silen" in t.reason else "customer" if t.actor == "customer" else "agent"
    dims = {"team": team, "tier": tier, "agent": agent}
    await events.observe("closed", conversation, key=key, detail=detail, value=handled, **dims)
    schedule = await services.hours.get(team)
    in_hours = handled
    if schedule is not None:
        start, end = (dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc) for ms in (started_ms, t.at_ms))
        in_hours = schedule.open_seconds(start, end)
    await events.observe("handled_in_hours", conversation, key=key, value=in_hours, **dims)


def members_of(services: Services) -> Callable[[], Awaitable[list[Member]]]:
    """Return what lists the agents for the scorecards: the queue's routing records."""

    async def members() -> list[Member]:
        return [Member(a.id, a.name, tuple(a.teams), a.capacity) for a in await services.queue.agents()]

    return members
