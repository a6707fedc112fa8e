"""The audit log: who read or changed what, above all customers' personal data, append-only in Redis.

One stream per deployment, trimmed by age (`AUDIT_RETENTION_DAYS`), never edited. Staff API operations
declare their audit action in the operation table (`staff.api.Operation.audit`), so an audited route
cannot forget to write its entry; work outside HTTP (the CLI's user changes) records its own.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web

from core.keys import Keys

DEFAULT_RETENTION_DAYS = 365
MAX_DETAIL_CHARS = 2000
# A search reads at most this many entries back from the newest (a filter narrows what is returned).
SEARCH_SCAN = 20_000


@dataclass(frozen=True)
class AuditEntry:
    """One thing a member of staff (or the system) did."""

    id: str
    at: float
    actor: str
    action: str
    target: str
    detail: dict[str, Any]
    address: str

    def to_dict(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "id": self.id,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "address": self.address,
        }


class AuditLog:
    """Append and search the deployment's audit entries."""

    def __init__(
        self, client: aioredis.Redis[str], keys: Keys, retention_days: int = DEFAULT_RETENTION_DAYS
    ) -> None:
        """Keep entries under ``keys`` for ``retention_days``."""
        self.redis = client
        self.key = keys.audit
        self.retention_ms = retention_days * 86_400_000

    async def record(
        self,
        actor: str,
        action: str,
        target: str = "",
        detail: Mapping[str, Any] | None = None,
        address: str = "",
    ) -> str:
        """Append one entry (older ones past the retention fall off); return its id."""
        now_ms = int(time.time() * 1000)
        text = json.dumps(dict(detail or {}), ensure_ascii=False, default=str)[:MAX_DETAIL_CHARS]
        fields = {"actor": actor, "action": action, "target": target, "detail": text, "address": address}
        entry_id = await self.redis.xadd(
            self.key, fields, minid=str(now_ms - self.retention_ms), approximate=False
        )
        return str(entry_id)

    async def search(
        self,
        *,
        actor: str = "",
        action: str = "",
        target: str = "",
        since: float | None = None,
        until: float | None = None,
        limit: int = 200,
    ) -> list[AuditEntry]:
        """Return the newest entries matching every filter given (``target`` matches a substring)."""
        high = f"{int(until * 1000)}" if until is not None else "+"
        low = f"{int(since * 1000)}" if since is not None else "-"
        found: list[AuditEntry] = []
        scanned = 0
        while scanned < SEARCH_SCAN and len(found) < limit:
            batch = await self.redis.xrevrange(self.key, high, low, count=500)
            if not batch:
                break
            for entry_id, fields in batch:
                scanned += 1
                entry = _entry(entry_id, fields)
                if (
                    (not actor or entry.actor == actor)
                    and (not action or entry.action == action)
                    and (not target or target in entry.target)
                ):
                    found.append(entry)
                    if len(found) >= limit:
                        break
            high = f"({batch[-1][0]}"  # exclusive: continue below the last one read
        return found


def _entry(entry_id: str, fields: Mapping[str, str]) -> AuditEntry:
    try:
        detail = json.loads(fields.get("detail") or "{}")
    except ValueError:
        detail = {"unreadable": fields.get("detail", "")}
    return AuditEntry(
        entry_id,
        int(entry_id.partition("-")[0]) / 1000,
        fields.get("actor", ""),
        fields.get("action", ""),
        fields.get("target", ""),
        detail if isinstance(detail, dict) else {"value": detail},
        fields.get("address", ""),
    )


AUDIT = web.AppKey("audit_log", AuditLog)
