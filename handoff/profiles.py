"""Customer profiles: one person across channels, with tier, dedicated agent, notes and an audit trail.

Each channel identity (``telegram:42``, ``wechat:oX7...``, ``webchat:<visitor>``) points at one profile;
a profile is made the first time an identity writes. Agents link two profiles by merging them: the
identities, conversations and notes move to the kept profile, empty attributes are filled from the
other, and both the merge and every edit are written to the profile's audit stream. The tier follows
rules over the attributes (lifetime value, age) unless staff set it by hand.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field

from core.keys import Keys
from core.redis import AsyncRedis
from handoff.queue import TIERS

EDITABLE = ("name", "phone", "tags", "lifetime_value", "tier", "dedicated_agent")
AUDIT_MAXLEN = 1000
NOTES_MAXLEN = 500


@dataclass(frozen=True)
class TierRules:
    """How a profile's tier follows from its attributes (when not set by hand)."""

    vip_lifetime_value: float = 10_000.0
    new_for_days: float = 7.0

    def tier(self, lifetime_value: float, created_ms: int, now_ms: int) -> str:
        """Return vip, new or regular."""
        if lifetime_value >= self.vip_lifetime_value:
            return "vip"
        if now_ms - created_ms < self.new_for_days * 86_400_000:
            return "new"
        return "regular"


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits of a phone number (138****5678)."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 8:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


@dataclass(frozen=True)
class Profile:
    """One customer as the agents see them."""

    id: str
    name: str = ""
    phone: str = ""
    tier: str = "new"
    tier_by_hand: bool = False
    dedicated_agent: str = ""
    last_agent: str = ""
    lifetime_value: float = 0.0
    tags: tuple[str, ...] = ()
    identities: tuple[str, ...] = ()
    created_ms: int = 0
    extra: Mapping[str, str] = field(default_factory=dict)

    def public(self, reveal_phone: bool) -> dict[str, object]:
        """Return JSON-ready data; the phone is masked unless ``reveal_phone``."""
        return {
            "id": self.id,
            "name": self.name,
            "phone": self.phone if reveal_phone else mask_phone(self.phone),
            "tier": self.tier,
            "tier_by_hand": self.tier_by_hand,
            "dedicated_agent": self.dedicated_agent,
            "last_agent": self.last_agent,
            "lifetime_value": self.lifetime_value,
            "tags": list(self.tags),
            "identities": list(self.identities),
            "created": self.created_ms,
        }


class ProfileError(ValueError):
    """A profile change that cannot be made (unknown profile, bad value)."""


class Profiles:
    """Profiles in Redis under ``{prefix}:prof:*`` and ``{prefix}:ident:*``."""

    def __init__(self, client: AsyncRedis, prefix: str, rules: TierRules | None = None) -> None:
        """Use ``client`` for keys under ``prefix``; derive tiers with ``rules``."""
        self.redis = client
        self._keys = Keys(prefix)
        self.rules = rules or TierRules()

    async def for_identity(self, identity: str) -> Profile:
        """Return the identity's profile, making one on first contact."""
        key = self._keys.identity(identity)
        profile_id = await self.redis.get(key)
        if profile_id is None:
            candidate = uuid.uuid4().hex[:16]
            # Two instances meeting a new customer at once agree on one profile.
            if await self.redis.set(key, candidate, nx=True):
                now = str(int(time.time() * 1000))
                await self.redis.hset(self._keys.profile(candidate), mapping={"created": now, "tier": "new"})
                await self.redis.sadd(self._keys.profile_part(candidate, "ids"), identity)
                await self._audit(candidate, "system", "created", {"identity": identity})
            profile_id = await self.redis.get(key)
        assert profile_id is not None
        profile = await self.get(profile_id)
        assert profile is not None
        return profile

    async def get(self, profile_id: str) -> Profile | None:
        """Return the profile, or None."""
        raw = await self.redis.hgetall(self._keys.profile(profile_id))
        if not raw:
            return None
        identities = tuple(sorted(await self.redis.smembers(self._keys.profile_part(profile_id, "ids"))))
        created = int(raw.get("created") or 0)
        value = float(raw.get("lifetime_value") or 0)
        by_hand = raw.get("tier_by_hand") == "1"
        tier = raw.get("tier", "new") if by_hand else self.rules.tier(value, created, int(time.time() * 1000))
        return Profile(
            id=profile_id,
            name=raw.get("name", ""),
            phone=raw.get("phone", ""),
            tier=tier,
            tier_by_hand=by_hand,
            dedicated_agent=raw.get("dedicated_agent", ""),
            last_agent=raw.get("last_agent", ""),
            lifetime_value=value,
            tags=tuple(json.loads(raw.get("tags") or "[]")),
            identities=identities,
            created_ms=created,
        )

    async def seen(self, identity: str, conversation_id: str) -> Profile:
        """Record that the identity wrote in ``conversation_id``; return its profile."""
        profile = await self.for_identity(identity)
        await self.redis.zadd(self._keys.profile_part(profile.id, "convs"), {conversation_id: time.time()})
        return profile

    async def touch(self, identity: str, conversation_id: str, profile_id: str | None) -> None:
        """Do `seen` when the identity's profile id was already read (``None``: not made yet)."""
        if profile_id is None:
            await self.seen(identity, conversation_id)
            return
        await self.redis.zadd(self._keys.profile_part(profile_id, "convs"), {conversation_id: time.time()})

    async def conversations(self, profile_id: str, limit: int = 50) -> list[str]:
        """Return the profile's conversations across channels, most recent first."""
        return list(await self.redis.zrevrange(self._keys.profile_part(profile_id, "convs"), 0, limit - 1))

    async def served_by(self, profile_id: str, agent: str) -> None:
        """Remember the last agent who served the customer (sticky routing)."""
        await self.redis.hset(self._keys.profile(profile_id), "last_agent", agent)

    async def update(self, profile_id: str, actor: str, changes: Mapping[str, object]) -> Profile:
        """Change editable attributes, with an audit entry; raise ProfileError on a bad value."""
        if await self.get(profile_id) is None:
            raise ProfileError("no such profile")
        fields: dict[str | bytes, bytes | float | int | str] = {}
        for name, value in changes.items():
            if name not in EDITABLE:
                raise ProfileError(f"{name!r} cannot be changed (editable: {', '.join(EDITABLE)})")
            if name == "tags":
                if not isinstance(value, list) or not all(isinstance(t, str) and t.strip() for t in value):
                    raise ProfileError("tags must be a list of words")
                fields["tags"] = json.dumps(sorted({t.strip()[:32] for t in value}), ensure_ascii=False)
            elif name == "lifetime_value":
                if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                    raise ProfileError("lifetime_value must be a number ≥ 0")
                fields[name] = str(float(value))
            elif name == "tier":
                # "auto" hands the tier back to the rules.
                if value not in (*TIERS, "auto"):
                    raise ProfileError(f"tier must be one of {', '.join(TIERS)} or auto")
                fields["tier"] = "new" if value == "auto" else str(value)
                fields["tier_by_hand"] = "0" if value == "auto" else "1"
            else:
                if not isinstance(value, str) or len(value) > 100:
                    raise ProfileError(f"{name} must be text of up to 100 characters")
                if name == "phone" and value and not re.fullmatch(r"[+\d][\d\s-]{5,19}", value):
                    raise ProfileError("phone must be digits (with + - or spaces)")
                fields[name] = value.strip()
        if fields:
            await self.redis.hset(self._keys.profile(profile_id), mapping=fields)
            # The audit says what changed, never the phone number itself.
            shown = {str(k): ("***" if k == "phone" else v) for k, v in fields.items()}
            await self._audit(profile_id, actor, "updated", shown)
        profile = await self.get(profile_id)
        assert profile is not None
        return profile

    async def add_note(self, profile_id: str, author: str, text: str) -> str:
        """Add an internal note (agents only; customers never see it)."""
        if await self.get(profile_id) is None:
            raise ProfileError("no such profile")
        entry = {"author": author, "text": text[:2000], "at": str(int(time.time() * 1000))}
        return str(
            await self.redis.xadd(self._keys.profile_part(profile_id, "notes"), entry, maxlen=NOTES_MAXLEN)
        )

    async def notes(self, profile_id: str) -> list[dict[str, str]]:
        """Return the profile's notes, oldest first."""
        entries = await self.redis.xrange(self._keys.profile_part(profile_id, "notes"))
        return [{"id": i, **f} for i, f in entries]

    async def audit(self, profile_id: str) -> list[dict[str, str]]:
        """Return the profile's audit trail, oldest first."""
        entries = await self.redis.xrange(self._keys.profile_part(profile_id, "audit"))
        return [{"id": i, **f} for i, f in entries]

    async def merge(self, keep: str, other: str, actor: str) -> Profile:
        """Merge ``other`` into ``keep``: identities, conversations, notes, missing attributes; audited."""
        if keep == other:
            raise ProfileError("a profile cannot be merged into itself")
        kept, gone = await self.get(keep), await self.get(other)
        if kept is None or gone is None:
            raise ProfileError("no such profile")
        fill: dict[str | bytes, bytes | float | int | str] = {
            name: value
            for name, value in (
                ("name", gone.name),
                ("phone", gone.phone),
                ("dedicated_agent", gone.dedicated_agent),
                ("last_agent", gone.last_agent),
            )
            if value and not getattr(kept, name)
        }
        fill["lifetime_value"] = str(kept.lifetime_value + gone.lifetime_value)
        fill["tags"] = json.dumps(sorted(set(kept.tags) | set(gone.tags)), ensure_ascii=False)
        conversations = await self.redis.zrange(
            self._keys.profile_part(other, "convs"), 0, -1, withscores=True
        )
        notes = await self.notes(other)
        # Two profiles and their identities span Cluster slots: one pipeline, not a transaction. The
        # server runs all it received; a node lost mid-merge leaves both profiles, and merging again ends it.
        async with self.redis.pipeline(transaction=False) as pipe:
            for identity in gone.identities:
                pipe.set(self._keys.identity(identity), keep)
                pipe.sadd(self._keys.profile_part(keep, "ids"), identity)
            if conversations:
                pipe.zadd(self._keys.profile_part(keep, "convs"), dict(conversations))
            for note in notes:
                pipe.xadd(
                    self._keys.profile_part(keep, "notes"), {k: v for k, v in note.items() if k != "id"}
                )
            pipe.hset(self._keys.profile(keep), mapping=fill)
            pipe.delete(*(self._keys.profile_part(other, part) for part in ("ids", "convs", "notes")))
            pipe.delete(self._keys.profile(other))
            await pipe.execute()
        await self._audit(keep, actor, "merged", {"from": other, "identities": ",".join(gone.identities)})
        await self._audit(other, actor, "merged into", {"into": keep})
        merged = await self.get(keep)
        assert merged is not None
        return merged

    async def _audit(self, profile_id: str, actor: str, action: str, detail: Mapping[str, object]) -> None:
        entry = {
            "actor": actor,
            "action": action,
            "detail": json.dumps(dict(detail), ensure_ascii=False),
            "at": str(int(time.time() * 1000)),
        }
        await self.redis.xadd(
            self._keys.profile_part(profile_id, "audit"), entry, maxlen=AUDIT_MAXLEN, approximate=True
        )
