"""The optimised engine decides what plain Rasa decides: the same model behind ``rasa run``, turn by turn.

The standard deployment of the trained model (``rasa run --enable-api`` with ``rasa run actions --actions
bot.actions``, real processes) is asked the same things as the engine, whose NLU runs batched across
concurrent conversations, whose actions run in-process and whose stores are its own:

* every public utterance of ``tests/data/intents_public.tsv`` (and short, noisy ones) gets the same NLU
  parse as Rasa's ``/model/parse``: the same intent and ranking, confidences within 1e-5;
* scripted conversations get the same replies, turn by turn. They are dialogue acts and FAQ questions, the
  turns where the engine's own product rules (the knowledge base deciding scope, the human queue) do not
  replace Rasa's answer; those rules are tested on their own (test_scope, test_dialogue_e2e).
"""

from __future__ import annotations

import asyncio
import csv
import os
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from rasa.core.channels.channel import UserMessage

from bot.appkeys import DIALOGUE
from bot.dialogue.agent import ScopedParse
from bot.settings import PROJECT_ROOT
from tests.bot.test_nlu_batch import TEXTS, _compare
from tests.conftest import say
from tests.processes import free_port, serving

START_SECONDS = 240
PUBLIC = Path(__file__).parent.parent / "data" / "intents_public.tsv"

# Each conversation is said in order; conversations run at once on the engine, so its NLU batches them.
CONVERSATIONS = [
    ["你好", "退款多久到账", "怎么开发票", "谢谢", "再见"],
    ["hi", "how long does a refund take", "where is my order", "thanks", "bye"],
    ["在吗", "我的订单到哪了", "支持哪些付款方式", "你是机器人吗", "好的谢谢", "拜拜"],
    ["hello there", "how do i reset my password", "are you a bot", "thank you", "see you"],
    ["您好，请问在线吗", "忘记密码怎么办", "怎么退货", "谢谢"],
    ["good morning", "where is my order", "how long does a refund take", "thanks"],
]


@pytest_asyncio.fixture(scope="module")
async def plain_rasa(
    trained_model: Path, redis_url: str, key_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    """``rasa run`` and ``rasa run actions`` on the trained model; yield the server's URL."""
    folder = tmp_path_factory.mktemp("plain-rasa")
    rasa_port, actions_port = free_port(), free_port()
    (folder / "endpoints.yml").write_text(
        f"action_endpoint:\n  url: http://127.0.0.1:{actions_port}/webhook\n", encoding="utf-8"
    )
    (folder / "credentials.yml").write_text("rest:\n", encoding="utf-8")
    env = {
        **os.environ,
        # The action server reads the engine's knowledge base (and nothing else: no handoff is scripted).
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": key_prefix,
        "PYTHONPATH": str(PROJECT_ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "LOG_LEVEL": "WARNING",
    }
    py = sys.executable
    actions = [py, "-m", "rasa", "run", "actions", "--actions", "bot.actions", "--port", str(actions_port)]
    server = [
        *(py, "-m", "rasa", "run", "--enable-api", "-m", str(trained_model)),
        *("--port", str(rasa_port), "--endpoints", str(folder / "endpoints.yml")),
        *("--credentials", str(folder / "credentials.yml")),
    ]
    url = f"http://127.0.0.1:{rasa_port}"
    async with (
        serving(
            actions, env, f"http://127.0.0.1:{actions_port}/health", folder / "actions.log", START_SECONDS
        ),
        serving(server, env, url + "/status", folder / "rasa.log", START_SECONDS),
    ):
        yield url


def _public_texts() -> list[str]:
    with PUBLIC.open(encoding="utf-8", newline="") as f:
        return [row["text"] for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)]


async def test_batched_parses_equal_rasas_own_on_public_utterances(
    engine: TestClient, plain_rasa: str
) -> None:
    dialogue = engine.app[DIALOGUE].dialogue
    assert dialogue is not None
    assert dialogue.agent.processor is not None
    scoped = dialogue.agent.processor.parse_message
    assert isinstance(scoped, ScopedParse)
    texts = _public_texts() + TEXTS
    assert len(texts) > 400
    before = scoped.batched.runs
    # Rasa's parse is the NLU's; the scope decision comes after it and is not part of this comparison.
    ours = await asyncio.gather(*(scoped.batched(UserMessage(t)) for t in texts))
    assert scoped.batched.runs - before < len(texts) / 4, "the parses were not batched"
    async with aiohttp.ClientSession() as http:
        for text, parse in zip(texts, ours, strict=True):
            async with http.post(plain_rasa + "/model/parse", json={"text": text}) as response:
                assert response.status == 200
                _compare(await response.json(), parse)


async def test_scripted_conversations_get_rasas_replies_turn_by_turn(
    engine: TestClient, plain_rasa: str
) -> None:
    async def converse(messages: list[str]) -> list[tuple[str, list[list[str]], list[list[str]]]]:
        sender = "eq-" + uuid.uuid4().hex[:8]
        turns = []
        async with aiohttp.ClientSession() as http:
            for text in messages:
                mine = await say(engine, sender, text)
                async with http.post(
                    plain_rasa + "/webhooks/rest/webhook", json={"sender": sender, "message": text}
                ) as response:
                    assert response.status == 200
                    theirs = await response.json()
                turns.append((text, _replies(mine), _replies(theirs)))
        return turns

    conversations = await asyncio.gather(*(converse(c) for c in CONVERSATIONS))
    differing = [
        (text, mine, theirs) for turns in conversations for text, mine, theirs in turns if mine != theirs
    ]
    assert not differing, differing


def _replies(replies: list[dict[str, object]]) -> list[list[str]]:
    """Each reply's text and button titles: what the customer sees."""
    shown = []
    for reply in replies:
        buttons = reply.get("buttons") or []
        titles = [str(b.get("title")) for b in buttons if isinstance(b, dict)]  # type: ignore[union-attr]
        shown.append([str(reply.get("text", "")), *titles])
    return shown
