"""Erasing a customer through the admin API: nothing under the deployment's prefix names them after."""

from __future__ import annotations

import uuid
from typing import Any

from aiohttp.test_utils import TestClient

from bot.appkeys import SERVICES
from core.redis import AsyncRedis
from staff.accounts import Accounts
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import PASSWORD, login
from tests.bot.test_closing import desk, with_ann  # noqa: F401  (fixture: a staffed instance of its own)
from tests.conftest import say


async def everything(client: AsyncRedis, prefix: str) -> dict[str, Any]:
    """Return every key under ``prefix`` with its whole content, read by type."""
    found: dict[str, Any] = {}
    async for key in client.scan_iter(match=f"{prefix}:*", count=500):
        kind = await client.execute_command("TYPE", key)  # type: ignore[no-untyped-call]
        if kind == "string":
            found[key] = await client.get(key)
        elif kind == "hash":
            found[key] = await client.hgetall(key)
        elif kind == "set":
            found[key] = sorted(await client.smembers(key))
        elif kind == "zset":
            found[key] = await client.zrange(key, 0, -1)
        elif kind == "stream":
            found[key] = await client.xrange(key)
        elif kind == "list":
            found[key] = await client.lrange(key, 0, -1)
    return found


def naming(data: dict[str, Any], needle: str) -> list[str]:
    """Return the keys whose name or content contains ``needle`` anywhere."""
    return [key for key, content in data.items() if needle in key or needle in repr(content)]


async def test_an_admin_erases_a_customer_everywhere_and_the_figures_stay(
    desk: TestClient,  # noqa: F811
) -> None:
    services = desk.app[SERVICES]
    prefix = services.keys.prefix
    gone, kept = "er-" + uuid.uuid4().hex[:8], "ek-" + uuid.uuid4().hex[:8]
    # The customer to erase: a bot turn, a handoff, an agent's reply, a close, a rating with a comment,
    # a phone number and a note on the profile.
    await say(desk, gone, "退款多久到账")
    ann = await with_ann(desk, gone)
    sent = await desk.post(
        f"/api/agent/conversations/rest:{gone}/messages", json={"text": "您好，我来处理"}, headers=ann
    )
    assert sent.status == 200
    assert (await desk.post(f"/api/agent/conversations/rest:{gone}/close", headers=ann)).status == 200
    await say(desk, gone, "非常满意")
    await say(desk, gone, "/csat_comment")
    await say(desk, gone, "客服很耐心，我的电话 13812345678")
    profile = await services.profiles.for_identity(f"rest:{gone}")
    await services.profiles.update(profile.id, "agent:ann", {"name": "张三", "phone": "13812345678"})
    await services.profiles.add_note(profile.id, "ann", "老客户，住在北京")
    cases = services.handoff.complaints
    assert cases is not None
    case, _ = await cases.open(
        f"rest:{gone}",
        f"rest:{gone}",
        "快递员态度差，电话 13812345678",
        channel="rest",
        team="support",
        actor="bot",
    )
    # Flagged for quality inspection: the agent's record stays, under a pseudonym.
    await services.quality.flag(f"rest:{gone}")
    # Another customer, who must lose nothing.
    await say(desk, kept, "怎么退货")

    before = await everything(services.redis, prefix)
    assert naming(before, gone), "the customer left data to erase"
    # The roll-ups: {rp} keys, less the per-customer markers there (named after the conversation or the
    # profile: a recent opening, a recent close), which are the customer's and go with them.
    rollups_before = {
        k: v
        for k, v in before.items()
        if ":{rp}:" in k and not naming({k: v}, gone) and not naming({k: v}, profile.id)
    }

    assert (
        await desk.post("/api/admin/customers/erase", json={"conversation": f"rest:{gone}"})
    ).status == 403
    accounts: Accounts = desk.app[ACCOUNTS]
    await accounts.set_user("ada", PASSWORD, ["admin"])
    ada = await login(desk, "ada")
    bad = await desk.post("/api/admin/customers/erase", json={"conversation": 42}, headers=ada)
    assert bad.status == 400
    unknown = await desk.post("/api/admin/customers/erase", json={"profile": "nobody"}, headers=ada)
    assert unknown.status == 404
    erased = await desk.post("/api/admin/customers/erase", json={"conversation": f"rest:{gone}"}, headers=ada)
    assert erased.status == 200, await erased.text()
    summary = (await erased.json())["erased"]
    assert summary["profile"] == profile.id
    assert summary["conversations"] == [f"rest:{gone}"]

    after = await everything(services.redis, prefix)
    audit = services.keys.audit
    leaks = [
        k
        for k in naming(after, gone) + naming(after, profile.id) + naming(after, "13812345678")
        if k != audit
    ]
    assert leaks == [], f"still naming the customer: {leaks}"
    assert any(":{qa}:flag:erased-" in key for key in after), "the quality flag is kept, pseudonymous"
    # The complaint case is still counted, with nothing of the customer in it.
    kept_case = await cases.get(case.id)
    assert kept_case is not None
    assert (kept_case.category, kept_case.status) == (case.category, case.status)
    assert kept_case.customer != case.customer
    # The other customer and the reports' roll-ups are untouched.
    assert [x.text for x in await services.transcripts.read(f"rest:{kept}") if x.role == "customer"] == [
        "怎么退货"
    ]
    rollups_after = {k: after.get(k) for k in rollups_before}
    assert rollups_after == rollups_before
    entries = (await (await desk.get("/api/audit", params={"action": "customer_erased"})).json())["entries"]
    assert [(e["actor"], e["detail"]["profile"]) for e in entries] == [("ada", profile.id)]
