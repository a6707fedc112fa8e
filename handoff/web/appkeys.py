"""The typed application keys the handoff handlers read their services from (set by `bot.wiring`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from core.keys import Keys
from core.ports import Deliver, Observe
from core.state import ConversationStates
from core.transcript import Transcripts
from handoff.canned import CannedReplies
from handoff.closing import Closing
from handoff.complaints import Signoff
from handoff.csat import Csat
from handoff.profiles import Profiles
from handoff.quality import Quality
from handoff.queue import HandoffQueue
from handoff.routing_policy import RoutingPolicies
from handoff.service import HandoffService

KEYS = web.AppKey("keys", Keys)
STATES = web.AppKey("states", ConversationStates)
TRANSCRIPTS = web.AppKey("transcripts", Transcripts)
QUEUE = web.AppKey("handoff_queue", HandoffQueue)
SERVICE = web.AppKey("handoff_service", HandoffService)
ROUTING = web.AppKey("routing_policies", RoutingPolicies)
CLOSING = web.AppKey("closing", Closing)
PROFILES = web.AppKey("profiles", Profiles)
CSAT = web.AppKey("csat", Csat)
CANNED = web.AppKey("canned_replies", CannedReplies)
DELIVER = web.AppKey("deliver", Deliver)
SIGNOFF = web.AppKey("case_signoff", Signoff)
QUALITY = web.AppKey("quality", Quality)
OBSERVE = web.AppKey("observe", Observe)
# The REST channel's outbox token for a sender (what its webhook answered with in X-Outbox-Token).
OUTBOX_TOKEN: web.AppKey[Callable[[str], Awaitable[str]]] = web.AppKey("outbox_token")
