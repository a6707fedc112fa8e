"""The human queue: tier-aware priority, the routing chain, offers with a deadline, nothing dropped.

Keys (all under one hash tag ``{hq}`` per deployment, so every Lua script here is Redis-Cluster-safe):

* ``queue:{team}`` sorted set of waiting conversations; score = enqueue time − the tier's boost (ms),
  so a VIP who waited 1 minute sorts before a regular who waited 2 when the VIP boost is over 60 s,
  and each class stays FIFO.
* ``dedicated:{agent}`` / ``sticky:{agent}`` the same tickets indexed by their dedicated agent and by
  the last agent who served the customer, with the same score.
* ``ticket:{conversation}`` hash: team, tier, customer, first message, status (queued, offered,
  assigned), the agent, attempts.
* ``agent:{id}`` hash (name, teams, capacity, status, load), ``alive:{id}`` heartbeat key with a TTL,
  ``convs:{id}`` set of the agent's conversations, ``offers`` sorted set of offer deadlines.

The routing chain for a conversation is dedicated agent → last agent (sticky) → an agent of its team →
anyone, each step only to agents that are online, not paused, alive and under capacity. Claiming is one
Lua script, so two instances dispatching at once can never give a ticket twice or exceed a capacity.

The queue is split by responsibility, each layer built on the one below: `base` (client, scripts,
keys, tickets) → `presence` (agents) → `waiting` (places in line) → `routing` (the chain and
claims) → `lifecycle` (enqueue, accept, requeue, finish, sweep).
"""

from __future__ import annotations

from handoff.queue.lifecycle import Lifecycle
from handoff.queue.models import STATUSES, TIERS, Agent, Placement, Position, QueueSettings, Ticket, Told


class HandoffQueue(Lifecycle):
    """The Redis queue and routing for one deployment prefix."""


__all__ = [
    "STATUSES",
    "TIERS",
    "Agent",
    "HandoffQueue",
    "Placement",
    "Position",
    "QueueSettings",
    "Ticket",
    "Told",
]
