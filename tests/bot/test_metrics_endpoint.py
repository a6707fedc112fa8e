"""GET /metrics on a real engine: messages, turns, handoffs, routes by template, queue gauges, the token."""

from __future__ import annotations

import uuid

from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import EngineFactory, say

TOKEN = "metrics-" + uuid.uuid4().hex


async def scrape(engine: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = await engine.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(await response.text()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_count_this_instances_work_and_read_the_queue_from_redis(
    trained_model: object, start_engine: EngineFactory, key_prefix: str
) -> None:
    prefix = key_prefix + "pm" + uuid.uuid4().hex[:4]
    engine = await start_engine(instance_id="pm-" + prefix, redis_prefix=prefix, metrics_token=TOKEN)
    assert (await engine.get("/metrics")).status == 401
    assert (await engine.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401

    sender = "pm-" + uuid.uuid4().hex[:6]
    await say(engine, sender, "你好")
    await say(engine, sender, "转人工")
    assert (await engine.get("/api/agent/complaints/TS999999")).status == 401  # not logged in
    seen = await scrape(engine)
    assert seen[("cs_inbound_messages_total", (("channel", "rest"),))] == 2
    assert seen[("cs_replies_total", (("channel", "rest"),))] >= 2
    assert seen[("cs_turn_seconds_count", (("step", "bot_turn"),))] == 2
    # One after the other, each message's NLU ran alone: two runs of one.
    assert seen[("cs_nlu_batch_size_count", ())] == 2
    assert seen[("cs_nlu_batch_size_bucket", (("le", "1.0"),))] == 2
    handoffs = {labels: v for (name, labels), v in seen.items() if name == "cs_handoffs_total"}
    assert sum(handoffs.values()) == 1, handoffs
    assert seen[("cs_queue_waiting", (("team", "support"),))] == 1
    assert seen[("cs_queue_oldest_wait_seconds", (("team", "support"),))] >= 0
    assert seen[("cs_redis_up", ())] == 1
    # "你好" is a greeting (no KB lookup); "转人工" goes to the queue without one either: ask a question.
    await say(engine, "pm-kb-" + uuid.uuid4().hex[:6], "退款多久到账")
    bands = {
        labels: v for (name, labels), v in (await scrape(engine)).items() if name == "cs_kb_answers_total"
    }
    assert sum(bands.values()) >= 1, bands
    # Routes are counted by their template, so a case number never becomes a label of its own.
    route = (("method", "GET"), ("route", "/api/agent/complaints/{case}"), ("status", "401"))
    assert seen[("cs_http_requests_total", route)] == 1
    assert not any("TS999999" in str(labels) for _, labels in seen)
