"""What the queue stores and returns: settings, tickets, agents, placements and places in line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

STATUSES = ("online", "paused", "offline")
TIERS = ("vip", "regular", "new")


@dataclass(frozen=True)
class QueueSettings:
    """Routing policy; every value has a documented default."""

    tier_boost_seconds: Mapping[str, float] = field(
        default_factory=lambda: {"vip": 300.0, "regular": 0.0, "new": 0.0}
    )
    offer_timeout_seconds: float = 30.0
    heartbeat_ttl_seconds: float = 30.0
    # Teams whose conversations are assigned without asking; the others are offered and accepted.
    auto_assign_teams: frozenset[str] = frozenset()
    default_handle_seconds: float = 300.0
    scan_depth: int = 50


@dataclass(frozen=True)
class Ticket:
    """A conversation waiting for, offered to, or handled by a human."""

    conversation_id: str
    team: str
    tier: str
    customer_id: str
    first_message: str
    channel: str
    enqueued_ms: int
    score: float
    status: str = "queued"
    agent: str = ""
    dedicated_agent: str = ""
    last_agent: str = ""
    attempts: int = 0
    # The agent who transferred it away: never routed back to them, and no "anyone" fallback (the
    # transfer named a team on purpose).
    transferred_from: str = ""

    def fields(self) -> list[str]:
        """Return the ticket's hash as flat field/value pairs, the form the Lua scripts take."""
        values = {
            "team": self.team,
            "tier": self.tier,
            "customer_id": self.customer_id,
            "first_message": self.first_message,
            "channel": self.channel,
            "enqueued_ms": str(self.enqueued_ms),
            "score": f"{self.score:.17g}",
            "status": self.status,
            "agent": self.agent,
            "dedicated_agent": self.dedicated_agent,
            "last_agent": self.last_agent,
            "attempts": str(self.attempts),
            "transferred_from": self.transferred_from,
        }
        return [x for item in values.items() for x in item]


@dataclass(frozen=True)
class Agent:
    """A human agent's routing record."""

    id: str
    name: str
    teams: tuple[str, ...]
    capacity: int
    status: str
    load: int
    alive: bool

    @property
    def available(self) -> bool:
        """Return True when routing may give this agent another conversation."""
        return self.alive and self.status == "online" and self.load < self.capacity


@dataclass(frozen=True)
class Placement:
    """Where a ticket went: which agent, by which step of the chain, offered or assigned."""

    conversation_id: str
    agent_id: str
    step: str
    status: str


@dataclass(frozen=True)
class Told:
    """What a waiting customer was told: their place ("place:wait:ms"), and whether of a long wait."""

    place: str
    enqueued_ms: int
    long_wait: str


@dataclass(frozen=True)
class Position:
    """A waiting customer's place in line and the expected wait."""

    position: int
    expected_wait_seconds: float
