"""The aiohttp application: one factory, one cleanup context per resource."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from bot import agent_api, kb_api
from bot.auth import Accounts
from bot.dialogue import Dialogue
from bot.keys import Keys
from bot.messages import Button, Inbound, Outbound
from bot.redis_conn import close_sync, connect, disconnect, sync_client
from bot.router import Router
from bot.settings import Settings
from bot.state import ConversationStates
from bot.transcript import Transcripts
from channels.base import Channel, ChannelCannotPush, Reply
from channels.rest import RestChannel
from handoff.csat import Csat
from handoff.queue import HandoffQueue
from handoff.service import HandoffService
from knowledge_base.live import LiveKnowledgeBase

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"


@dataclass
class DialogueSlot:
    """The dialogue once it has loaded, or why it has not."""

    dialogue: Dialogue | None = None
    error: str | None = None
    loaded: asyncio.Event = field(default_factory=asyncio.Event)


SETTINGS = web.AppKey("settings", Settings)
KEYS = web.AppKey("keys", Keys)
REDIS_URL = web.AppKey("redis_url", str)
REDIS = web.AppKey("redis", aioredis.Redis)
STATES = web.AppKey("states", ConversationStates)
HANDOFF = web.AppKey("handoff", HandoffService)
DIALOGUE = web.AppKey("dialogue", DialogueSlot)
ROUTER = web.AppKey("router", Router)
CHANNELS = web.AppKey("channels", list[Channel])


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect to REDIS_URL, or start the embedded Redis first when it is unset."""
    settings = app[SETTINGS]
    client, url, embedded = await connect(settings.redis_url, settings.var_dir)
    try:
        await client.ping()
    except Exception:
        await disconnect(client, embedded)
        raise
    app[REDIS_URL] = url
    app[REDIS] = client
    states = ConversationStates(client, app[KEYS])
    app[STATES] = states
    queue = HandoffQueue(client, app[KEYS].prefix, states)
    app[HANDOFF] = HandoffService(client, app[KEYS], states, queue, settings.handoff_team)
    app[agent_api.QUEUE] = queue
    app[agent_api.STATES_KEY] = states
    app[agent_api.TRANSCRIPTS] = Transcripts(client, app[KEYS])
    app[agent_api.CSAT] = Csat(client, app[KEYS].prefix)
    app[kb_api.ACCOUNTS] = Accounts(client, app[KEYS].prefix)
    yield
    await disconnect(client, embedded)


async def _dialogue_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the Rasa agent in the background; /healthz says 503 until it is ready."""
    settings = app[SETTINGS]
    slot = app[DIALOGUE]
    client = sync_client(app[REDIS_URL])

    async def load() -> None:
        from bot.training import model_path

        model = settings.model_path or model_path(settings.model_dir)
        try:
            if not model.exists():
                raise FileNotFoundError(f"no trained model at {model}: run `python -m bot train`")
            slot.dialogue = await asyncio.to_thread(
                Dialogue.load, model, client, app[KEYS].rasa_prefix, settings.tracker_ttl_seconds
            )
            log.info("dialogue model loaded", extra={"model": model.name})
        except Exception as exc:
            slot.error = f"{type(exc).__name__}: {exc}"
            log.exception("dialogue model failed to load")
        finally:
            slot.loaded.set()

    task = asyncio.create_task(load())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    close_sync(client)


async def _knowledge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the live knowledge base (seeding it on first start) and follow other instances' publishes."""
    knowledge = LiveKnowledgeBase(app[REDIS], app[KEYS].prefix)
    await knowledge.start()
    app[kb_api.KNOWLEDGE] = knowledge
    if not await app[kb_api.ACCOUNTS].has_users():
        log.warning("no staff accounts yet: create one with `python -m bot user add NAME --role editor`")
    yield
    await knowledge.stop()


SWEEP_SECONDS = 1.0


async def _sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    """Requeue lapsed offers and lost agents' work; every instance runs it (the claims are atomic)."""
    queue = app[HANDOFF].queue

    async def sweep() -> None:
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                if queue is not None:
                    await queue.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("handoff sweep failed", exc_info=True)

    task = asyncio.create_task(sweep())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 only when the model is loaded and Redis answers; 503 with the reason otherwise."""
    app = request.app
    slot = app[DIALOGUE]
    body: dict[str, object] = {"instance": app[SETTINGS].instance_id}
    try:
        await asyncio.wait_for(app[REDIS].ping(), timeout=2)
        body["redis"] = "ok"
    except Exception as exc:  # any failure to answer means "not healthy", whatever its cause
        body["redis"] = f"down: {type(exc).__name__}"
    if slot.dialogue is not None:
        body["model"] = slot.dialogue.model_name
    else:
        body["model"] = "failed" if slot.error else "loading"
        if slot.error:
            body["model_error"] = slot.error
    healthy = body["redis"] == "ok" and slot.dialogue is not None
    body["status"] = "ok" if healthy else "unavailable"
    return web.json_response(body, status=200 if healthy else 503)


async def index(request: web.Request) -> web.FileResponse:
    """Serve the minimal web chat page."""
    return web.FileResponse(WEB_DIR / "index.html")


def create_app(settings: Settings) -> web.Application:
    """Build the engine: Redis, the dialogue, the router and the channels, wired together."""
    app = web.Application(client_max_size=settings.max_body_bytes)
    app[SETTINGS] = settings
    app[KEYS] = Keys(settings.redis_prefix)
    app[DIALOGUE] = DialogueSlot()
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_knowledge_ctx)
    app.cleanup_ctx.append(_sweeper_ctx)
    app.cleanup_ctx.append(_dialogue_ctx)

    async def on_message(inbound: Inbound, reply: Reply) -> None:
        # Channels are registered before start-up; the router exists only once Redis is connected.
        await app[ROUTER].on_message(inbound, reply)

    async def router_ctx(app: web.Application) -> AsyncIterator[None]:
        app[ROUTER] = Router(
            app[STATES],
            app[HANDOFF],
            lambda: app[DIALOGUE].dialogue,
            app[kb_api.KNOWLEDGE],
            app[agent_api.TRANSCRIPTS],
            app[agent_api.CSAT],
        )
        yield

    app.cleanup_ctx.append(router_ctx)
    channels: list[Channel] = [RestChannel(settings.max_message_chars)]
    app[CHANNELS] = channels
    for channel in channels:
        channel.register(app, on_message)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    app.router.add_static("/static/", WEB_DIR, show_index=False)
    kb_api.register(app, WEB_DIR, settings.cookie_secure, agent_api.operations(), agent_api.SCHEMAS)
    agent_api.register(app, WEB_DIR)

    async def deliver(
        conversation_id: str, text: str, author: str, buttons: Sequence[tuple[str, str]] = ()
    ) -> None:
        # Push through the conversation's channel; one that cannot push (REST) is polled instead.
        channel_name, _, recipient = conversation_id.partition(":")
        channel = next((c for c in app[CHANNELS] if c.name == channel_name), None)
        try:
            if channel is None:
                raise ChannelCannotPush(channel_name)
            await channel.send(Outbound(recipient, text, tuple(Button(t, p) for t, p in buttons)))
        except ChannelCannotPush:
            role = "agent" if author else "system"
            await app[agent_api.TRANSCRIPTS].push_outbox(conversation_id, role, text, author, buttons)

    app[agent_api.DELIVER] = deliver
    return app
