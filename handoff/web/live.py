"""Live updates for the agent console: one WebSocket per open console, fed by Redis pub/sub.

The socket tells the console *that* something changed (a routing event for the agent, a new line in
a conversation it holds or is looking at); the console then reads the API as usual. Pub/sub makes it
work across instances: the customer's message may land on another instance than the agent's socket.
The open socket also keeps the agent's presence alive, as the console's polling did. Complaint case
events of the agent's teams (every team's, for supervisors) come through it too, as they happen.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from core.keys import Keys
from core.tasks import stop_tasks
from handoff.queue import HandoffQueue
from handoff.web.access import may_read
from handoff.web.appkeys import KEYS, QUEUE
from staff.accounts import Session
from staff.auth import require

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0


class _Feed:
    """One console's subscriptions: its agent's events plus the conversations it follows."""

    def __init__(self, queue: HandoffQueue, keys: Keys, agent: str, case_channels: frozenset[str]) -> None:
        self.queue = queue
        self.keys = keys
        self.agent = agent
        self.pubsub = queue.redis.pubsub()
        self.following: set[str] = set()
        self.watched: str | None = None
        # Complaint case events (escalated, reassigned, reopened...) of the teams this console sees.
        self.case_channels = case_channels

    async def start(self) -> None:
        await self.pubsub.subscribe(self.queue.events_channel(self.agent), *self.case_channels)
        await self.resubscribe()

    async def resubscribe(self) -> None:
        wanted = set(await self.queue.conversations_of(self.agent))
        if self.watched:
            wanted.add(self.watched)
        gone, new = self.following - wanted, wanted - self.following
        if gone:
            await self.pubsub.unsubscribe(*(self.keys.transcript_signal(c) for c in gone))
        if new:
            await self.pubsub.subscribe(*(self.keys.transcript_signal(c) for c in new))
        self.following = wanted

    def conversation_of(self, channel: str) -> str | None:
        for conversation in self.following:
            if self.keys.transcript_signal(conversation) == channel:
                return conversation
        return None


async def _pump(feed: _Feed, ws: web.WebSocketResponse, changes: asyncio.Queue[str | None]) -> None:
    """Forward the feed's notices to the socket until it closes (or Redis goes away)."""
    try:
        await _follow(feed, ws, changes)
    except (asyncio.CancelledError, ConnectionResetError):
        raise
    except Exception:
        # Redis went away: close, and the console reconnects (polling covers the gap).
        log.warning("agent feed lost", exc_info=True)
        await ws.close(code=1011, message=b"feed lost")


async def _follow(feed: _Feed, ws: web.WebSocketResponse, changes: asyncio.Queue[str | None]) -> None:
    events = feed.queue.events_channel(feed.agent)
    while not ws.closed:
        while not changes.empty():
            feed.watched = changes.get_nowait()
            await feed.resubscribe()
        message = await feed.pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
        if message is None:
            continue
        channel = str(message["channel"])
        if channel == events:
            await feed.resubscribe()  # offered, assigned or revoked: the followed set changed
            event = json.loads(message["data"])
            await ws.send_json({"type": "event", "event": event.pop("type", ""), **event})
        elif channel in feed.case_channels:
            await ws.send_json(json.loads(message["data"]))
        elif (conversation := feed.conversation_of(channel)) is not None:
            await ws.send_json({"type": "transcript", "conversation": conversation})


async def _beat(feed: _Feed) -> None:
    while True:
        await feed.queue.heartbeat(feed.agent)
        await asyncio.sleep(HEARTBEAT_SECONDS)


async def _read_watches(
    request: web.Request, ws: web.WebSocketResponse, changes: asyncio.Queue[str | None]
) -> None:
    """Take the console's "watch this conversation" frames (only conversations the agent may read)."""
    async for frame in ws:
        if frame.type != WSMsgType.TEXT:
            continue
        try:
            data = json.loads(frame.data)
        except ValueError:
            continue
        if isinstance(data, dict) and data.get("type") == "watch":
            conversation = data.get("conversation")
            if conversation is None:
                changes.put_nowait(None)
            elif isinstance(conversation, str) and await may_read(request, conversation):
                changes.put_nowait(conversation)
            else:
                await ws.send_json({"type": "error", "error": "not your conversation"})


async def socket(request: web.Request) -> web.StreamResponse:
    """Push "something changed" notices to the agent console (``GET /agent/ws``)."""
    session: Session = request["session"]
    origin = request.headers.get("Origin", "")
    if origin and urlsplit(origin).netloc != request.host:
        return web.json_response({"error": "origin not allowed"}, status=403)
    queue, cases = request.app[QUEUE], request.app[KEYS].complaints
    if session.has("supervisor"):
        case_channels = frozenset({cases.all_events})
    else:
        agent = await queue.agent(session.username)
        case_channels = frozenset(cases.events(team) for team in (agent.teams if agent else ()))
    feed = _Feed(queue, request.app[KEYS], session.username, case_channels)
    ws = web.WebSocketResponse(heartbeat=20)
    await ws.prepare(request)
    await feed.start()
    # Subscribed: from here on nothing is missed, so the console may drop what it read before.
    await ws.send_json({"type": "ready"})
    changes: asyncio.Queue[str | None] = asyncio.Queue()
    tasks = [
        asyncio.create_task(_pump(feed, ws, changes)),
        asyncio.create_task(_beat(feed)),
    ]
    try:
        await _read_watches(request, ws, changes)
    finally:
        # The socket may be gone already, so a pump failing on it is expected.
        await stop_tasks(*tasks, expected=(ConnectionResetError, RuntimeError))
        with contextlib.suppress(Exception):
            await feed.pubsub.reset()
    return ws


def register(app: web.Application) -> None:
    """Add the console's live socket (``GET /agent/ws``, agents only) to ``app``."""
    app.router.add_get("/agent/ws", require("agent")(socket))
