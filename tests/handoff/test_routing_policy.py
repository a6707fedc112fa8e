"""The routing policy on the real test Redis: validation, applying it, and every instance taking it."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import redis.asyncio as aioredis

from core.keys import Keys
from core.state import ConversationStates
from handoff.queue import HandoffQueue, QueueSettings
from handoff.routing_policy import PolicyError, RoutingPolicies, RoutingPolicy
from handoff.service import HandoffService


@pytest.fixture
def prefix(key_prefix: str) -> str:
    return f"{key_prefix}rp{uuid.uuid4().hex[:6]}"


def instance(client: aioredis.Redis, prefix: str) -> RoutingPolicies:
    """One engine instance's queue and handoff service, built with the environment's defaults."""
    keys = Keys(prefix)
    states = ConversationStates(client, keys)
    queue = HandoffQueue(client, prefix, states, QueueSettings(offer_timeout_seconds=30.0))
    handoff = HandoffService(client, keys, states, queue, kb_misses_to_handoff=2)
    return RoutingPolicies(client, prefix, queue, handoff)


def policy(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tier_boost_seconds": {"vip": 600, "regular": 0, "new": 30},
        "auto_assign_teams": ["billing", "vip-desk"],
        "offer_timeout_seconds": 45,
        "kb_misses_to_handoff": 3,
    }
    data.update(changes)
    return data


async def test_a_saved_policy_applies_here_at_once_and_on_another_instance_at_its_refresh(
    redis_client: aioredis.Redis, prefix: str
) -> None:
    here, there = instance(redis_client, prefix), instance(redis_client, prefix)
    assert (await there.refresh()).by == "", "nothing saved: the defaults, set by nobody"
    before, saved = await here.set(policy(), by="sue")
    assert before.policy == here.defaults
    assert saved.by == "sue"
    assert saved.at_ms > 0
    assert here.queue.settings.auto_assign_teams == {"billing", "vip-desk"}
    assert here.queue.settings.offer_timeout_seconds == 45
    assert here.queue.settings.tier_boost_seconds == {"vip": 600, "regular": 0, "new": 30}
    assert here.handoff.kb_misses_to_handoff == 3
    assert there.queue.settings.offer_timeout_seconds == 30, "the other instance has not looked yet"
    await there.refresh()
    assert there.queue.settings.offer_timeout_seconds == 45
    assert there.handoff.kb_misses_to_handoff == 3
    assert there.current.by == "sue"
    # Settings the page does not show are kept (the heartbeat lifetime is the environment's).
    assert there.queue.settings.heartbeat_ttl_seconds == QueueSettings().heartbeat_ttl_seconds
    returned = await there.reset()
    assert returned.policy.offer_timeout_seconds == 45
    await here.refresh()
    assert here.queue.settings.offer_timeout_seconds == 30
    assert here.handoff.kb_misses_to_handoff == 2
    assert here.current.by == ""


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"offer_timeout_seconds": 2}, "offer_timeout_seconds"),
        ({"offer_timeout_seconds": "45"}, "offer_timeout_seconds"),
        ({"offer_timeout_seconds": True}, "offer_timeout_seconds"),
        ({"kb_misses_to_handoff": 1.5}, "kb_misses_to_handoff"),
        ({"kb_misses_to_handoff": 11}, "kb_misses_to_handoff"),
        ({"tier_boost_seconds": {"gold": 60}}, "tier_boost_seconds"),
        ({"tier_boost_seconds": {"vip": -1}}, "tier_boost_seconds.vip"),
        ({"tier_boost_seconds": {"vip": 86401}}, "tier_boost_seconds.vip"),
        ({"auto_assign_teams": "billing"}, "auto_assign_teams"),
        ({"auto_assign_teams": ["two words"]}, "auto_assign_teams"),
        ({"auto_assign_teams": [""]}, "auto_assign_teams"),
        ({"auto_assign_teams": [f"t{i}" for i in range(51)]}, "auto_assign_teams"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_wrong_value_names_its_field(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(PolicyError) as raised:
        RoutingPolicy.parse(policy(**changes))
    assert raised.value.field == field


def test_a_policy_missing_a_setting_is_refused() -> None:
    data = policy()
    del data["kb_misses_to_handoff"]
    with pytest.raises(PolicyError, match="kb_misses_to_handoff: required"):
        RoutingPolicy.parse(data)


async def test_a_refused_policy_changes_nothing(redis_client: aioredis.Redis, prefix: str) -> None:
    routing = instance(redis_client, prefix)
    await routing.set(policy(), by="sue")
    with pytest.raises(PolicyError):
        await routing.set(policy(offer_timeout_seconds=0), by="sue")
    assert routing.queue.settings.offer_timeout_seconds == 45
    assert (await instance(redis_client, prefix).refresh()).policy.offer_timeout_seconds == 45


async def test_a_corrupt_stored_policy_falls_back_to_the_defaults(
    redis_client: aioredis.Redis, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    routing = instance(redis_client, prefix)
    await routing.set(policy(), by="sue")
    await redis_client.set(Keys(prefix).routing_policy, '{"policy": {"offer_timeout_seconds": 0}}')
    saved = await routing.refresh()
    assert saved.policy == routing.defaults
    assert routing.queue.settings.offer_timeout_seconds == 30
    assert "unreadable" in caplog.text
    caplog.clear()
    await routing.refresh()
    assert "unreadable" not in caplog.text, "logged once per change, not each sweep"
