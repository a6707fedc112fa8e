"""The REST channel: Rasa's wire format, and clear errors for bad input."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from core.messages import Button, Outbound
from tests.conftest import EngineFactory, say

URL = "/webhooks/rest/webhook"


async def test_reply_has_rasa_wire_format_with_buttons(engine: TestClient, sender: str) -> None:
    replies = await say(engine, sender, "你们能帮我修自行车吗")
    assert replies[-1]["recipient_id"] == f"rest:{sender}"
    assert replies[-1]["buttons"] == [
        {"title": "转人工", "payload": "/request_human"},
        {"title": "不用了", "payload": "/deny"},
    ]
    assert set(replies[-1]) == {"recipient_id", "text", "buttons"}


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"{not json", 400, "JSON object"),
        (b"[1, 2]", 400, "JSON object"),
        (b'"just a string"', 400, "JSON object"),
        (b'{"message": "hi"}', 400, "'sender'"),
        (b'{"sender": 42, "message": "hi"}', 400, "'sender'"),
        (b'{"sender": "   ", "message": "hi"}', 400, "'sender'"),
        (b'{"sender": "a", "message": ["hi"]}', 400, "'message'"),
        (b'{"sender": "a", "message": ""}', 400, "'message'"),
        (b'{"sender": "a", "message": "hi", "metadata": [1]}', 400, "'metadata'"),
        ('{"sender": "' + "x" * 200 + '", "message": "hi"}', 400, "at most 128"),
        ('{"sender": "a", "message": "' + "长" * 4001 + '"}', 413, "at most 4000"),
        (b"\xff\xfe\x00garbage", 400, "JSON object"),
    ],
)
async def test_malformed_input_gets_a_clear_error(
    engine: TestClient, body: bytes | str, status: int, error: str
) -> None:
    response = await engine.post(URL, data=body, headers={"Content-Type": "application/json"})
    assert response.status == status
    assert error in (await response.json())["error"]


async def test_one_megabyte_body_is_refused_and_the_engine_keeps_serving(
    engine: TestClient, sender: str
) -> None:
    response = await engine.post(URL, data=b'{"sender": "a", "message": "' + b"x" * 1_000_000 + b'"}')
    assert response.status == 413
    assert await say(engine, sender, "你好")


async def test_messages_are_refused_with_503_while_the_model_is_unavailable(
    start_engine: EngineFactory, tmp_path: object
) -> None:
    client = await start_engine(model_dir=tmp_path, instance_id="no-model")
    response = await client.post(URL, json={"sender": "a", "message": "你好"})
    assert response.status == 503
    assert response.headers["Retry-After"]
    health = await client.get("/healthz")
    assert health.status == 503
    body = await health.json()
    assert body["model"] == "failed"
    assert "no trained model" in body["model_error"]
    assert body["redis"] == "ok"


def test_plain_text_fallback_numbers_buttons() -> None:
    message = Outbound("u", "需要转人工吗？", (Button("转人工", "/request_human"), Button("不用了", "/deny")))
    assert message.plain_text() == "需要转人工吗？\n1. 转人工\n2. 不用了"


async def test_with_an_auth_token_only_messages_carrying_it_are_taken(
    trained_model: object, start_engine: EngineFactory
) -> None:
    client = await start_engine(rest_token="s3cret-token", instance_id="rest-token")
    body = {"sender": "tok-1", "message": "你好"}
    assert (await client.post(URL, json=body)).status == 401
    assert (await client.post(URL + "?token=wrong", json=body)).status == 401
    assert (await client.post(URL, json=body, headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.post(URL + "?token=s3cret-token", json=body)).status == 200
    bearer = {"Authorization": "Bearer s3cret-token"}
    answered = await client.post(URL, json=body, headers=bearer)
    assert answered.status == 200
    assert answered.headers["X-Outbox-Token"], "the sender's key to its outbox"
