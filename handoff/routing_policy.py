"""The routing policy supervisors change in the staff app.

It holds the tier boosts, auto-assign teams, offer timeout and knowledge-base misses before a handoff.
The environment gives the defaults; a supervisor's policy is kept in Redis and every instance takes it on
its next sweep (each second), the one that saved it at once. Removing it returns to the defaults.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, replace
from typing import Any

from core.keys import Keys
from core.redis import AsyncRedis
from handoff.queue import TIERS, HandoffQueue
from handoff.service import HandoffService

log = logging.getLogger(__name__)

# Bounds a supervisor may set; outside them a value is a typo, not a policy.
MAX_BOOST_SECONDS = 24 * 3600
OFFER_TIMEOUT_RANGE = (5, 600)
MAX_KB_MISSES = 10
MAX_TEAMS = 50
MAX_TEAM_CHARS = 40


class PolicyError(ValueError):
    """A policy that cannot be applied; ``field`` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        """Keep the field for the form and the message for the supervisor."""
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class RoutingPolicy:
    """How conversations reach agents."""

    tier_boost_seconds: dict[str, float]
    auto_assign_teams: frozenset[str]
    offer_timeout_seconds: float
    kb_misses_to_handoff: int

    def to_json(self) -> dict[str, Any]:
        """Return the policy as the API and Redis keep it."""
        return {
            "tier_boost_seconds": {tier: self.tier_boost_seconds.get(tier, 0.0) for tier in TIERS},
            "auto_assign_teams": sorted(self.auto_assign_teams),
            "offer_timeout_seconds": self.offer_timeout_seconds,
            "kb_misses_to_handoff": self.kb_misses_to_handoff,
        }

    @classmethod
    def parse(cls, data: object) -> RoutingPolicy:
        """Validate a policy as the API receives it (raise PolicyError naming the field)."""
        if not isinstance(data, dict):
            raise PolicyError("policy", "send a JSON object")
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise PolicyError(sorted(unknown)[0], "not a routing setting")
        missing = [name for name in _FIELDS if name not in data]
        if missing:
            raise PolicyError(missing[0], "required")
        return cls(
            tier_boost_seconds=_boosts(data["tier_boost_seconds"]),
            auto_assign_teams=_teams(data["auto_assign_teams"]),
            offer_timeout_seconds=float(
                _number(data["offer_timeout_seconds"], "offer_timeout_seconds", *OFFER_TIMEOUT_RANGE)
            ),
            kb_misses_to_handoff=int(
                _number(data["kb_misses_to_handoff"], "kb_misses_to_handoff", 0, MAX_KB_MISSES, whole=True)
            ),
        )


_FIELDS = ("tier_boost_seconds", "auto_assign_teams", "offer_timeout_seconds", "kb_misses_to_handoff")


def _number(raw: object, field: str, low: float, high: float, whole: bool = False) -> float:
    # bool is an int in Python; true/false for a number of seconds is a client bug, not 1 or 0.
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw != raw:
        raise PolicyError(field, "a number")
    if whole and raw != int(raw):
        raise PolicyError(field, "a whole number")
    if not low <= raw <= high:
        raise PolicyError(field, f"between {low:g} and {high:g}")
    return float(raw)


def _boosts(raw: object) -> dict[str, float]:
    if not isinstance(raw, dict) or set(raw) - set(TIERS):
        raise PolicyError("tier_boost_seconds", f"seconds for each of {', '.join(TIERS)}")
    return {
        tier: _number(raw.get(tier, 0), f"tier_boost_seconds.{tier}", 0, MAX_BOOST_SECONDS) for tier in TIERS
    }


def _teams(raw: object) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(team, str) for team in raw):
        raise PolicyError("auto_assign_teams", "a list of team names")
    teams = frozenset(team.strip() for team in raw)
    if len(teams) > MAX_TEAMS:
        raise PolicyError("auto_assign_teams", f"at most {MAX_TEAMS} teams")
    for team in teams:
        if not team or len(team) > MAX_TEAM_CHARS or any(c.isspace() or c == "," for c in team):
            raise PolicyError(
                "auto_assign_teams", f"team names of 1 to {MAX_TEAM_CHARS} characters, no spaces"
            )
    return teams


@dataclass(frozen=True)
class Saved:
    """The policy in force, and who set it when (empty when it is the environment's default)."""

    policy: RoutingPolicy
    by: str = ""
    at_ms: int = 0


class RoutingPolicies:
    """The policy in force on this instance: the supervisor's, else the environment's defaults."""

    def __init__(self, client: AsyncRedis, prefix: str, queue: HandoffQueue, handoff: HandoffService) -> None:
        """Take the defaults from the queue's and the handoff service's settings as built."""
        self._redis = client
        self._key = Keys(prefix).routing_policy
        self.queue = queue
        self.handoff = handoff
        self.defaults = RoutingPolicy(
            tier_boost_seconds=dict(queue.settings.tier_boost_seconds),
            auto_assign_teams=queue.settings.auto_assign_teams,
            offer_timeout_seconds=queue.settings.offer_timeout_seconds,
            kb_misses_to_handoff=handoff.kb_misses_to_handoff,
        )
        self.current = Saved(self.defaults)
        self._raw: str | None = None
        self._read_at = 0.0

    async def refresh(self) -> Saved:
        """Read the stored policy and apply it if it changed (a corrupt one is logged and ignored)."""
        raw = await self._redis.get(self._key)
        self._read_at = time.monotonic()
        if raw != self._raw:
            self._raw = raw
            try:
                self._apply(self._read(raw))
            except (ValueError, KeyError, TypeError):
                log.warning("stored routing policy is unreadable; keeping the defaults", exc_info=True)
                self._apply(Saved(self.defaults))
        return self.current

    async def refresh_if_older(self, seconds: float) -> Saved:
        """Refresh when the last read is more than ``seconds`` old (for processes without a sweep)."""
        if time.monotonic() - self._read_at > seconds:
            return await self.refresh()
        return self.current

    def _read(self, raw: str | None) -> Saved:
        if raw is None:
            return Saved(self.defaults)
        data = json.loads(raw)
        return Saved(RoutingPolicy.parse(data["policy"]), str(data["by"]), int(data["at_ms"]))

    async def set(self, data: object, by: str) -> tuple[Saved, Saved]:
        """Validate, store and apply a supervisor's policy; return the one before and the one now."""
        before, policy = await self.refresh(), RoutingPolicy.parse(data)
        saved = Saved(policy, by, int(time.time() * 1000))
        raw = json.dumps({"policy": policy.to_json(), "by": by, "at_ms": saved.at_ms}, ensure_ascii=False)
        await self._redis.set(self._key, raw)
        self._raw = raw
        self._apply(saved)
        return before, saved

    async def reset(self) -> Saved:
        """Return to the environment's defaults; return the policy that was in force."""
        before = await self.refresh()
        await self._redis.delete(self._key)
        self._raw = None
        self._apply(Saved(self.defaults))
        return before

    def _apply(self, saved: Saved) -> None:
        policy = saved.policy
        self.queue.settings = replace(
            self.queue.settings,
            tier_boost_seconds=dict(policy.tier_boost_seconds),
            auto_assign_teams=policy.auto_assign_teams,
            offer_timeout_seconds=policy.offer_timeout_seconds,
        )
        self.handoff.kb_misses_to_handoff = policy.kb_misses_to_handoff
        self.current = saved
