"""WeChat Official Account end to end: real wechatpy crypto, the real engine, a local fake of the API."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import xmltodict
from aiohttp.test_utils import TestClient
from wechatpy.crypto import WeChatCrypto

from bot.appkeys import KEYS, OUTBOX, REDIS
from bot.engine.channel_store import RedisChannelStore
from channels.wechat_api import WechatApi, signature
from core.state import Owner
from handoff.web.appkeys import DELIVER, STATES, TRANSCRIPTS
from tests.channels.conftest import PAYLOADS, WECHAT_AES_KEY, WECHAT_APP_ID, WECHAT_SECRET, WECHAT_TOKEN
from tests.fakes.wechat import FakeWechat

WEBHOOK = "/webhooks/wechat"


def openid() -> str:
    """A fresh customer openid (28 characters, like WeChat's)."""
    return "oX7" + uuid.uuid4().hex[:25]


def xml(name: str, **fields: Any) -> str:
    """A recorded WeChat push with its placeholders filled in."""
    values = {"time": int(time.time()), "msgid": uuid.uuid4().int % 10**19, "content": "", "menuid": ""}
    values.update(fields)
    return (PAYLOADS / "wechat" / f"{name}.xml").read_text(encoding="utf-8").format(**values)


def signed(timestamp: int | None = None, **extra: str) -> dict[str, str]:
    """Query parameters WeChat adds to each callback, signed with the shared token."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = uuid.uuid4().hex[:10]
    return {"timestamp": ts, "nonce": nonce, "signature": signature(WECHAT_TOKEN, ts, nonce), **extra}


def parsed(body: str) -> dict[str, Any]:
    result: dict[str, Any] = xmltodict.parse(body)["xml"]
    return result


def to(user: str) -> Any:
    return lambda call: call.params.get("touser") == user


async def test_url_verification_echoes_only_for_a_right_fresh_signature(channels_engine: TestClient) -> None:
    ok = await channels_engine.get(WEBHOOK, params=signed(echostr="8812764120571"))
    assert ok.status == 200
    assert await ok.text() == "8812764120571"
    forged = {**signed(echostr="1"), "signature": "0" * 40}
    assert (await channels_engine.get(WEBHOOK, params=forged)).status == 403
    stale = signed(timestamp=int(time.time()) - 3600, echostr="1")
    assert (await channels_engine.get(WEBHOOK, params=stale)).status == 403


async def test_a_quick_answer_is_a_passive_reply_and_a_retry_changes_nothing(
    channels_engine: TestClient, fake_wechat: FakeWechat
) -> None:
    user = openid()
    body = xml("text", openid=user, content="退款多久到账")
    response = await channels_engine.post(WEBHOOK, params=signed(openid=user), data=body.encode())
    assert response.status == 200
    reply = parsed(await response.text())
    assert reply["ToUserName"] == user
    assert reply["FromUserName"] == "gh_3f9c2b7d1a05"
    assert reply["MsgType"] == "text"
    assert "到账" in reply["Content"]
    # WeChat resends a message it thinks went unanswered: same MsgId, answered "success", nothing twice.
    again = await channels_engine.post(WEBHOOK, params=signed(openid=user), data=body.encode())
    assert await again.text() == "success"
    lines = await channels_engine.app[TRANSCRIPTS].read(f"wechat:{user}")
    assert [x.text for x in lines if x.role == "customer"] == ["退款多久到账"]
    assert fake_wechat.of("custom_send", to(user)) == []


async def test_safe_mode_decrypts_and_answers_encrypted(channels_engine: TestClient) -> None:
    crypto = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APP_ID)
    user = openid()
    query = signed(openid=user, encrypt_type="aes")
    envelope = crypto.encrypt_message(
        xml("text", openid=user, content="退款要几天"), query["nonce"], query["timestamp"]
    )
    outer = parsed(envelope)
    query["msg_signature"] = outer["MsgSignature"]
    response = await channels_engine.post(WEBHOOK, params=query, data=envelope.encode())
    assert response.status == 200
    answer = await response.text()
    sealed = parsed(answer)
    plain = crypto.decrypt_message(answer, sealed["MsgSignature"], sealed["TimeStamp"], sealed["Nonce"])
    reply = parsed(plain)
    assert reply["ToUserName"] == user
    assert "到账" in reply["Content"]

    forged = {**query, "msg_signature": "f" * 40}
    assert (await channels_engine.post(WEBHOOK, params=forged, data=envelope.encode())).status == 403


async def test_subscribe_gets_the_welcome_and_voice_is_read_from_its_recognition(
    channels_engine: TestClient,
) -> None:
    user = openid()
    response = await channels_engine.post(
        WEBHOOK, params=signed(), data=xml("subscribe", openid=user).encode()
    )
    assert "智能客服" in parsed(await response.text())["Content"]
    voice = xml("voice", openid=user, content="退款多久到账")
    response = await channels_engine.post(WEBHOOK, params=signed(), data=voice.encode())
    assert "到账" in parsed(await response.text())["Content"]


async def test_buttons_go_out_as_msgmenu_and_a_tap_sends_the_payload(
    channels_engine: TestClient, fake_wechat: FakeWechat
) -> None:
    user = openid()
    # A question between two entries: the bot suggests them, plus a human, as buttons.
    response = await channels_engine.post(
        WEBHOOK, params=signed(), data=xml("text", openid=user, content="怎么申请退款").encode()
    )
    assert await response.text() == "success"
    (call,) = await fake_wechat.wait_for("custom_send", to(user))
    assert call.params["msgtype"] == "msgmenu"
    menu = call.params["msgmenu"]
    human = next(item for item in menu["list"] if "人工" in item["content"])
    tap = xml("menu_tap", openid=user, content=human["content"], menuid=human["id"])
    await channels_engine.post(WEBHOOK, params=signed(), data=tap.encode())
    states = channels_engine.app[STATES]
    assert await states.get(f"wechat:{user}") is Owner.QUEUED


async def test_agent_messages_use_the_api_refresh_a_stale_token_once_and_fail_visibly_after_48_hours(
    channels_engine: TestClient, fake_wechat: FakeWechat
) -> None:
    user = openid()
    conversation = f"wechat:{user}"
    outbox = channels_engine.app[OUTBOX]
    deliver = channels_engine.app[DELIVER]
    await deliver(conversation, "您好，我是客服小王", "ann")
    await outbox.idle()
    fetches = len(fake_wechat.of("token"))
    fake_wechat.expire_tokens()
    await deliver(conversation, "请问订单号是多少？", "ann")
    await outbox.idle()
    assert len(fake_wechat.of("token")) == fetches + 1  # refreshed exactly once
    sends = fake_wechat.of("custom_send", to(user))
    assert [c.params["text"]["content"] for c in sends] == [
        "您好，我是客服小王",
        "请问订单号是多少？",
        "请问订单号是多少？",
    ]
    records = await outbox.deliveries(conversation)
    assert [r["status"] for r in records] == ["delivered", "delivered"]

    fake_wechat.outside_window.add(user)
    await deliver(conversation, "还在吗？", "ann")
    await outbox.idle()
    records = await outbox.deliveries(conversation)
    assert records[-1]["status"] == "failed"
    assert "48-hour" in str(records[-1]["reason"])
    lines = await channels_engine.app[TRANSCRIPTS].read(conversation)
    assert "48-hour" in lines[-1].text


async def test_a_5xx_on_send_is_retried(channels_engine: TestClient, fake_wechat: FakeWechat) -> None:
    user = openid()
    fake_wechat.fail_next("custom_send", 503, {"errcode": -1, "errmsg": "system error"}, times=2)
    await channels_engine.app[DELIVER](f"wechat:{user}", "稍等，正在查询", "ann")
    await channels_engine.app[OUTBOX].idle()
    (record,) = await channels_engine.app[OUTBOX].deliveries(f"wechat:{user}")
    assert record["status"] == "delivered"
    assert record["attempts"] == 3


async def test_bad_input_is_refused_without_touching_the_conversation(channels_engine: TestClient) -> None:
    user = openid()
    good = xml("text", openid=user, content="你好").encode()
    forged = {**signed(), "signature": "a" * 40}
    assert (await channels_engine.post(WEBHOOK, params=forged, data=good)).status == 403
    assert (await channels_engine.post(WEBHOOK, params=signed(), data=b"<xml><ToUserName>")).status == 400
    no_type = b"<xml><FromUserName>x</FromUserName></xml>"
    assert (await channels_engine.post(WEBHOOK, params=signed(), data=no_type)).status == 400
    assert (await channels_engine.post(WEBHOOK, params=signed(), data=b"<xml>text</xml>")).status == 400
    assert (await channels_engine.post(WEBHOOK, params=signed(), data=b"x" * (1024 * 1024))).status == 413
    not_safe = signed(encrypt_type="aes", msg_signature="0" * 40)
    assert (await channels_engine.post(WEBHOOK, params=not_safe, data=good)).status == 400
    assert await channels_engine.app[TRANSCRIPTS].read(f"wechat:{user}") == []
    response = await channels_engine.post(WEBHOOK, params=signed(), data=good)
    assert parsed(await response.text())["ToUserName"] == user


async def test_instances_share_one_access_token(channels_engine: TestClient, fake_wechat: FakeWechat) -> None:
    app = channels_engine.app
    store_key = uuid.uuid4().hex[:8]  # a channel namespace of this test's own
    apis = []
    for _ in range(4):
        store = RedisChannelStore(lambda: app[REDIS], app[KEYS], f"wechat{store_key}")
        query = {"grant_type": "client_credential", "appid": WECHAT_APP_ID, "secret": WECHAT_SECRET}
        api = WechatApi(fake_wechat.url, "/cgi-bin/token", query, store)  # type: ignore[attr-defined]
        await api.start()
        apis.append(api)
    before = len(fake_wechat.of("token"))
    try:
        tokens = await asyncio.gather(*(api.token() for api in apis))
    finally:
        for api in apis:
            await api.close()
    assert len(set(tokens)) == 1
    assert len(fake_wechat.of("token")) == before + 1


class _LateFirstRead(RedisChannelStore):
    """A store whose first token read answers "none" only after ``released`` is set."""

    def __init__(self, *args: Any, released: asyncio.Event) -> None:
        super().__init__(*args)
        self.released = released
        self.reads = 0

    async def get(self, key: str) -> str | None:
        if key != "access_token" or self.reads:
            return await super().get(key)
        self.reads += 1
        await self.released.wait()
        return None  # what it read before the other instance stored its token


async def test_a_read_made_before_another_instance_stored_its_token_does_not_fetch_again(
    channels_engine: TestClient, fake_wechat: FakeWechat
) -> None:
    """The race seen under load: B reads "no token", A fetches, stores and unlocks, then B locks."""
    app = channels_engine.app
    namespace = f"wechat{uuid.uuid4().hex[:8]}"
    query = {"grant_type": "client_credential", "appid": WECHAT_APP_ID, "secret": WECHAT_SECRET}
    released = asyncio.Event()
    late = _LateFirstRead(lambda: app[REDIS], app[KEYS], namespace, released=released)
    first = WechatApi(
        fake_wechat.url, "/cgi-bin/token", query, RedisChannelStore(lambda: app[REDIS], app[KEYS], namespace)
    )  # type: ignore[attr-defined]
    second = WechatApi(fake_wechat.url, "/cgi-bin/token", query, late)  # type: ignore[attr-defined]
    for api in (first, second):
        await api.start()
    before = len(fake_wechat.of("token"))
    try:
        waiting = asyncio.create_task(second.token())
        token = await first.token()  # fetched, stored, lock released
        released.set()
        assert await waiting == token
    finally:
        for api in (first, second):
            await api.close()
    assert len(fake_wechat.of("token")) == before + 1


async def test_a_lock_taken_over_after_it_expired_stays_with_its_new_holder(
    channels_engine: TestClient,
) -> None:
    app = channels_engine.app
    store = RedisChannelStore(lambda: app[REDIS], app[KEYS], f"wechat{uuid.uuid4().hex[:8]}")
    assert await store.add("access_token_lock", "slow-instance", 0.05)
    await asyncio.sleep(0.1)  # the slow instance's fetch outlived its lock ...
    assert await store.add("access_token_lock", "other-instance", 5)  # ... and another took it
    assert not await store.release("access_token_lock", "slow-instance")
    assert await store.get("access_token_lock") == "other-instance"
    assert await store.release("access_token_lock", "other-instance")
    assert await store.get("access_token_lock") is None
