"""Customer profiles on a real Redis: one per identity, merge with audit, tier rules, masked phones."""

from __future__ import annotations

import time
import uuid

import pytest
import redis.asyncio as aioredis

from handoff.profiles import ProfileError, Profiles, TierRules, mask_phone


@pytest.fixture
def profiles(redis_client: aioredis.Redis, key_prefix: str) -> Profiles:
    return Profiles(redis_client, key_prefix + "pr" + uuid.uuid4().hex[:6])


async def test_an_identity_gets_one_profile_and_keeps_it(profiles: Profiles) -> None:
    first = await profiles.seen("telegram:42", "telegram:42")
    again = await profiles.seen("telegram:42", "telegram:42")
    assert first.id == again.id
    assert first.identities == ("telegram:42",)
    assert first.tier == "new"
    assert (await profiles.audit(first.id))[0]["action"] == "created"


async def test_merging_moves_identities_conversations_and_notes_with_an_audit_entry(
    profiles: Profiles,
) -> None:
    web = await profiles.seen("webchat:v1", "webchat:v1")
    wechat = await profiles.seen("wechat:oX1", "wechat:oX1")
    await profiles.update(
        wechat.id, "agent:ann", {"name": "李伟", "phone": "13812345678", "tags": ["回头客"]}
    )
    await profiles.add_note(wechat.id, "ann", "上次退款已处理")
    merged = await profiles.merge(web.id, wechat.id, "agent:ann")
    assert merged.identities == ("webchat:v1", "wechat:oX1")
    assert merged.name == "李伟"
    assert merged.tags == ("回头客",)
    assert set(await profiles.conversations(web.id)) == {"webchat:v1", "wechat:oX1"}
    assert [n["text"] for n in await profiles.notes(web.id)] == ["上次退款已处理"]
    assert (await profiles.for_identity("wechat:oX1")).id == web.id
    assert await profiles.get(wechat.id) is None
    trail = await profiles.audit(web.id)
    assert trail[-1]["action"] == "merged"
    assert trail[-1]["actor"] == "agent:ann"
    assert wechat.id in trail[-1]["detail"]
    # The audit of an edit never holds the phone number itself.
    edits = [e for e in await profiles.audit(wechat.id) if e["action"] == "updated"]
    assert "13812345678" not in edits[0]["detail"]
    with pytest.raises(ProfileError):
        await profiles.merge(web.id, web.id, "agent:ann")


async def test_tiers_follow_the_rules_unless_set_by_hand(profiles: Profiles) -> None:
    rules = TierRules(vip_lifetime_value=5000, new_for_days=7)
    now = int(time.time() * 1000)
    assert rules.tier(0, now, now) == "new"
    assert rules.tier(0, now - 8 * 86_400_000, now) == "regular"
    assert rules.tier(5000, now, now) == "vip"
    customer = await profiles.seen("telegram:7", "telegram:7")
    assert (await profiles.update(customer.id, "agent:sue", {"lifetime_value": 20_000})).tier == "vip"
    by_hand = await profiles.update(customer.id, "agent:sue", {"tier": "regular"})
    assert by_hand.tier == "regular"
    assert by_hand.tier_by_hand
    assert (await profiles.update(customer.id, "agent:sue", {"tier": "auto"})).tier == "vip"
    for bad in (
        {"tier": "gold"},
        {"lifetime_value": -1},
        {"phone": "call me"},
        {"owner": "x"},
        {"tags": "a"},
    ):
        with pytest.raises(ProfileError):
            await profiles.update(customer.id, "agent:sue", bad)


def test_phones_are_masked() -> None:
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("+86 138-1234-5678") == "861******5678"
    assert mask_phone("12345") == "*****"
    assert mask_phone("") == ""
