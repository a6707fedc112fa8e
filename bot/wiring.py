"""The one place services are built: the engine, the CLI and a standalone action server all call it.

Before this module the three built their own, and they disagreed (a standalone ``rasa run actions`` had
no business hours, ratings, profiles or offline messages; the CLI's queue ignored the routing settings).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.settings import Settings
from core.keys import Keys
from core.ports import Deliver
from core.redis import AsyncRedis
from core.state import ConversationStates
from core.transcript import Transcripts
from handoff.canned import CannedReplies
from handoff.closing import Closing
from handoff.complaints import Complaints, Signoff
from handoff.csat import Csat
from handoff.hours import Hours
from handoff.offline import OfflineMessages
from handoff.profiles import Profiles
from handoff.quality import Quality
from handoff.queue import HandoffQueue
from handoff.routing_policy import RoutingPolicies
from handoff.service import HandoffService
from knowledge_base.live import SEED_FILE, LiveKnowledgeBase
from reports.events import ServiceEvents
from reports.presence import PresenceTime
from staff.accounts import Accounts
from staff.audit import AuditLog


@dataclass(frozen=True)
class Services:
    """Every service of one deployment, over one Redis client and key prefix."""

    redis: AsyncRedis
    keys: Keys
    states: ConversationStates
    transcripts: Transcripts
    queue: HandoffQueue
    profiles: Profiles
    csat: Csat
    hours: Hours
    offline: OfflineMessages
    canned: CannedReplies
    handoff: HandoffService
    routing: RoutingPolicies
    closing: Closing
    signoff: Signoff
    quality: Quality
    events: ServiceEvents
    presence: PresenceTime
    accounts: Accounts
    audit: AuditLog
    knowledge: LiveKnowledgeBase


async def no_channels(conversation_id: str, text: str, author: str, buttons: object = ()) -> None:
    """Refuse to deliver: this process (the CLI, a standalone action server) serves no channel."""
    raise RuntimeError("this process has no channels to deliver through; only the engine delivers")


def _reports(client: AsyncRedis, settings: Settings) -> tuple[ServiceEvents, PresenceTime]:
    """The service events, and the presence time recorded through them."""
    tz, days = settings.report_timezone, settings.report_retention_days
    events = ServiceEvents(client, settings.redis_prefix, timezone=tz, retention_days=days)
    # A stretch ends one heartbeat lifetime after a console's last beat: the queue's lifetime.
    return events, PresenceTime(events, settings.queue_settings().heartbeat_ttl_seconds)


def build_services(
    client: AsyncRedis,
    settings: Settings,
    deliver: Deliver = no_channels,
    seed_file: Path | None = SEED_FILE,
    transcripts: Transcripts | None = None,
) -> Services:
    """Build every service on ``client`` under the settings' key prefix (nothing is started here).

    ``transcripts`` shares the instance the caller's ``deliver`` already writes failures to.
    """
    keys = Keys(settings.redis_prefix)
    prefix, states = keys.prefix, ConversationStates(client, keys)
    transcripts = transcripts or Transcripts(client, keys, settings.transcript_retention_days * 24 * 3600)
    events, presence = _reports(client, settings)
    observe = events.observe
    queue = HandoffQueue(
        client, prefix, states, settings.queue_settings(), observe=observe, presence=presence
    )
    profiles, csat, hours = Profiles(client, prefix), Csat(client, prefix), Hours(client, prefix)
    offline, quality = OfflineMessages(client, prefix), Quality(client, prefix)
    complaints = Complaints(client, prefix, settings.complaint_policy, calendar=hours.get, observe=observe)
    handoff = HandoffService(
        client,
        keys,
        states,
        queue,
        settings.handoff_team,
        profiles,
        kb_misses_to_handoff=settings.handoff_kb_misses,
        direct_tiers=settings.handoff_direct_tiers,
        hours=hours,
        offline=offline,
        max_wait_seconds=settings.handoff_max_wait_seconds,
        csat=csat,
        complaints=complaints,
        quality=quality,
    )
    return Services(
        redis=client,
        keys=keys,
        states=states,
        transcripts=transcripts,
        queue=queue,
        profiles=profiles,
        csat=csat,
        hours=hours,
        offline=offline,
        canned=CannedReplies(client, prefix),
        handoff=handoff,
        routing=RoutingPolicies(client, prefix, queue, handoff),
        closing=Closing(keys, states, queue, transcripts, profiles, csat, deliver, quality),
        quality=quality,
        signoff=Signoff(complaints, deliver, transcripts),
        events=events,
        presence=presence,
        accounts=Accounts(client, prefix),
        audit=AuditLog(client, keys, settings.audit_retention_days),
        knowledge=LiveKnowledgeBase(client, prefix, seed_file=seed_file),
    )
