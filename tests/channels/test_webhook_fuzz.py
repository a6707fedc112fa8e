"""Every webhook under generated input: never a 5xx or a traceback, and nothing lost afterwards.

JSON of any shape for REST and Telegram; XML of any shape for WeChat (plain and safe mode) and WeCom
(encrypted with the real wechatpy crypto), signed right and wrong; raw bytes; oversized bodies; stale
timestamps; outbox reads with made-up senders and tokens. Afterwards a customer is answered exactly once
on Telegram (with a re-delivery) and on REST: the fuzzing broke nothing and lost nothing.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from typing import Any

import pytest
import requests
import xmltodict
from aiohttp.test_utils import TestClient
from hypothesis import given
from hypothesis import strategies as st
from wechatpy.crypto import WeChatCrypto

from channels.wechat_api import signature
from tests.channels.conftest import (
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_TOKEN,
    WECOM_AES_KEY,
    WECOM_CORP_ID,
    WECOM_KFID,
    WECOM_TOKEN,
    new_id,
)
from tests.channels.test_telegram import HEADERS, to, update
from tests.fakes.telegram import FakeTelegram
from tests.fuzzing import below_500, fuzzed, no_tracebacks

# The kinds of refusal the channels log (bad signature, stale timestamp, wrong secret, undecryptable …).
REFUSAL_KINDS = 12
# One byte over the engine's request limit (aiohttp's client_max_size).
OVERSIZED = 1024 * 1024 + 1

_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=12,
)
# Text that XML can carry in CDATA, and tag names XML allows.
_TEXT = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=60).map(
    lambda t: t.replace("]]>", "")
)
_TAG = st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,11}", fullmatch=True)
# The fields WeChat and WeCom messages carry, each present or not, with likely and unlikely values.
_MESSAGE = st.fixed_dictionaries(
    {},
    optional={
        "ToUserName": _TEXT,
        "FromUserName": _TEXT,
        "CreateTime": st.integers().map(str) | _TEXT,
        "MsgType": st.sampled_from(["text", "image", "voice", "event", "video", "link", ""]) | _TEXT,
        "Content": _TEXT,
        "MsgId": st.integers().map(str) | _TEXT,
        "Event": st.sampled_from(["subscribe", "unsubscribe", "CLICK", "kf_msg_or_event"]) | _TEXT,
        "PicUrl": _TEXT,
        "Recognition": _TEXT,
        "bizmsgmenuid": _TEXT,
        "OpenKfId": st.just(WECOM_KFID) | _TEXT,
        "Token": _TEXT,
    },
)
# A well-formed text message with generated values: it reaches the dialogue, not only the parser.
_TEXT_MESSAGE = st.fixed_dictionaries(
    {
        "ToUserName": _TEXT,
        "FromUserName": _TEXT,
        "CreateTime": st.integers(0, 2**32).map(str),
        "MsgType": st.just("text"),
        "Content": _TEXT,
        "MsgId": st.integers(0, 2**63).map(str),
    }
)
XML_FIELDS = _TEXT_MESSAGE | _MESSAGE | st.dictionaries(_TAG, _TEXT, max_size=5)
REST_BODY = JSON | st.fixed_dictionaries({"sender": _TEXT, "message": _TEXT}, optional={"metadata": JSON})
TELEGRAM_TEXT = st.builds(lambda chat, text: update("text_message", chat, text=text), st.integers(), _TEXT)


def xml_of(fields: dict[str, str]) -> str:
    return "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"


def signed(timestamp: str | None = None, good: bool = True) -> dict[str, str]:
    """The query WeChat signs a callback with (a wrong signature when not ``good``)."""
    ts = timestamp or str(int(time.time()))
    nonce = uuid.uuid4().hex[:10]
    return {
        "timestamp": ts,
        "nonce": nonce,
        "signature": signature(WECHAT_TOKEN, ts, nonce) if good else "0" * 40,
    }


def encrypted(crypto: WeChatCrypto, inner: str, good: bool) -> tuple[str, dict[str, str]]:
    """Return the safe-mode envelope around ``inner`` and the query that signs it (or not)."""
    nonce, ts = uuid.uuid4().hex[:10], str(int(time.time()))
    outer = xmltodict.parse(crypto.encrypt_message(inner, nonce, ts))["xml"]
    query = {"timestamp": ts, "nonce": nonce, "msg_signature": outer["MsgSignature"] if good else "0" * 40}
    return f"<xml><Encrypt><![CDATA[{outer['Encrypt']}]]></Encrypt></xml>", query


def _fuzz(base: str) -> Counter[str]:
    """Send every webhook its generated requests; return the answers' statuses per channel."""
    http = requests.Session()
    seen: Counter[str] = Counter()
    wechat_crypto = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APP_ID)
    wecom_crypto = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)

    def send(channel: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        response = http.request(method, base + path, timeout=60, **kwargs)
        seen[f"{channel} {response.status_code}"] += 1
        sent = kwargs.get("data", kwargs.get("json"))
        below_500(response, f"{channel} {method} {kwargs.get('params')} {sent!r:.300}")
        return response

    @fuzzed()
    @given(body=REST_BODY, raw=st.binary(max_size=200), token=st.none() | st.text(max_size=20))
    def rest(body: Any, raw: bytes, token: str | None) -> None:
        send("rest", "POST", "/webhooks/rest/webhook", json=body)
        send("rest", "POST", "/webhooks/rest/webhook", data=raw)
        sender = body.get("sender") if isinstance(body, dict) else None
        query = {"sender": str(sender)[:80], **({"token": token} if token is not None else {})}
        send("rest", "GET", "/webhooks/rest/outbox", params=query)

    @fuzzed()
    @given(
        body=JSON,
        update_id=st.integers(),
        secret=st.sampled_from([HEADERS, {}, {"X-Telegram-Bot-Api-Secret-Token": "x"}]),
    )
    def telegram(body: Any, update_id: int, secret: dict[str, str]) -> None:
        if isinstance(body, dict):
            body.setdefault("update_id", update_id)
        send("telegram", "POST", "/webhooks/telegram", data=json.dumps(body), headers=secret)

    @fuzzed()
    @given(fields=XML_FIELDS, raw=st.binary(max_size=200), good=st.booleans(), stale=st.booleans())
    def wechat(fields: dict[str, str], raw: bytes, good: bool, stale: bool) -> None:
        inner = xml_of(fields)
        query = signed("1000000000" if stale else None, good)
        send("wechat", "POST", "/webhooks/wechat", params=query, data=inner.encode())
        send("wechat", "POST", "/webhooks/wechat", params=signed(None, good), data=raw)
        envelope, safe = encrypted(wechat_crypto, inner, good)
        send(
            "wechat",
            "POST",
            "/webhooks/wechat",
            params={**signed(), **safe, "encrypt_type": "aes"},
            data=envelope,
        )
        send("wechat", "GET", "/webhooks/wechat", params={**query, "echostr": inner[:200]})

    @fuzzed()
    @given(fields=XML_FIELDS, raw=st.binary(max_size=200), good=st.booleans())
    def wecom(fields: dict[str, str], raw: bytes, good: bool) -> None:
        envelope, query = encrypted(wecom_crypto, xml_of(fields), good)
        send("wecom", "POST", "/webhooks/wecom", params=query, data=envelope)
        send("wecom", "POST", "/webhooks/wecom", params=query, data=raw)
        send("wecom", "GET", "/webhooks/wecom", params={**query, "echostr": envelope[:200]})

    for run in (rest, telegram, wechat, wecom):
        run()
    big = b"x" * OVERSIZED
    for channel, path, extra in (
        ("rest", "/webhooks/rest/webhook", {}),
        ("telegram", "/webhooks/telegram", {"headers": HEADERS}),
        ("wechat", "/webhooks/wechat", {"params": signed()}),
        ("wecom", "/webhooks/wecom", {}),
    ):
        assert send(channel, "POST", path, data=big, **extra).status_code == 413, channel
    return seen


@pytest.mark.timeout(900)
async def test_no_webhook_input_gets_a_server_error_and_nothing_is_lost(
    channels_engine: TestClient, fake_telegram: FakeTelegram
) -> None:
    base = str(channels_engine.make_url("")).rstrip("/")
    # Hundreds of refusals (bad signatures and secrets, stale timestamps, undecryptable bodies): the
    # channels log the first of each kind (and one per thousand, or per minute), not one line each.
    with no_tracebacks(max_warnings=REFUSAL_KINDS):
        seen = await asyncio.to_thread(_fuzz, base)
    print(f"webhook fuzz: {dict(sorted(seen.items()))}")
    # Each channel answered some generated requests as messages, not only as refusals.
    for channel in ("rest", "telegram", "wechat", "wecom"):
        assert seen[f"{channel} 200"] > 0, channel
    # Afterwards a customer is answered, once, on a push channel and on REST.
    chat = new_id()
    first = update("text_message", chat, text="怎么退货")
    for _ in range(2):  # the second is Telegram's re-delivery of the same update
        assert (await channels_engine.post("/webhooks/telegram", json=first, headers=HEADERS)).status == 200
    await fake_telegram.wait_for("sendMessage", to(chat))
    later = update("text_message", chat, text="什么时候发货")
    assert (await channels_engine.post("/webhooks/telegram", json=later, headers=HEADERS)).status == 200
    # The second answer has come, so the re-delivery's would have been sent before it (order is kept).
    await fake_telegram.wait_for("sendMessage", to(chat), count=2)
    assert len(fake_telegram.of("sendMessage", to(chat))) == 2
    sender = "fuzz-" + uuid.uuid4().hex
    rest = await channels_engine.post(
        "/webhooks/rest/webhook", json={"sender": sender, "message": "怎么退货"}
    )
    assert rest.status == 200
    assert await rest.json()
