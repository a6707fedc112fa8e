"""Quality inspection through the engine: a complained-about conversation is sampled, scored, read.

Its agent closes it, a supervisor scores it, the agent reads the review; roles and bad input are checked.
"""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient

from tests.bot.test_agent_api import login
from tests.bot.test_supervise_api import desk, online  # noqa: F401  (desk: a staffed instance of its own)
from tests.conftest import say

SCORES = {"greeting": 5, "accuracy": 4, "courtesy": 5, "timeliness": 3, "closing": 5}


async def test_a_complained_about_conversation_is_inspected_and_its_agent_reads_the_review(
    desk: TestClient,  # noqa: F811
) -> None:
    sender = "qa-" + uuid.uuid4().hex[:6]
    conversation = f"rest:{sender}"
    await say(desk, sender, "你们的服务太差了，我要投诉")
    gus, offered = await online(desk, "gus", conversation)
    assert offered == [conversation]
    accept = await desk.post("/api/agent/accept", json={"conversation": conversation}, headers=gus)
    assert accept.status == 200
    closed = await desk.post(f"/api/agent/conversations/{conversation}/close", headers=gus)
    assert closed.status == 200, await closed.text()
    assert (await desk.get("/api/quality/samples")).status == 403, "agents do not inspect"
    assert (await (await desk.get("/api/quality/checklist")).json())["criteria"][0]["name"] == "开场问候"

    sue = await login(desk, "sue")
    samples = (await (await desk.get("/api/quality/samples")).json())["samples"]
    (sample,) = [s for s in samples if s["conversation"] == conversation]
    assert (sample["agent"], sample["reason"]) == ("gus", "complaint")
    transcript = await (await desk.get(f"/api/quality/samples/{conversation}")).json()
    assert any("我要投诉" in line["text"] for line in transcript["lines"])
    assert (await desk.get("/api/quality/samples/rest:not-sampled")).status == 404
    for bad, status in (
        ({"conversation": conversation, "scores": {**SCORES, "accuracy": 9}}, 400),
        ({"conversation": conversation, "scores": {"greeting": 5}}, 400),
        ({"conversation": conversation}, 400),
        ({"conversation": "rest:not-sampled", "scores": SCORES}, 404),
    ):
        response = await desk.post("/api/quality/reviews", json=bad, headers=sue)
        assert response.status == status, (bad, await response.text())
    body = {"conversation": conversation, "scores": SCORES, "comments": {"timeliness": "首次回复慢"}}
    review = await desk.post("/api/quality/reviews", json=body, headers=sue)
    assert review.status == 201, await review.text()
    # 10 + 32 + 20 + 12 + 10
    assert (await review.json())["total"] == 84.0
    bad_list = await desk.put(
        "/api/quality/checklist", json={"criteria": [{"id": "x", "name": "X", "weight": 5}]}, headers=sue
    )
    assert bad_list.status == 400

    await login(desk, "gus")
    mine = await (await desk.get("/api/quality/reviews/mine")).json()
    assert (mine["average"], mine["count"]) == (84.0, 1)
    assert mine["reviews"][0]["comments"] == {"timeliness": "首次回复慢"}
    assert (await desk.get("/api/quality/reviews?agent=ivy")).status == 403, "agents read only their own"
