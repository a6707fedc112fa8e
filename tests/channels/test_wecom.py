"""WeCom customer service end to end: real wechatpy crypto, the real engine, a local fake of the API."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import xmltodict
from aiohttp.test_utils import TestClient
from wechatpy.enterprise.crypto import WeChatCrypto

from bot.appkeys import KEYS, OUTBOX, REDIS
from bot.engine.channel_store import RedisChannelStore
from core.state import Owner
from handoff import csat
from handoff.web.appkeys import DELIVER, STATES, TRANSCRIPTS
from tests.channels.conftest import PAYLOADS, WECOM_AES_KEY, WECOM_CORP_ID, WECOM_KFID, WECOM_TOKEN
from tests.fakes.recorder import Call
from tests.fakes.wecom import FakeWecom

WEBHOOK = "/webhooks/wecom"
CRYPTO = WeChatCrypto(WECOM_TOKEN, WECOM_AES_KEY, WECOM_CORP_ID)


def user() -> str:
    """A fresh external_userid."""
    return "wmEAsjCAAA" + uuid.uuid4().hex[:18]


def sealed(plain: str, timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """Encrypt ``plain`` as WeCom does; return the query and the body of the callback."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    nonce = uuid.uuid4().hex[:10]
    envelope = CRYPTO.encrypt_message(plain, nonce, ts)
    outer = xmltodict.parse(envelope)["xml"]
    query = {"msg_signature": outer["MsgSignature"], "timestamp": ts, "nonce": nonce}
    return query, envelope.encode()


async def notify(engine: TestClient) -> None:
    """Post the ``kf_msg_or_event`` callback WeCom sends when something new is waiting."""
    template = (PAYLOADS / "wecom" / "kf_msg_or_event.xml").read_text(encoding="utf-8")
    query, body = sealed(template.format(corp_id=WECOM_CORP_ID, time=int(time.time()), open_kfid=WECOM_KFID))
    response = await engine.post(WEBHOOK, params=query, data=body)
    assert response.status == 200
    assert await response.text() == "success"


def to(customer: str) -> Any:
    return lambda call: call.params.get("touser") == customer


def customer_lines(lines: list[Any]) -> list[str]:
    return [x.text for x in lines if x.role == "customer"]


async def test_url_verification_returns_the_decrypted_echostr(channels_engine: TestClient) -> None:
    query, body = sealed("6523879014201551872")
    encrypted = xmltodict.parse(body)["xml"]["Encrypt"]
    ok = await channels_engine.get(WEBHOOK, params={**query, "echostr": encrypted})
    assert ok.status == 200
    assert await ok.text() == "6523879014201551872"
    forged = {**query, "echostr": encrypted, "msg_signature": "0" * 40}
    assert (await channels_engine.get(WEBHOOK, params=forged)).status == 403


async def test_messages_are_synced_from_the_cursor_answered_once_and_never_reread(
    channels_engine: TestClient, fake_wecom: FakeWecom
) -> None:
    customer = user()
    fake_wecom.customer_says(customer, "退款多久到账")
    await notify(channels_engine)
    (answer,) = await fake_wecom.wait_for("send_msg", to(customer))
    assert answer.params["open_kfid"] == WECOM_KFID
    assert "到账" in answer.params["text"]["content"]
    sync = fake_wecom.of("sync_msg")[-1]
    assert sync.params["token"] == "ENCApHxnGDNAVNY4AaSJKj4Tb5mwsEMzxhFmHVGcra996NR"

    fake_wecom.customer_says(customer, "谢谢")
    await notify(channels_engine)
    await fake_wecom.wait_for("send_msg", to(customer), count=2)
    # The second sync started where the first ended.
    cursors = [int(c.params["cursor"] or 0) for c in fake_wecom.of("sync_msg")]
    assert cursors[-1] > cursors[-2]

    # A crash before the cursor was saved makes the next sync read everything again: nothing twice.
    store = RedisChannelStore(lambda: channels_engine.app[REDIS], channels_engine.app[KEYS], "wecom")
    await store.delete(f"cursor:{WECOM_KFID}")
    fake_wecom.customer_says(customer, "你好")
    await notify(channels_engine)
    answers = await fake_wecom.wait_for("send_msg", to(customer), count=3)
    assert "智能客服" in answers[2].params["text"]["content"]
    lines = await channels_engine.app[TRANSCRIPTS].read(f"wecom:{customer}")
    assert customer_lines(lines) == ["退款多久到账", "谢谢", "你好"]


async def test_enter_session_gets_the_welcome(channels_engine: TestClient, fake_wecom: FakeWecom) -> None:
    customer = user()
    fake_wecom.enters(customer)
    await notify(channels_engine)
    (welcome,) = await fake_wecom.wait_for("send_msg", to(customer))
    assert "智能客服" in welcome.params["text"]["content"]


async def test_service_states_follow_the_owner_and_the_session_ends_after_the_rating_prompt(
    channels_engine: TestClient, fake_wecom: FakeWecom
) -> None:
    customer = user()
    conversation = f"wecom:{customer}"
    fake_wecom.states[customer] = 1
    states = channels_engine.app[STATES]
    outbox = channels_engine.app[OUTBOX]
    await states.transition(conversation, Owner.QUEUED, actor="bot", reason="customer asked")
    await states.transition(conversation, Owner.AGENT, actor="agent:ann", reason="routed (team)")
    await outbox.idle()
    assert fake_wecom.states[customer] == 3
    assert fake_wecom.servicers[customer] == "zhangsan"
    await states.transition(conversation, Owner.CLOSED, actor="agent:ann", reason="closed by agent")
    text, buttons = csat.prompt("zh")
    await channels_engine.app[DELIVER](conversation, text, "", buttons)
    await outbox.idle()

    def mine(call: Call) -> bool:
        return customer in (call.params.get("external_userid"), call.params.get("touser"))

    trail = [
        ("trans", c.params["service_state"]) if c.method == "service_state/trans" else (c.method, None)
        for c in fake_wecom.calls
        if c.method in ("service_state/trans", "send_msg") and mine(c)
    ]
    assert trail == [("trans", 2), ("trans", 3), ("trans", 1), ("send_msg", None), ("trans", 4)]
    prompt = fake_wecom.of("send_msg", to(customer))[0].params
    assert prompt["msgtype"] == "msgmenu"
    assert [i["click"]["content"] for i in prompt["msgmenu"]["list"]] == [t for t, _ in buttons]
    # Three state changes and the prompt (which ends the session after it), all recorded as delivered.
    assert [r["status"] for r in await outbox.deliveries(conversation)] == ["delivered"] * 4


async def test_a_tap_on_a_menu_item_comes_back_as_its_payload(
    channels_engine: TestClient, fake_wecom: FakeWecom
) -> None:
    customer = user()
    conversation = f"wecom:{customer}"
    fake_wecom.customer_says(customer, "怎么申请退款")
    await notify(channels_engine)
    (menu,) = await fake_wecom.wait_for("send_msg", to(customer))
    assert menu.params["msgtype"] == "msgmenu"
    human = next(i["click"] for i in menu.params["msgmenu"]["list"] if "人工" in i["click"]["content"])
    fake_wecom.customer_says(customer, human["content"], menu_id=human["id"])
    await notify(channels_engine)
    await fake_wecom.wait_for("send_msg", to(customer), count=2)
    assert await channels_engine.app[STATES].get(conversation) is Owner.QUEUED


async def test_bad_callbacks_are_refused(channels_engine: TestClient) -> None:
    query, body = sealed("<xml><Event>kf_msg_or_event</Event></xml>")
    forged = {**query, "msg_signature": "f" * 40}
    assert (await channels_engine.post(WEBHOOK, params=forged, data=body)).status == 403
    stale_query, stale_body = sealed("<xml/>", timestamp=int(time.time()) - 3600)
    assert (await channels_engine.post(WEBHOOK, params=stale_query, data=stale_body)).status == 403
    assert (await channels_engine.post(WEBHOOK, params=query, data=b"<xml><Encrypt>")).status == 400
    assert (await channels_engine.post(WEBHOOK, params=query, data=b"<xml><A>1</A></xml>")).status == 400
    assert (await channels_engine.post(WEBHOOK, params=query, data=b"x" * (1024 * 1024))).status == 413
    assert (await channels_engine.post(WEBHOOK, params=query, data=body)).status == 200


async def test_send_msg_survives_a_stale_token_and_retries_5xx_then_fails_visibly(
    channels_engine: TestClient, fake_wecom: FakeWecom, monkeypatch: pytest.MonkeyPatch
) -> None:
    customer = user()
    conversation = f"wecom:{customer}"
    outbox = channels_engine.app[OUTBOX]
    monkeypatch.setattr(outbox, "delays", (0.01, 0.01, 0.01, 0.01))
    deliver = channels_engine.app[DELIVER]
    await deliver(conversation, "您好", "ann")
    await outbox.idle()
    fetches = len(fake_wecom.of("gettoken"))
    fake_wecom.valid_tokens.clear()  # the token expired (or another system fetched a new one)
    fake_wecom.fail_next("send_msg", 502, {"errcode": -1, "errmsg": "system busy"})
    await deliver(conversation, "请稍等", "ann")
    await outbox.idle()
    assert len(fake_wecom.of("gettoken")) == fetches + 1
    fake_wecom.fail_next("send_msg", 503, {"errcode": -1, "errmsg": "system busy"}, times=5)
    await deliver(conversation, "还在吗", "ann")
    await outbox.idle()
    records = await outbox.deliveries(conversation)
    assert [r["status"] for r in records] == ["delivered", "delivered", "failed"]
    lines = await channels_engine.app[TRANSCRIPTS].read(conversation)
    assert "未送达" in lines[-1].text
