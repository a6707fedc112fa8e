"""The knowledge-base API on two engine instances sharing Redis: auth, edits, publish, hot reload."""

from __future__ import annotations

import asyncio
import io
import time
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from staff.accounts import Accounts
from staff.audit import AUDIT
from staff.auth import ACCOUNTS
from tests.bot.test_agent_api import login as staff_login
from tests.conftest import EngineFactory, say, texts
from tests.topologies import Instances

PASSWORD = "correct horse battery"


@pytest_asyncio.fixture(scope="session")
async def kb_engines(
    trained_model: object, start_engine: EngineFactory, key_prefix: str
) -> tuple[TestClient, TestClient]:
    """Two instances on a knowledge base of their own (publishing must not disturb other tests)."""
    prefix = key_prefix + "kb"
    a = await start_engine(instance_id="kb-a", redis_prefix=prefix, cookie_secure=False)
    b = await start_engine(instance_id="kb-b", redis_prefix=prefix, cookie_secure=False)
    accounts: Accounts = a.app[ACCOUNTS]
    await accounts.set_user("editor1", PASSWORD, ["editor"])
    await accounts.set_user("agent1", PASSWORD, ["agent"])
    return a, b


async def login(client: TestClient, user: str = "editor1") -> dict[str, str]:
    response = await client.post("/api/login", json={"username": user, "password": PASSWORD})
    assert response.status == 200, await response.text()
    body = await response.json()
    return {"X-CSRF-Token": body["csrf"]}


@pytest_asyncio.fixture
async def editor(kb_engines: tuple[TestClient, TestClient]) -> AsyncIterator[dict[str, str]]:
    a, _ = kb_engines
    headers = await login(a)
    yield headers
    await a.post("/api/logout")


async def test_api_needs_login_role_and_csrf(kb_engines: tuple[TestClient, TestClient]) -> None:
    a, _ = kb_engines
    a.session.cookie_jar.clear()
    assert (await a.get("/api/kb/entries")).status == 401
    wrong = await a.post("/api/login", json={"username": "editor1", "password": "nope-nope-nope"})
    assert wrong.status == 401
    await login(a, "agent1")
    assert (await a.get("/api/kb/entries")).status == 403  # agents are not content editors
    await a.post("/api/logout")
    headers = await login(a)
    assert (await a.post("/api/kb/publish", json={})).status == 403  # no CSRF token
    assert (await a.post("/api/kb/publish", json={}, headers={"X-CSRF-Token": "x"})).status == 403
    bad = await a.post("/api/kb/entries", data=b"{not json", headers=headers)
    assert bad.status == 400
    missing = await a.post("/api/kb/entries", json={"id": "x", "question": "q"}, headers=headers)
    assert missing.status == 400
    assert "needs an answer" in (await missing.json())["error"]
    await a.post("/api/logout")
    a.session.cookie_jar.clear()


def gift_entry(word: str) -> dict[str, object]:
    """A new FAQ entry whose answer carries ``word``, so a reply shows which version answered."""
    return {
        "id": f"gift_{word}",
        "locale": "zh-CN",
        "question": "可以开礼品卡吗",
        "alternatives": ["礼品卡怎么买", "有没有礼品卡"],
        "answer": f"礼品卡在 App 首页购买 {word}",
    }


async def test_publish_reaches_the_other_instance_within_a_second(instances: Instances) -> None:
    a, b = instances.a, instances.b
    editor = await staff_login(a, "editor1")
    word = uuid.uuid4().hex[:6]
    entry = gift_entry(word)
    assert (await a.post("/api/kb/entries", json=entry, headers=editor)).status == 200
    # Drafts are not what customers see.
    assert word not in texts(await say(b, "c-" + word, "礼品卡怎么买"))

    published = await a.post("/api/kb/publish", json={"message": "gift cards"}, headers=editor)
    assert published.status == 200, await published.text()
    version = (await published.json())["version"]
    started = time.perf_counter()
    while True:
        replies = await say(b, "d-" + word, "礼品卡怎么买")
        if word in texts(replies):
            break
        assert time.perf_counter() - started < 1.0, "instance B did not answer from the new version in 1 s"
        await asyncio.sleep(0.02)
    elapsed = time.perf_counter() - started
    print(f"publish -> answered on the other instance in {elapsed * 1000:.0f} ms (version {version})")

    versions = await (await a.get("/api/kb/versions")).json()
    assert versions["live"] == version
    assert versions["versions"][0]["author"] == "editor1"
    diff = await (await a.get(f"/api/kb/diff?from={version - 1}&to={version}")).json()
    assert [e["id"] for e in diff["added"]] == [entry["id"]]

    rolled = await a.post("/api/kb/rollback", json={"version": version - 1}, headers=editor)
    assert rolled.status == 200
    started = time.perf_counter()
    while word in texts(await say(b, "e-" + word, "礼品卡怎么买")):
        assert time.perf_counter() - started < 1.0
        await asyncio.sleep(0.02)
    # The draft was reset to the rolled-back version, so the entry is gone from it too.
    assert (await a.get(f"/api/kb/entries/zh-CN/gift_{word}")).status == 404


async def test_golden_questions_block_a_breaking_publish_unless_forced(
    kb_engines: tuple[TestClient, TestClient], editor: dict[str, str]
) -> None:
    a, _ = kb_engines
    golden = [
        {"text": "退款多久能到账", "expected": "refund_time", "locale": "zh-CN"},
        {"text": "今天天气怎么样", "expected": "escalate", "locale": "zh-CN"},
    ]
    assert (await a.put("/api/kb/golden", json={"golden": golden}, headers=editor)).status == 200
    saved = await (await a.get("/api/kb/entries/zh-CN/refund_time")).json()
    assert (await a.delete("/api/kb/entries/zh-CN/refund_time", headers=editor)).status == 200
    refused = await a.post("/api/kb/publish", json={"message": "oops"}, headers=editor)
    assert refused.status == 409
    report = (await refused.json())["report"]
    assert [r["text"] for r in report] == ["退款多久能到账"]
    assert report[0]["expected"] == "refund_time"
    assert report[0]["got"] != "refund_time"
    assert report[0]["explanation"]["candidates"]
    # Put it back; now the publish goes through.
    assert (await a.post("/api/kb/entries", json=saved, headers=editor)).status == 200
    ok = await a.post("/api/kb/publish", json={"message": "ok"}, headers=editor)
    assert ok.status == 200, await ok.text()
    for bad in ({"precision_target": {}}, {"recall_weight": "lots"}, {"oos_recall_floor": True}):
        refused_target = await a.post("/api/kb/calibrate", json={"locale": "zh-CN", **bad}, headers=editor)
        assert refused_target.status == 400, bad
    calibrated = await a.post("/api/kb/calibrate", json={"locale": "zh-CN"}, headers=editor)
    assert calibrated.status == 200
    body = await calibrated.json()
    assert body["in_scope_accuracy"] == 1.0
    assert body["oos_recall"] == 1.0
    assert (await a.put("/api/kb/golden", json={"golden": []}, headers=editor)).status == 200
    # Calibrating on two questions gives knife-edge thresholds; restore the defaults for other tests.
    assert (
        await a.put("/api/kb/thresholds", json={"answer": 0.55, "suggest": 0.3}, headers=editor)
    ).status == 200


async def test_tester_explains_and_unanswered_questions_reach_the_inbox(
    kb_engines: tuple[TestClient, TestClient], editor: dict[str, str]
) -> None:
    a, b = kb_engines
    result = await (
        await a.post("/api/kb/test", json={"question": "發票怎麼開", "locale": "zh-CN"}, headers=editor)
    ).json()
    assert result["band"] == "answer"
    assert result["entry_id"] == "invoice"
    assert result["explanation"]["normalised"] == "发票怎么开"
    question = "你们的产品支持在火星上使用吗"
    replies = await say(b, "f-" + uuid.uuid4().hex[:6], question)
    assert "转人工" in str(replies)
    inbox = await (await a.get("/api/kb/inbox")).json()
    assert any(item["text"] == question and item["count"] >= 1 for item in inbox["inbox"])


async def test_import_is_all_or_nothing_and_export_round_trips(
    kb_engines: tuple[TestClient, TestClient], editor: dict[str, str]
) -> None:
    a, _ = kb_engines
    before = (await (await a.get("/api/kb/entries")).json())["total"]
    csv = "id,question,answer\nnew1,新问题一,答案一\nbad,,没有问题\n".encode()
    refused = await a.post("/api/kb/import?format=csv", data=csv, headers=editor)
    assert refused.status == 400
    assert (await refused.json())["errors"] == ["line 3: entry bad: needs at least one question"]
    assert (await (await a.get("/api/kb/entries")).json())["total"] == before
    huge = await a.post(
        "/api/kb/import?format=csv", data=io.BytesIO(b"x" * (10 * 1024 * 1024 + 1)), headers=editor
    )
    assert huge.status == 413
    exported = await a.get("/api/kb/export?format=xlsx")
    assert exported.status == 200
    again = await a.post(
        "/api/kb/import?format=xlsx&mode=replace", data=io.BytesIO(await exported.read()), headers=editor
    )
    assert again.status == 200
    assert (await again.json())["imported"] == before


async def test_openapi_document_lists_the_kb_api(kb_engines: tuple[TestClient, TestClient]) -> None:
    a, _ = kb_engines
    document = await (await a.get("/api/openapi.json")).json()
    assert document["openapi"].startswith("3.")
    assert {"post"} <= set(document["paths"]["/api/kb/publish"])
    assert "Entry" in document["components"]["schemas"]


@pytest.mark.parametrize("path", ["/kb"])
async def test_kb_page_is_served(kb_engines: tuple[TestClient, TestClient], path: str) -> None:
    a, _ = kb_engines
    response = await a.get(path)
    assert response.status == 200
    assert "知识库" in await response.text()


async def test_every_api_route_is_in_the_openapi_document(kb_engines: tuple[TestClient, TestClient]) -> None:
    a, _ = kb_engines
    document = await (await a.get("/api/openapi.json")).json()
    documented = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if path.startswith("/api/")
    }
    served = {
        (route.resource.canonical, route.method.lower())
        for route in a.app.router.routes()
        if route.resource is not None
        and route.resource.canonical.startswith("/api/")
        and route.resource.canonical != "/api/openapi.json"
        and route.method != "HEAD"
    }
    assert served == documented


async def test_the_answer_preview_shows_each_channel_and_checks_the_entry(
    kb_engines: tuple[TestClient, TestClient],
) -> None:
    a, _ = kb_engines
    headers = await login(a)
    entry = {
        "id": "preview-1",
        "question": "怎么退货",
        "answer": "七天内可退货。",
        "channel_answers": {"wechat": "七天内可退货，点下方菜单申请。"},
        "buttons": [{"title": "申请退货", "payload": "我要退货"}],
    }
    response = await a.post("/api/kb/preview", json=entry, headers=headers)
    assert response.status == 200, await response.text()
    channels = (await response.json())["channels"]
    assert list(channels) == ["wechat", "wecom", "telegram", "webchat"]
    assert channels["wechat"] == [
        {
            "kind": "menu",
            "text": "七天内可退货，点下方菜单申请。",
            "buttons": ["申请退货"],
            "layout": "lines",
            "image_url": None,
        }
    ]
    assert channels["telegram"][0]["text"] == "七天内可退货。"
    assert channels["telegram"][0]["layout"] == "keyboard"
    assert channels["webchat"][0]["layout"] == "chips"
    refused = await a.post("/api/kb/preview", json={**entry, "answer": ""}, headers=headers)
    assert refused.status == 400
    assert "answer" in (await refused.json())["error"]
    assert (await a.post("/api/kb/preview", json=entry)).status in (401, 403), "editors only"


async def test_bulk_actions_change_many_drafts_in_one_audited_call(
    kb_engines: tuple[TestClient, TestClient],
) -> None:
    a, _ = kb_engines
    headers = await login(a)
    marker = uuid.uuid4().hex[:6]
    ids = [f"bulk_{marker}_{i}" for i in range(3)]
    for i, entry_id in enumerate(ids):
        body = {"id": entry_id, "question": f"批量问题{marker}{i}", "answer": "答案", "locale": "zh-CN"}
        assert (await a.post("/api/kb/entries", json=body, headers=headers)).status == 200
    picked = [{"locale": "zh-CN", "id": entry_id} for entry_id in ids[:2]]
    off = await a.post(
        "/api/kb/entries/bulk",
        json={"action": "disable", "entries": [*picked, {"locale": "zh-CN", "id": "no_such"}]},
        headers=headers,
    )
    assert off.status == 200, await off.text()
    assert await off.json() == {"changed": 2, "missing": ["zh-CN/no_such"]}
    moved = await a.post(
        "/api/kb/entries/bulk",
        json={"action": "set_category", "entries": picked, "category": "促销"},
        headers=headers,
    )
    assert (await moved.json())["changed"] == 2
    entries = {
        e["id"]: e for e in (await (await a.get("/api/kb/entries", params={"q": marker})).json())["entries"]
    }
    assert [entries[i]["enabled"] for i in ids] == [False, False, True]
    assert [entries[i].get("category", "") for i in ids] == ["促销", "促销", ""]
    gone = await a.post("/api/kb/entries/bulk", json={"action": "delete", "entries": picked}, headers=headers)
    assert (await gone.json())["changed"] == 2
    left = (await (await a.get("/api/kb/entries", params={"q": marker})).json())["entries"]
    assert [e["id"] for e in left] == [ids[2]]
    for bad in (
        {"action": "explode", "entries": picked},
        {"action": "enable", "entries": []},
        {"action": "enable", "entries": [{"id": 3}]},
        {"action": "enable", "entries": [{"locale": "zh-CN", "id": "x"}] * 501},
        {"action": "set_category", "entries": picked, "category": " "},
    ):
        assert (await a.post("/api/kb/entries/bulk", json=bad, headers=headers)).status == 400, bad
    admin_view = await a.app[AUDIT].search(action="kb_bulk_changed")
    assert [entry.detail["action"] for entry in admin_view[:3]] == ["delete", "set_category", "disable"]
