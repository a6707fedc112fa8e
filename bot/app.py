"""The aiohttp application: one factory, one cleanup context per resource, in start-up order.

Start-up runs the contexts top to bottom and shutdown bottom to top, so each resource outlives
everything that uses it: Redis and the services first, then the knowledge base, the dialogue, the
router, intake and delivery, the mailboxes and the sweep.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from bot import heap
from bot.appkeys import (
    ACCOUNTS,
    CANNED,
    CHANNELS,
    CLOSING,
    CSAT,
    DELIVER,
    DIALOGUE,
    INBOUND,
    KEYS,
    KNOWLEDGE,
    OBSERVE,
    OUTBOX,
    OUTBOX_TOKEN,
    PROFILES,
    QUALITY,
    QUEUE,
    REDIS,
    REDIS_URL,
    ROUTER,
    ROUTING,
    SERVICE,
    SERVICES,
    SETTINGS,
    SIGNOFF,
    STATES,
    TRANSCRIPTS,
    DialogueSlot,
)
from bot.dialogue.agent import Dialogue
from bot.engine.channel_store import RedisChannelStore
from bot.engine.delivery import Delivery, Outbox
from bot.engine.gauges import count_transitions, gauge_source
from bot.engine.intake import InboundQueue
from bot.engine.mailbox import MailboxHub
from bot.engine.router import Router
from bot.engine.service_events import members_of, transition_events
from bot.engine.sweeper import Sweeper
from bot.routes import add_routes
from bot.settings import Settings
from bot.unavailable import as_unavailable, storage_unavailable
from bot.wiring import build_services
from channels.base import Channel
from channels.rest import RestChannel
from channels.telegram import TelegramChannel
from channels.webchat import WebchatChannel
from channels.wechat import WechatChannel
from channels.wecom import WecomChannel
from core.keys import Keys
from core.messages import Inbound
from core.ports import Core, Passive, Reply, SharedStore, Submitted
from core.redis import connect, disconnect
from core.tasks import stop_tasks
from core.transcript import Transcripts
from reports.metrics import Costs
from reports.prometheus import EngineMetrics
from reports.web.api import COSTS, EVENTS, LIVE, MEMBERS, QUALITY_SCORE
from reports.web.prometheus import GAUGES, METRICS, PING, TOKEN, count_requests
from staff.audit import AUDIT
from staff.errors import api_errors
from staff.headers import security_headers
from staff.login import COOKIE_SECURE

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"


async def _services_ctx(app: web.Application) -> AsyncIterator[None]:
    """Connect to REDIS_URL (or start the embedded Redis) and build every service on it."""
    settings = app[SETTINGS]
    client, url, embedded = await connect(settings.redis_url, settings.var_dir)
    try:
        await client.ping()
    except Exception:
        await disconnect(client, embedded)
        raise
    app[REDIS_URL] = url
    app[REDIS] = client
    keys = app[KEYS]

    def channel_for(name: str) -> Channel | None:
        return next((c for c in app[CHANNELS] if c.name == name), None)

    # The outbox only sends once asked; its senders are stopped by the intake context.
    transcripts = Transcripts(client, keys, settings.transcript_retention_days * 24 * 3600)
    metrics = app[METRICS]
    outbox = Outbox(
        client,
        keys,
        transcripts,
        channel_for,
        on_outcome=lambda channel, outcome: metrics.pushes.labels(channel, outcome).inc(),
    )
    delivery = Delivery(outbox, transcripts, channel_for)
    services = build_services(client, settings, delivery.deliver, transcripts=transcripts)
    await services.routing.refresh()
    app[SERVICES] = services
    app[OUTBOX] = outbox
    app[DELIVER] = delivery.deliver
    app[STATES], app[TRANSCRIPTS], app[QUEUE] = services.states, services.transcripts, services.queue
    app[SERVICE], app[CLOSING], app[PROFILES] = services.handoff, services.closing, services.profiles
    app[CSAT], app[CANNED], app[ACCOUNTS] = services.csat, services.canned, services.accounts
    app[AUDIT], app[ROUTING] = services.audit, services.routing
    app[SIGNOFF], app[QUALITY], app[OBSERVE] = services.signoff, services.quality, services.events.observe
    # Platforms with their own service states hear of each change, in order with the messages.
    services.states.listen(delivery.mirror)
    services.states.listen(count_transitions(metrics))
    services.states.listen(transition_events(services, services.events))

    async def on_band(band: str, conversation_id: str, message_id: str) -> None:
        metrics.kb_bands.labels(band).inc()
        key = f"{conversation_id}:{message_id or time.time()!r}"
        await services.events.observe("kb_answer", conversation_id, key=key, detail=band)

    services.knowledge.on_band = on_band
    app[GAUGES] = app[LIVE] = gauge_source(services, settings.handoff_team)
    app[EVENTS] = services.events
    app[MEMBERS] = members_of(services)
    app[QUALITY_SCORE] = services.quality.average
    app[COSTS] = Costs(
        settings.cost_agent_per_hour, settings.cost_bot_per_conversation, settings.cost_currency
    )
    app[PING] = client.ping
    await services.offline.adopt_legacy_keys()  # the knowledge base moves its own in its start
    yield
    await disconnect(client, embedded)


async def _knowledge_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the live knowledge base (seeding it on first start) and follow other instances' publishes."""
    knowledge = app[SERVICES].knowledge
    await knowledge.start()
    app[KNOWLEDGE] = knowledge
    if not await app[ACCOUNTS].has_users():
        log.warning("no staff accounts yet: create one with `python -m bot user add NAME --role editor`")
    yield
    await knowledge.stop()


async def _dialogue_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the Rasa agent in the background; /healthz says 503 until it is ready."""
    settings = app[SETTINGS]
    slot = app[DIALOGUE]

    async def load() -> None:
        from bot.dialogue.training import model_path

        model = settings.model_path or model_path(settings.model_dir)
        try:
            if not model.exists():
                raise FileNotFoundError(f"no trained model at {model}: run `python -m bot train`")
            slot.dialogue = await asyncio.to_thread(
                Dialogue.load,
                model,
                app[REDIS],
                app[KEYS].rasa_prefix,
                settings.tracker_ttl_seconds,
                settings.nlu_max_batch,
            )
            slot.dialogue.watch_nlu_batches(app[METRICS].nlu_batch_size.observe)
            log.info("dialogue model loaded", extra={"model": model.name})
            # Before the first turn: the model's objects are then never walked by a full collection.
            heap.settle()
        except Exception as exc:
            slot.error = f"{type(exc).__name__}: {exc}"
            log.exception("dialogue model failed to load")
        finally:
            slot.loaded.set()

    task = asyncio.create_task(load())
    yield
    await stop_tasks(task)


async def _router_ctx(app: web.Application) -> AsyncIterator[None]:
    """Build the router once the services and the knowledge base exist."""
    services = app[SERVICES]
    app[ROUTER] = Router(services, lambda: app[DIALOGUE].dialogue, app[METRICS])
    yield


async def _intake_ctx(app: web.Application) -> AsyncIterator[None]:
    """Take acknowledged messages in; on shutdown stop intake first, then the outbox's senders."""
    outbox, settings = app[OUTBOX], app[SETTINGS]
    app[INBOUND] = InboundQueue(
        app[REDIS],
        app[KEYS],
        app[ROUTER].on_message,
        outbox,
        backlog_limit=settings.inbound_backlog_limit,
        turns_at_once=settings.turns_at_once,
        wait_replicas=settings.wait_replicas(),
        wait_ms=settings.redis_wait_ms,
    )
    app[INBOUND].start()
    yield
    await app[INBOUND].close()
    await outbox.close()


async def _sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run this instance's sweep (requeues, recovery, waiting updates, repair, silence)."""
    settings = app[SETTINGS]
    sweeper = Sweeper(
        app[SERVICES],
        app[INBOUND],
        app[OUTBOX],
        app[DELIVER],
        max_wait_seconds=settings.handoff_max_wait_seconds,
        silence_seconds=settings.handoff_silence_seconds,
    )
    task = asyncio.create_task(sweeper.run())
    yield
    await stop_tasks(task)


def enabled_channels(settings: Settings) -> list[Channel]:
    """Return the channels the settings switch on: REST always, the others when configured."""
    channels: list[Channel] = [RestChannel(settings.max_message_chars, settings.rest_token)]
    if settings.telegram is not None:
        channels.append(TelegramChannel(settings.telegram, settings.max_message_chars))
    if settings.wechat is not None:
        channels.append(WechatChannel(settings.wechat, settings.max_message_chars))
    if settings.wecom is not None:
        channels.append(WecomChannel(settings.wecom, settings.max_message_chars))
    if settings.webchat is not None:
        channels.append(WebchatChannel(settings.webchat, settings.max_message_chars))
    return channels


def _core_for_channels(app: web.Application) -> Core:
    """Return the kernel ports the channels get (they never see the app's services)."""

    async def on_message(inbound: Inbound, reply: Reply) -> None:
        # Channels are registered before start-up; the router exists only once Redis is connected.
        with as_unavailable(inbound.channel):
            await app[ROUTER].on_message(inbound, reply)

    async def submit(
        inbound: Inbound, *, wait_reply: float = 0.0, passive: Passive | None = None
    ) -> Submitted:
        with as_unavailable(inbound.channel):
            return await app[INBOUND].submit(inbound, wait_reply=wait_reply, passive=passive)

    mailboxes = MailboxHub(lambda: app[REDIS], app[KEYS])

    async def mailbox_ctx(app: web.Application) -> AsyncIterator[None]:
        await mailboxes.start()
        yield
        await mailboxes.stop()

    app.cleanup_ctx.append(mailbox_ctx)

    def store(channel: str) -> SharedStore:
        # Channels are built before start-up; the store finds the Redis client when first used.
        return RedisChannelStore(lambda: app[REDIS], app[KEYS], channel)

    return Core(on_message=on_message, submit=submit, store=store, mailboxes=mailboxes.for_channel)


def create_app(settings: Settings) -> web.Application:
    """Build the engine: services on Redis, the dialogue, the router, intake, channels and staff pages."""
    # Counting outermost, so a request's status is the one the client got.
    middlewares = [count_requests, storage_unavailable, api_errors]
    app = web.Application(client_max_size=settings.max_body_bytes, middlewares=middlewares)
    # aiohttp 3.9 annotates this signal's callbacks wrongly (it wraps the type twice); the call is right.
    app.on_response_prepare.append(security_headers)  # type: ignore[arg-type]
    app[SETTINGS] = settings
    app[METRICS], app[TOKEN] = EngineMetrics(), settings.metrics_token
    app[KEYS] = Keys(settings.redis_prefix)
    app[DIALOGUE] = DialogueSlot()
    app[COOKIE_SECURE] = settings.cookie_secure
    for ctx in (_services_ctx, _knowledge_ctx, _dialogue_ctx, _router_ctx, _intake_ctx):
        app.cleanup_ctx.append(ctx)
    app[CHANNELS] = enabled_channels(settings)
    rest = next(c for c in app[CHANNELS] if isinstance(c, RestChannel))
    app[OUTBOX_TOKEN] = rest.outbox_token
    core = _core_for_channels(app)
    for channel in app[CHANNELS]:
        channel.register(app, core)
    # Last to start, first to stop: nothing sweeps once intake and delivery are closing.
    app.cleanup_ctx.append(_sweeper_ctx)
    add_routes(app, WEB_DIR)
    return app
