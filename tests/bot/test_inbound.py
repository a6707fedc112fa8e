"""The acknowledge-first intake on a real Redis: dedup, order, passive replies, recovery after a crash."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from bot.engine import intake as inbound_module
from bot.engine.intake import InboundQueue
from core import lease as lease_module
from core.keys import Keys
from core.messages import Inbound, Outbound, Overloaded
from core.ports import Reply


class Bot:
    """A handler that answers "echo: <text>" and remembers what it saw, in order."""

    def __init__(self, fail_first: int = 0, delay: float = 0.0) -> None:
        self.seen: list[str] = []
        self.sent: list[tuple[str, str]] = []
        self.replayed: list[bool] = []
        self.done = asyncio.Event()
        self.started = asyncio.Event()
        self.expect = 0
        self._fail = fail_first
        self._delay = delay

    async def handle(self, message: Inbound, reply: Reply) -> None:
        self.started.set()
        if self._fail > 0:
            self._fail -= 1
            raise RuntimeError("transient failure")
        # A slow turn for the first message shows that later ones still wait their turn.
        if self._delay and not self.seen:
            await asyncio.sleep(self._delay)
        self.seen.append(message.text)
        self.replayed.append(message.replayed)
        await reply(Outbound(message.sender_id, f"echo: {message.text}"))

    # The outbox side (`intake.Pushes`): what the intake queues for sending, in order.
    async def listed(self, conversation: str) -> None:
        return None

    def stage(self, pipe: object, conversation: str, message: Outbound) -> str:
        self.sent.append((conversation, message.text))
        if len(self.sent) >= self.expect:
            self.done.set()
        return str(len(self.sent))

    def kick(self, conversation: str) -> None:
        return None


@pytest_asyncio.fixture
async def keys(redis_client: aioredis.Redis, key_prefix: str) -> AsyncIterator[Keys]:
    yield Keys(key_prefix + "in" + uuid.uuid4().hex[:6])


class Held(Bot):
    """A handler whose turns wait for ``release``: its process has no turn free meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def handle(self, message: Inbound, reply: Reply) -> None:
        self.started.set()
        await self.release.wait()
        await super().handle(message, reply)


async def sweep_until(instance: InboundQueue, done: asyncio.Event, seconds: float = 10) -> None:
    """Run the instance's recovery sweep, as its sweeper does, until ``done`` (at most ``seconds``)."""

    async def sweep() -> None:
        while not done.is_set():
            await instance.recover()
            await asyncio.sleep(0.05)

    await asyncio.wait_for(sweep(), seconds)


def message(sender: str, text: str, message_id: str | None) -> Inbound:
    return Inbound("telegram", sender, text, message_id)


async def test_messages_are_handled_once_and_in_order(redis_client: aioredis.Redis, keys: Keys) -> None:
    bot = Bot(delay=0.2)
    bot.expect = 3
    queue = InboundQueue(redis_client, keys, bot.handle, bot)
    for i, text in enumerate(["one", "two", "three"]):
        assert not (await queue.submit(message("c1", text, f"m{i}"))).duplicate
    # The platform retries the second message: it is recognised and dropped.
    assert (await queue.submit(message("c1", "two", "m1"))).duplicate
    await asyncio.wait_for(queue.idle(), 10)
    assert bot.seen == ["one", "two", "three"]
    assert [text for _, text in bot.sent] == ["echo: one", "echo: two", "echo: three"]
    assert await redis_client.xlen(keys.inbound_queue("telegram:c1")) == 0
    assert await redis_client.zscore(keys.inbound_active, "telegram:c1") is None


async def test_a_waiting_webhook_gets_the_replies_to_answer_passively(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    bot = Bot()
    queue = InboundQueue(redis_client, keys, bot.handle, bot)
    submitted = await queue.submit(
        message("c2", "hi", "p1"), wait_reply=5, passive=lambda replies: len(replies) <= 1
    )
    await queue.close()
    assert submitted.replies is not None
    assert [r.text for r in submitted.replies] == ["echo: hi"]
    assert bot.sent == []  # handed to the webhook, so not pushed as well


async def test_a_reply_not_ready_in_time_is_pushed_instead(redis_client: aioredis.Redis, keys: Keys) -> None:
    bot = Bot(delay=0.5)
    bot.expect = 1
    queue = InboundQueue(redis_client, keys, bot.handle, bot)
    submitted = await queue.submit(
        message("c3", "slow", "s1"), wait_reply=0.05, passive=lambda replies: len(replies) <= 1
    )
    assert submitted.replies is None
    assert not submitted.duplicate
    await asyncio.wait_for(bot.done.wait(), 10)
    await queue.close()
    assert bot.sent == [("telegram:c3", "echo: slow")]


async def test_a_failing_turn_is_retried(
    redis_client: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbound_module, "RETRY_BASE_SECONDS", 0.01)
    bot = Bot(fail_first=2)
    bot.expect = 1
    queue = InboundQueue(redis_client, keys, bot.handle, bot)
    await queue.submit(message("c4", "again", "r1"))
    await asyncio.wait_for(bot.done.wait(), 10)
    await queue.close()
    assert bot.seen == ["again"]


async def test_another_instance_recovers_what_a_dead_one_acknowledged(
    redis_client: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crashed(InboundQueue):
        """An instance that acknowledged and stored the messages, then died before handling them."""

        def kick(self, conversation: str) -> None:
            return None

    dead = Crashed(redis_client, keys, Bot().handle, Bot())
    for i, text in enumerate(["first", "second"]):
        await dead.submit(message("c5", text, f"d{i}"))
    # The dead instance also held the lease; it expires rather than being released.
    await redis_client.set(keys.inbound_lease("telegram:c5"), "dead-worker", px=300)
    monkeypatch.setattr(inbound_module, "RECOVER_AFTER_SECONDS", 0.0)
    bot = Bot()
    bot.expect = 2
    survivor = InboundQueue(redis_client, keys, bot.handle, bot)

    await sweep_until(survivor, bot.done)
    await survivor.close()
    assert bot.seen == ["first", "second"]


async def test_a_turn_that_keeps_failing_is_kept_aside_and_the_next_message_goes_on(
    redis_client: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbound_module, "RETRY_BASE_SECONDS", 0.01)
    bot = Bot(fail_first=inbound_module.HANDLE_ATTEMPTS)
    bot.expect = 1
    queue = InboundQueue(redis_client, keys, bot.handle, bot)
    await queue.submit(message("c6", "broken", "x1"))
    await queue.submit(message("c6", "fine", "x2"))
    await asyncio.wait_for(queue.idle(), 10)
    assert bot.seen == ["fine"]
    (entry,) = await redis_client.xrange(keys.inbound_dead)
    assert '"broken"' in entry[1]["m"]
    assert entry[1]["conversation"] == "telegram:c6"


async def test_replies_unfit_for_a_passive_answer_free_the_webhook_at_once(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    bot = Bot()
    queue = InboundQueue(redis_client, keys, bot.handle, bot)
    submitted = await asyncio.wait_for(
        queue.submit(message("c7", "with buttons", "b1"), wait_reply=30, passive=lambda replies: False), 5
    )
    await asyncio.wait_for(queue.idle(), 10)
    assert submitted.replies is None
    assert bot.sent == [("telegram:c7", "echo: with buttons")]


async def test_a_turn_longer_than_the_lease_is_never_taken_over_by_another_instance(
    redis_client: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A turn four lease lifetimes long (as when Rasa waits on its lock or the model loads).
    monkeypatch.setattr(lease_module, "LEASE_MS", 300)
    monkeypatch.setattr(inbound_module, "RECOVER_AFTER_SECONDS", 0.0)
    slow, other = Bot(delay=1.2), Bot()
    slow.expect = 1
    first = InboundQueue(redis_client, keys, slow.handle, slow)
    second = InboundQueue(redis_client, keys, other.handle, other)
    await first.submit(message("c8", "slow one", "s1"))
    await asyncio.wait_for(slow.started.wait(), 5)  # the first instance is in the middle of its turn

    await sweep_until(second, slow.done)
    await asyncio.wait_for(first.idle(), 10)
    await second.idle()
    assert slow.seen == ["slow one"]
    assert other.seen == []
    await first.close()
    await second.close()


async def test_a_message_whose_worker_died_mid_turn_is_replayed_once_and_then_kept_aside(
    redis_client: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Crashed(InboundQueue):
        """An instance that stored the messages and took them up, then died in the middle of each."""

        def kick(self, conversation: str) -> None:
            return None

    dead = Crashed(redis_client, keys, Bot().handle, Bot())
    for i, text in enumerate(["died once", "died twice", "never taken"]):
        await dead.submit(message("c9", text, f"t{i}"))
    entries = await redis_client.xrange(keys.inbound_queue("telegram:c9"))
    # What the workers left behind: the first message taken up once, the second twice already.
    await redis_client.hset(keys.inbound_tries("telegram:c9"), mapping={entries[0][0]: 1, entries[1][0]: 2})
    monkeypatch.setattr(inbound_module, "RECOVER_AFTER_SECONDS", 0.0)
    bot = Bot()
    bot.expect = 2
    survivor = InboundQueue(redis_client, keys, bot.handle, bot)

    await sweep_until(survivor, bot.done)
    await survivor.idle()
    await survivor.close()
    assert bot.seen == ["died once", "never taken"]
    assert bot.replayed == [True, False]
    dead_letters = [fields for _, fields in await redis_client.xrange(keys.inbound_dead)]
    assert [(f["conversation"], f["reason"]) for f in dead_letters if "died twice" in f["m"]] == [
        ("telegram:c9", "taken over twice")
    ]
    assert await redis_client.hlen(keys.inbound_tries("telegram:c9")) == 0


async def test_a_full_backlog_refuses_new_conversations_until_it_drains_and_loses_nothing(
    redis_client: aioredis.Redis, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(inbound_module, "MAX_WAITING_PER_CONVERSATION", 3)
    bot = Held()  # the instance is saturated: nothing gets handled for now
    bot.expect = 5
    queue = InboundQueue(redis_client, keys, bot.handle, bot, backlog_limit=2)
    await queue.submit(message("o1", "first", "o1-1"))
    await queue.submit(message("o2", "second", "o2-1"))
    # Two conversations wait: a third conversation is refused, so its platform retries it later…
    with pytest.raises(Overloaded):
        await queue.submit(message("o3", "third", "o3-1"))
    # …while the waiting ones still take messages, up to three each.
    await queue.submit(message("o1", "first again", "o1-2"))
    await queue.submit(message("o1", "and again", "o1-3"))
    with pytest.raises(Overloaded):
        await queue.submit(message("o1", "one too many", "o1-4"))
    bot.release.set()
    await asyncio.wait_for(queue.idle(), 10)
    # Drained in order; the refused ones come back as the platform retries and are taken now.
    await queue.submit(message("o3", "third", "o3-1"))
    await asyncio.wait_for(bot.done.wait(), 10)
    await queue.close()
    assert [t for c, t in bot.sent if c == "telegram:o1"] == [
        "echo: first",
        "echo: first again",
        "echo: and again",
    ]
    assert ("telegram:o3", "echo: third") in bot.sent


async def test_a_process_with_no_turn_free_leaves_new_conversations_to_one_that_has(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    # Platforms reuse few connections, so one process may take in every webhook; the work must not stay there.
    busy, idle = Held(), Bot()
    idle.expect = 2
    receiving = InboundQueue(redis_client, keys, busy.handle, busy, turns_at_once=1)
    other = InboundQueue(redis_client, keys, idle.handle, idle, turns_at_once=1)
    await receiving.submit(message("d1", "first", "d1"))
    await asyncio.wait_for(busy.started.wait(), 5)  # its one turn is taken
    other.start()
    await receiving.submit(message("d2", "second", "d2"))
    await receiving.submit(message("d3", "third", "d3"))
    # Both new conversations are handled while the receiving process's one turn is still busy.
    await asyncio.wait_for(idle.done.wait(), 10)
    assert sorted(idle.seen) == ["second", "third"]
    busy.release.set()
    await asyncio.wait_for(receiving.idle(), 10)
    assert busy.seen == ["first"]
    await receiving.close()
    await other.close()


async def test_each_waiting_webhook_gets_its_own_conversations_reply(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    # Stream ids are per conversation and made of the millisecond: two customers' messages stored in the
    # same millisecond get the same id, and a reply must still go back to its own customer's webhook.
    bot = Bot()
    queue = InboundQueue(redis_client, keys, bot.handle, bot, turns_at_once=8)
    senders = [f"w{i}" for i in range(200)]
    submitted = await asyncio.gather(
        *(
            queue.submit(message(s, f"from {s}", f"m-{s}"), wait_reply=5, passive=lambda r: len(r) == 1)
            for s in senders
        )
    )
    await queue.idle()
    await queue.close()
    answered = {s: [r.text for r in (done.replies or [])] for s, done in zip(senders, submitted, strict=True)}
    pushed = {conversation: text for conversation, text in bot.sent}
    for s in senders:
        # Answered on its own webhook, or pushed to its own conversation: never another customer's reply.
        assert answered[s] in ([f"echo: from {s}"], []), (s, answered[s])
        if not answered[s]:
            assert pushed.get(f"telegram:{s}") == f"echo: from {s}"


async def test_a_waiting_webhook_on_a_busy_process_is_answered_at_once_and_its_reply_pushed(
    redis_client: aioredis.Redis, keys: Keys
) -> None:
    busy, idle = Held(), Bot()
    idle.expect = 1
    receiving = InboundQueue(redis_client, keys, busy.handle, busy, turns_at_once=1)
    other = InboundQueue(redis_client, keys, idle.handle, idle, turns_at_once=1)
    await receiving.submit(message("e1", "first", "e1"))
    await asyncio.wait_for(busy.started.wait(), 5)
    other.start()
    # WeChat's webhook would wait up to 5 s for a passive reply; with no turn free here it does not wait.
    began = asyncio.get_running_loop().time()
    submitted = await receiving.submit(message("e2", "second", "e2"), wait_reply=5, passive=lambda r: True)
    assert asyncio.get_running_loop().time() - began < 1
    assert submitted.replies is None
    await asyncio.wait_for(idle.done.wait(), 10)
    assert idle.sent == [("telegram:e2", "echo: second")]
    busy.release.set()
    await asyncio.wait_for(receiving.idle(), 10)
    await receiving.close()
    await other.close()
