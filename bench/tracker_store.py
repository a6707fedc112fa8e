"""What the tracker store costs a dialogue turn: Rasa's RedisTrackerStore against the append-only one.

    .venv/bin/python -m bench.tracker_store [--lengths 5 30 100] [--conversations 20] [--no-cache]

Each turn does what Rasa's processor asks of its store: read the conversation's tracker, add the turn's
events (the customer's message with a full NLU parse: intent ranking, entities; the actions; the bot's
reply; a slot), save it. Conversations of each length are played through both stores in the same run,
alternating store by store, on REDIS_URL (or an embedded Redis), keys under a random prefix, deleted
after. Printed per length: the process CPU and wall time per turn (the store's part of a turn only, with
the Rasa turn itself left out), the means over the last fifth of each conversation's turns, where its
length shows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from rasa.core.tracker_store import RedisTrackerStore, TrackerStore
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered

from bot.dialogue import tracker_store
from bot.dialogue.tracker_store import RedisEventTrackerStore
from core.redis import EmbeddedRedis, async_client, close_async

INTENTS = [f"intent_{i}" for i in range(10)]


def turn_events(i: int) -> list[Event]:
    """One turn as Rasa records it: the message with its parse, the actions, the reply, a slot."""
    ranking = [{"name": name, "confidence": 1.0 / (k + 2)} for k, name in enumerate(INTENTS)]
    parse: dict[str, Any] = {
        "intent": ranking[0],
        "entities": [{"entity": "order", "value": f"A{i:06d}", "start": 4, "end": 11}],
        "intent_ranking": ranking,
        "text": f"我的订单 A{i:06d} 什么时候发货",
        "scope": {"decision": "kb", "band": "answer", "entry": "ship-1", "score": 0.82},
    }
    return [
        UserUttered(parse["text"], parse["intent"], parse["entities"], parse, message_id=uuid.uuid4().hex),
        ActionExecuted("action_answer_question", policy="RulePolicy", confidence=1.0),
        BotUttered("您好，订单一般在付款后 48 小时内发货，发货后会短信通知您。", {"buttons": None}),
        SlotSet("language", "zh"),
        ActionExecuted("action_listen", policy="RulePolicy", confidence=1.0),
    ]


async def play(store: TrackerStore, sender: str, turns: int) -> list[tuple[float, float]]:
    """Play one conversation; return each turn's (CPU ms, wall ms) in the store."""
    spent = []
    await store.create_tracker(sender)
    for i in range(turns):
        cpu, wall = time.process_time(), time.perf_counter()
        tracker = await store.retrieve(sender)
        assert tracker is not None
        tracker.update_with_events(turn_events(i), None)
        await store.save(tracker)
        spent.append(((time.process_time() - cpu) * 1000, (time.perf_counter() - wall) * 1000))
    return spent


async def measure(url: str, lengths: list[int], conversations: int) -> None:
    """Play every length through both stores, alternating, and print the figures."""
    import redis as sync_redis

    prefix = "bt" + uuid.uuid4().hex[:8]
    client = async_client(url)
    blocking = sync_redis.Redis.from_url(url, decode_responses=True)
    rasa = RedisTrackerStore(None, key_prefix=prefix + "r")
    rasa.red = blocking
    ours = RedisEventTrackerStore(None, client, prefix + "o")
    stores: dict[str, TrackerStore] = {"Rasa's RedisTrackerStore": rasa, "append-only": ours}
    try:
        for turns in lengths:
            results: dict[str, list[list[tuple[float, float]]]] = {name: [] for name in stores}
            for c in range(conversations):
                order = list(stores) if c % 2 == 0 else list(reversed(stores))
                for name in order:
                    sender = f"rest:bt-{c}-{turns}-{uuid.uuid4().hex[:6]}"
                    results[name].append(await play(stores[name], sender, turns))
            tail = max(1, turns // 5)  # the last fifth of each conversation: where its length shows
            line = [f"{turns:4} turns:"]
            for name, runs in results.items():
                cpu = statistics.fmean(t[0] for run in runs for t in run[-tail:])
                wall = statistics.fmean(t[1] for run in runs for t in run[-tail:])
                line.append(f"{name} {cpu:6.2f} ms CPU / {wall:6.2f} ms wall per turn")
            print("  ".join(line), flush=True)
    finally:
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            await client.delete(key)
        await close_async(client)
        blocking.close()
        blocking.connection_pool.disconnect()


def main() -> None:
    """Measure on REDIS_URL or an embedded Redis."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 30, 100])
    parser.add_argument("--conversations", type=int, default=20)
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="rebuild every tracker from its events (an instance seeing a turn cold)",
    )
    args = parser.parse_args()
    if args.no_cache:
        tracker_store.CACHED_TRACKERS = 0
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(measure(url, args.lengths, args.conversations))
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as embedded:
        asyncio.run(measure(embedded, args.lengths, args.conversations))


if __name__ == "__main__":
    main()
