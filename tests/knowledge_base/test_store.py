"""The knowledge base's Redis store and live index, on the real test Redis."""

from __future__ import annotations

import dataclasses
import uuid

import pytest
import redis.asyncio as aioredis

from core.key_moves import copy_key
from knowledge_base.entries import EntryError, parse_entry
from knowledge_base.live import LiveKnowledgeBase
from knowledge_base.matcher import Thresholds
from knowledge_base.store import KnowledgeStore, PublishRefused


@pytest.fixture
def prefix(key_prefix: str) -> str:
    return f"{key_prefix}s{uuid.uuid4().hex[:6]}"


async def test_inbox_counts_masks_numbers_and_dismisses(redis_client: aioredis.Redis, prefix: str) -> None:
    store = KnowledgeStore(redis_client, prefix)
    for _ in range(3):
        await store.record_unanswered(
            "我的手机号13800138000收不到验证码", "我的手机号13800138000收不到验证码", "zh-CN", "escalated"
        )
    await store.record_unanswered("火星能用吗", "火星能用吗？", "zh-CN", "fallback")
    inbox = await store.inbox()
    assert [item["count"] for item in inbox] == [3, 1]
    assert inbox[0]["text"] == "我的手机号138******00收不到验证码"
    assert "13800138000" not in inbox[0]["key"]
    await store.dismiss(inbox[0]["key"])
    assert [item["text"] for item in await store.inbox()] == ["火星能用吗？"]


async def test_synonyms_and_golden_questions_are_validated(redis_client: aioredis.Redis, prefix: str) -> None:
    store = KnowledgeStore(redis_client, prefix)
    assert await store.set_synonyms({"退款": "退钱，退錢"}) == {"退款": ["退钱", "退錢"]}
    with pytest.raises(EntryError):
        await store.set_synonyms(["not", "a", "mapping"])
    with pytest.raises(EntryError, match="golden question 1"):
        await store.set_golden([{"text": "", "expected": "x"}])


async def test_publish_diff_rollback_and_a_synonym_reaching_customers(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    kb = LiveKnowledgeBase(redis_client, prefix)
    await kb.start()
    try:
        assert kb.live is not None
        first = kb.live.version
        assert first == 1  # seeded from knowledge_base/data/faq.yml
        found = kb.find("花唄怎么还款", "zh")
        assert found is not None
        assert found.decision.band.value == "escalate"

        await kb.store.save_entry(
            parse_entry(
                {"id": "huabei", "question": "花呗怎么还款", "answer": "在支付宝还款", "category": "支付"}
            )
        )
        await kb.store.set_synonyms({"花呗": ["花唄"]})
        snapshot = await kb.publish("tester", "花呗")
        assert snapshot.version == first + 1
        found = kb.find("花唄怎麼還款？", "zh")  # traditional characters and a synonym variant
        assert found is not None
        assert found.entry is not None
        assert found.entry.id == "huabei"

        diff = await kb.diff(first, snapshot.version)
        assert [e["id"] for e in diff["added"]] == ["huabei"]
        assert diff["removed"] == []

        await kb.store.set_golden([{"text": "花呗怎么还款", "expected": "huabei", "locale": "zh-CN"}])
        await kb.store.delete_entry("zh-CN", "huabei")
        with pytest.raises(PublishRefused) as refused:
            await kb.publish("tester", "break it")
        assert refused.value.report[0]["expected"] == "huabei"
        forced = await kb.publish("tester", "forced", force=True)
        assert forced.version == snapshot.version + 1

        back = await kb.rollback(snapshot.version, "tester")
        assert back.version == forced.version + 1
        assert back.message == f"rollback to version {snapshot.version}"
        assert await kb.store.draft_entry("zh-CN", "huabei") is not None
        found = kb.find("花呗怎么还款", "zh")
        assert found is not None
        assert found.entry is not None
        assert found.entry.id == "huabei"
        versions = await kb.store.versions()
        assert [v["version"] for v in versions][:4] == [back.version, forced.version, snapshot.version, first]
    finally:
        await kb.stop()


async def test_other_instances_load_what_the_publisher_built(
    shared_redis: aioredis.Redis, prefix: str
) -> None:
    topics = {"card": "card arrival delivery", "refund": "refund money back", "login": "password login reset"}
    publisher = LiveKnowledgeBase(shared_redis, prefix, seed_file=None)
    for entry_id, words in topics.items():
        phrasings = [f"question {i} about {words}" for i in range(10)]
        await publisher.store.save_entry(
            parse_entry({"id": entry_id, "questions": phrasings, "answer": entry_id, "locale": "en"})
        )
    snapshot = await publisher.publish("tester", "three topics")
    shared = await publisher.store.load_built(snapshot.version)
    assert len(shared) == 1
    state = next(iter(shared.values()))
    assert state.coef is not None
    assert state.intercept is not None
    # Tamper with the stored weights: an instance that starts now must load them rather than refit.
    await publisher.store.save_built(
        snapshot.version,
        {state.key: dataclasses.replace(state, coef=state.coef * 2, intercept=state.intercept * 2)},
    )
    follower = LiveKnowledgeBase(shared_redis, prefix, seed_file=None)
    await follower.start()
    try:
        assert follower.live is not None
        followed = follower.live.index.matchers["en"].state()
        assert followed.coef is not None
        assert (followed.coef == state.coef * 2).all()
        assert followed.vocabularies == state.vocabularies
        found = follower.find("when does my card arrive", "en")
        assert found is not None
        assert found.decision.candidates[0].entry_id == "card"
    finally:
        await follower.stop()
    # A state built from other phrasings is not loaded: one edited phrasing means a fresh build.
    await publisher.store.save_entry(
        parse_entry({"id": "card", "questions": ["where is my new card"], "answer": "card", "locale": "en"})
    )
    again = await publisher.publish("tester", "card reworded")
    rebuilt = await publisher.store.load_built(again.version)
    assert state.key not in rebuilt
    assert len(rebuilt) == 1
    assert await publisher.store.load_built(snapshot.version) == {}, "only the live version's is kept"


async def test_the_live_version_only_moves_forward_when_publishes_race(
    shared_redis: aioredis.Redis, prefix: str
) -> None:
    kb = LiveKnowledgeBase(shared_redis, prefix)
    await kb.start()
    try:
        assert kb.live is not None
        # A slow publish takes its number, then waits; a later one overtakes it and lands first.
        seq = kb.store.keys.version_seq
        reserved = int(await shared_redis.incr(seq))
        later = await kb.publish("bea", "later")
        assert later.version == reserved + 1
        await shared_redis.set(seq, reserved - 1)  # so the slow one's commit lands on its own number
        slow = await kb.store.commit(later.entries, {}, later.thresholds, "al", "slow")
        assert slow.version == reserved
        await shared_redis.set(seq, later.version)
        assert await kb.store.live_version() == later.version, "the pointer did not move back"
        assert kb.live.version == later.version
        # A late message about the older version does not move an instance back either.
        assert (await kb.reload(slow.version)) is kb.live
        assert kb.live.version == later.version
    finally:
        await kb.stop()


async def test_a_knowledge_base_stored_before_the_kb_hash_tag_is_moved_and_answers(
    shared_redis: aioredis.Redis, prefix: str
) -> None:
    # What an engine before the {kb} tag left: the same layout under "{prefix}:kb:".
    writer = KnowledgeStore(shared_redis, prefix)
    entry = parse_entry({"id": "gift", "question": "礼品卡怎么买", "answer": "在商城首页购买礼品卡。"})
    await writer.replace_drafts([entry])
    await writer.commit([entry], {}, Thresholds(), "ann", "first")
    await shared_redis.expire(f"{prefix}:{{kb}}:draft", 3600)
    tagged = [k async for k in shared_redis.scan_iter(match=f"{prefix}:{{kb}}:*")]
    assert len(tagged) >= 4  # draft, version, versions, live (and the sequence)
    for key in tagged:
        assert await copy_key(shared_redis, key, key.replace(":{kb}:", ":kb:"))
        await shared_redis.delete(key)

    live = LiveKnowledgeBase(shared_redis, prefix, seed_file=None)
    await live.start()
    try:
        assert await live.store.live_version() == 1
        assert [e.id for e in await live.store.draft_entries()] == ["gift"]
        index = live.live
        assert index is not None
        assert index.version == 1
    finally:
        await live.stop()
    assert [k async for k in shared_redis.scan_iter(match=f"{prefix}:kb:*")] == []
    assert 0 < await shared_redis.ttl(f"{prefix}:{{kb}}:draft") <= 3600
    assert await live.store.adopt_legacy_keys() == 0  # a second start finds nothing to move
