"""The aiohttp application: one factory, one cleanup context per resource."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp import web

from bot import agent_api, agent_live, canned_api, kb_api, left_api, profile_api, supervise_api
from bot.auth import Accounts, require
from bot.channel_store import RedisChannelStore
from bot.dialogue import Dialogue
from bot.inbound import InboundQueue
from bot.keys import Keys
from bot.mailbox import MailboxHub
from bot.messages import Button, Inbound, Outbound
from bot.outbox import Outbox
from bot.redis_conn import close_sync, connect, disconnect, sync_client
from bot.router import Router
from bot.settings import Settings
from bot.silence import close_silent
from bot.state import ConversationStates, Transition
from bot.tasks import stop_tasks
from bot.transcript import Transcripts
from channels.base import Channel, Core, Passive, Reply, SharedStore, Submitted
from channels.rest import RestChannel
from channels.telegram import TelegramChannel
from channels.webchat import WebchatChannel
from channels.wechat import WechatChannel
from channels.wecom import WecomChannel
from handoff.canned import CannedReplies
from handoff.csat import Csat
from handoff.hours import Hours
from handoff.left_messages import LeftMessages
from handoff.profiles import Profiles
from handoff.queue import HandoffQueue
from handoff.service import HandoffService
from handoff.updates import tell_changes
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
INBOUND = web.AppKey("inbound", InboundQueue)
OUTBOX = web.AppKey("outbox", Outbox)


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
    queue = HandoffQueue(client, app[KEYS].prefix, states, settings.queue_settings())
    profiles = Profiles(client, app[KEYS].prefix)
    app[agent_api.PROFILES] = profiles
    ratings = Csat(client, app[KEYS].prefix)
    app[agent_api.CSAT] = ratings
    app[HANDOFF] = HandoffService(
        client,
        app[KEYS],
        states,
        queue,
        settings.handoff_team,
        profiles,
        kb_misses_to_handoff=settings.handoff_kb_misses,
        direct_tiers=settings.handoff_direct_tiers,
        hours=Hours(client, app[KEYS].prefix),
        left=LeftMessages(client, app[KEYS].prefix),
        max_wait_seconds=settings.handoff_max_wait_seconds,
        csat=ratings,
    )
    app[supervise_api.SERVICE] = app[HANDOFF]
    app[agent_api.QUEUE] = queue
    app[agent_api.STATES_KEY] = states
    app[agent_api.TRANSCRIPTS] = Transcripts(client, app[KEYS])
    app[canned_api.CANNED] = CannedReplies(client, app[KEYS].prefix)
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
    await stop_tasks(task)
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
# Silence is counted in minutes: reading every held conversation's transcript each second would be waste.
SILENCE_EVERY_ROUNDS = 15
# Waiting customers hear of a better place within a few seconds; reading every queue each second is waste.
UPDATES_EVERY_ROUNDS = 5
# A conversation QUEUED without a ticket (its instance died between the two steps) is rare: look every 10 s.
REPAIR_EVERY_ROUNDS = 10
# While Redis is down every round fails alike: one traceback, then a line a minute, not one a second.
FAILURE_LOG_EVERY_ROUNDS = 60


async def _sweeper_ctx(app: web.Application) -> AsyncIterator[None]:
    """Requeue lapsed offers and lost agents' work; every instance runs it (the claims are atomic)."""
    queue = app[HANDOFF].queue

    silence = app[SETTINGS].handoff_silence_seconds

    async def tell(conversation_id: str, text: str, buttons: Sequence[tuple[str, str]]) -> None:
        await app[agent_api.DELIVER](conversation_id, text, "", buttons)
        await app[agent_api.TRANSCRIPTS].append(conversation_id, "system", text)

    async def sweep() -> None:
        rounds = failures = 0
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            rounds += 1
            try:
                if queue is not None:
                    await queue.sweep()
                await app[INBOUND].recover()
                if queue is not None and rounds % UPDATES_EVERY_ROUNDS == 0:
                    await tell_changes(queue, tell, max_wait_seconds=app[SETTINGS].handoff_max_wait_seconds)
                if rounds % REPAIR_EVERY_ROUNDS == 0:
                    await app[HANDOFF].repair()
                if silence and rounds % SILENCE_EVERY_ROUNDS == 0:
                    await close_silent(app, app[KEYS], silence)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1:
                    log.warning("handoff sweep failed", exc_info=True)
                elif failures % FAILURE_LOG_EVERY_ROUNDS == 0:
                    still = {"failures": failures, "error": repr(exc)}
                    log.warning("handoff sweep still failing", extra=still)
            else:
                if failures:
                    log.info("handoff sweep working again", extra={"failures": failures})
                failures = 0

    task = asyncio.create_task(sweep())
    yield
    await stop_tasks(task)


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


def enabled_channels(settings: Settings) -> list[Channel]:
    """Return the channels the settings switch on: REST always, the others when configured."""
    channels: list[Channel] = [RestChannel(settings.max_message_chars)]
    if settings.telegram is not None:
        channels.append(TelegramChannel(settings.telegram, settings.max_message_chars))
    if settings.wechat is not None:
        channels.append(WechatChannel(settings.wechat, settings.max_message_chars))
    if settings.wecom is not None:
        channels.append(WecomChannel(settings.wecom, settings.max_message_chars))
    if settings.webchat is not None:
        channels.append(WebchatChannel(settings.webchat, settings.max_message_chars))
    return channels


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
            app[agent_api.PROFILES],
        )
        yield

    app.cleanup_ctx.append(router_ctx)
    channels = enabled_channels(settings)
    app[CHANNELS] = channels

    def channel_for(name: str) -> Channel | None:
        return next((c for c in app[CHANNELS] if c.name == name), None)

    async def intake_ctx(app: web.Application) -> AsyncIterator[None]:
        outbox = Outbox(app[REDIS], app[KEYS], app[agent_api.TRANSCRIPTS], channel_for)
        app[OUTBOX] = outbox

        async def send(conversation_id: str, message: Outbound) -> None:
            await outbox.send(conversation_id, message)

        app[INBOUND] = InboundQueue(app[REDIS], app[KEYS], app[ROUTER].on_message, send)

        async def mirror(transition: Transition) -> None:
            # Platforms with their own service states hear of each change, in order with the messages.
            name, _, recipient = transition.conversation_id.partition(":")
            channel = channel_for(name)
            if channel is None or not channel.follows_owner:
                return
            owner = transition.current.value
            agent = transition.actor.partition(":")[2] if transition.actor.startswith("agent:") else None
            await outbox.run(
                transition.conversation_id,
                f"service state → {owner}",
                lambda: channel.owner_changed(recipient, owner, agent),
            )

        app[STATES].listen(mirror)
        yield
        await app[INBOUND].close()
        await outbox.close()

    # After the router (the intake hands it messages) and before the channels' own clients close.
    app.cleanup_ctx.append(intake_ctx)

    async def submit(
        inbound: Inbound, *, wait_reply: float = 0.0, passive: Passive | None = None
    ) -> Submitted:
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

    core = Core(on_message=on_message, submit=submit, store=store, mailboxes=mailboxes.for_channel)
    for channel in channels:
        channel.register(app, core)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/", index)
    app.router.add_static("/static/", WEB_DIR, show_index=False)
    agent_extra = [
        *profile_api.operations(),
        *supervise_api.operations(),
        *canned_api.operations(),
        *left_api.operations(),
    ]
    kb_api.register(
        app,
        WEB_DIR,
        settings.cookie_secure,
        [*agent_api.operations(), *agent_extra],
        {
            **agent_api.SCHEMAS,
            **profile_api.SCHEMAS,
            **supervise_api.SCHEMAS,
            **canned_api.SCHEMAS,
            **left_api.SCHEMAS,
        },
    )
    agent_api.register(app, WEB_DIR, agent_extra)
    app[agent_live.KEYS] = app[KEYS]
    app.router.add_get(
        "/agent/ws", require("agent", lambda request: request.app[kb_api.ACCOUNTS])(agent_live.socket)
    )

    async def deliver(
        conversation_id: str, text: str, author: str, buttons: Sequence[tuple[str, str]] = ()
    ) -> None:
        # Push through the conversation's channel; one that cannot push (REST) is polled instead.
        channel_name, _, recipient = conversation_id.partition(":")
        channel = channel_for(channel_name)
        if channel is not None and channel.can_push:
            # Recorded, sent in order and retried by the outbox; a failure shows in the transcript.
            message = Outbound(recipient, text, tuple(Button(t, p) for t, p in buttons), author=author)
            await app[OUTBOX].send(conversation_id, message)
            return
        role = "agent" if author else "system"
        await app[agent_api.TRANSCRIPTS].push_outbox(conversation_id, role, text, author, buttons)

    app[agent_api.DELIVER] = deliver
    return app
