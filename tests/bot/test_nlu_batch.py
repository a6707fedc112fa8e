"""Concurrent parses run as one NLU batch and get exactly Rasa's one-message parse, on the trained model."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.trackers import DialogueStateTracker

from bot.appkeys import DIALOGUE
from bot.dialogue.agent import ScopedParse
from bot.dialogue.nlu_batch import BatchedParse

# Both languages, short forms and typos, 繁体, pinyin, mixed, emoji, a button payload, and lengths from one
# character to a paragraph (a batch pads every message to its longest).
TEXTS = [
    "你好",
    "在吗",
    "hi",
    "退款多久到账",
    "退款多久能到帐啊？？",
    "how long does a refund take",
    "hw long 4 refund",
    "我的訂單到哪了",
    "wo de dingdan dao na le",
    "order 到哪了 pls",
    "谢谢👍",
    "👍",
    "thx",
    "不用了",
    "that's not it",
    "转人工",
    "转入工",
    "agent please",
    "/greet",
    "你是机器人吗",
    "are you a bot",
    "讲个笑话",
    "bye",
    "好",
    "我上周三买的那件蓝色外套到现在还没发货，客服说会尽快处理但是一直没有消息，我想知道到底什么时候能发，"
    "如果发不了就直接退款吧",
    "I ordered a blue jacket last Wednesday and it still has not shipped; nobody answers my emails. "
    "Please tell me when it ships or refund me.",
]


def _compare(one: dict[str, object], batched: dict[str, object]) -> None:
    assert batched["text"] == one["text"]
    assert batched["intent"]["name"] == one["intent"]["name"], one["text"]  # type: ignore[index]
    assert abs(batched["intent"]["confidence"] - one["intent"]["confidence"]) < 1e-5  # type: ignore[index]
    ranked_one = [(r["name"], r["confidence"]) for r in one["intent_ranking"]]  # type: ignore[attr-defined]
    ranked = [(r["name"], r["confidence"]) for r in batched["intent_ranking"]]  # type: ignore[attr-defined]
    assert [n for n, _ in ranked] == [n for n, _ in ranked_one], one["text"]
    assert all(abs(a - b) < 1e-5 for (_, a), (_, b) in zip(ranked, ranked_one, strict=True))


async def test_concurrent_parses_share_a_batch_and_match_rasas_own_parse(engine: TestClient) -> None:
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    processor = dialogue.agent.processor
    assert processor is not None
    scoped = processor.parse_message
    assert isinstance(scoped, ScopedParse)
    batched: BatchedParse = scoped.batched
    assert batched.enabled, "this model's NLU reads no tracker: it must be batched"

    tracker = DialogueStateTracker.from_events("nlu-batch-test", [])
    # Rasa's own parse, one message per graph run (its DIET then takes its own one-message path).
    alone = [processor._parse_message_with_graph(UserMessage(t), tracker) for t in TEXTS]
    before = batched.runs
    together = await asyncio.gather(*(batched(UserMessage(t)) for t in TEXTS))
    runs = batched.runs - before
    assert runs < len(TEXTS) / 2, f"{len(TEXTS)} concurrent parses took {runs} graph runs"
    for one, many in zip(alone, together, strict=True):
        _compare(one, many)


async def test_a_parse_whose_turn_was_cancelled_does_not_disturb_the_others(engine: TestClient) -> None:
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    processor = dialogue.agent.processor
    assert processor is not None
    batched: BatchedParse = processor.parse_message.batched  # type: ignore[attr-defined]
    tasks = [asyncio.create_task(batched(UserMessage(t))) for t in TEXTS[:8]]
    await asyncio.sleep(0)
    tasks[3].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(done[3], asyncio.CancelledError)
    assert [d["intent"]["name"] for i, d in enumerate(done) if i != 3]  # type: ignore[index]
    assert all(isinstance(d, dict) for i, d in enumerate(done) if i != 3)
    # And the next parse is served.
    assert (await batched(UserMessage("你好")))["intent"]["name"]
