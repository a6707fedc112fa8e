"""What a service event is: its kinds, its fields, and the value buckets the roll-ups count in."""

from __future__ import annotations

import bisect
import enum
import json
from dataclasses import dataclass, fields


class Kind(str, enum.Enum):
    """What happened."""

    OPENED = "opened"
    # A conversation opened by a customer whose previous one opened within the containment window.
    RECONTACT = "recontact"
    KB_ANSWER = "kb_answer"  # detail: the KB's band (answer / suggest / escalate)
    CUSTOMER_MESSAGE = "customer_message"
    BOT_REPLY = "bot_reply"  # value: seconds from the customer's message to the bot's reply
    HANDOFF = "handoff"  # detail: the reason (asked, kb_misses, complaint, rule, takeover, ...)
    QUEUED = "queued"  # entered a team's queue; detail: from where (bot, agent: a transfer or a lost agent)
    OFFERED = "offered"  # offered to an agent to accept; value: seconds since it was queued
    ASSIGNED = "assigned"  # value: seconds waited in the queue
    AGENT_FIRST_REPLY = "agent_first_reply"  # value: seconds from the handoff
    AGENT_REPLY = "agent_reply"
    TRANSFER = "transfer"
    CLOSED = "closed"  # detail: the reason; value: handling seconds (with the agent: assigned → closed)
    HANDLED_IN_HOURS = "handled_in_hours"  # with each close: the handling seconds within the team's hours
    # Handed over again within the containment window after an agent closed the customer's conversation.
    REOPENED = "reopened"
    OFFLINE_MESSAGE = "offline_message"  # a message left for a team (after hours, or instead of waiting)
    RETURNED_TO_BOT = "returned_to_bot"
    RATING = "rating"  # detail and value: the score 1-5
    # The same rating again, as the bot's or a human's (CSAT bot vs human without a dimension filter).
    RATING_BOT = "rating_bot"
    RATING_HUMAN = "rating_human"
    COMPLAINT_OPENED = "complaint_opened"
    COMPLAINT_ESCALATED = "complaint_escalated"
    COMPLAINT_RESOLVED = "complaint_resolved"
    COMPLAINT_CONFIRMED = "complaint_confirmed"
    COMPLAINT_CLOSED_UNCONFIRMED = "complaint_closed_unconfirmed"
    # An agent's stretch online or paused, reported when their status changes; value: its seconds.
    PRESENCE_ONLINE = "presence_online"
    PRESENCE_PAUSED = "presence_paused"


# Upper bounds (seconds) of the value buckets; the last bucket is everything above.
BUCKETS = (
    1,
    2,
    5,
    10,
    20,
    30,
    45,
    60,
    90,
    120,
    180,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    14400,
    28800,
    86400,
)


@dataclass(frozen=True)
class Event:
    """One step of one conversation."""

    kind: Kind
    at: float
    conversation: str
    key: str  # the idempotency key: the same step reported twice has the same key
    channel: str = ""
    team: str = ""
    agent: str = ""
    tier: str = ""
    detail: str = ""
    value: float | None = None

    def field(self) -> str:
        """Return the roll-up field this event counts under."""
        return "|".join((self.kind.value, self.channel, self.team, self.agent, self.tier, self.detail))

    def cube_fields(self) -> list[str]:
        """Return the cube fields it counts under: once for all, once per dimension it has."""
        base = f"{self.kind.value}|{self.detail}|"
        dims = [("channel", self.channel), ("team", self.team), ("agent", self.agent), ("tier", self.tier)]
        return [base] + [f"{base}{name}={value}" for name, value in dims if value]

    def to_json(self) -> str:
        """Serialise for the stream (by hand: `dataclasses.asdict` was a quarter of recording's CPU)."""
        data = {name: getattr(self, name) for name in _FIELDS}
        data["kind"] = self.kind.value
        return json.dumps(data, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Event:
        """Read what ``to_json`` wrote."""
        data = json.loads(raw)
        data["kind"] = Kind(data["kind"])
        return cls(**data)


_FIELDS = tuple(f.name for f in fields(Event))


def bucket_of(value: float) -> int:
    """Return the index of the bucket ``value`` falls in."""
    return bisect.bisect_left(BUCKETS, value)
