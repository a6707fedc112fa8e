"""What the customer is told about the human queue, in their language (Chinese unless English)."""

from __future__ import annotations

import datetime as dt

from handoff.complaints import Case
from handoff.queue import Position

# The payload of the "leave a message" button; typing the word works too.
LEAVE_PAYLOAD = "/leave_message"
_LEAVE_WORDS = {LEAVE_PAYLOAD, "留言", "我要留言", "leave a message"}
# Ending a chat with an agent: whole messages only, so "怎么结束会员自动续费" never ends anything.
END_PAYLOAD = "/end_chat"
_END_WORDS = {
    END_PAYLOAD,
    "结束会话",
    "结束对话",
    "结束聊天",
    "结束咨询",
    "end chat",
    "end the chat",
    "end this chat",
}
_LEAVE_BUTTON = {"zh": "留言", "en": "Leave a message"}
_CLOSED = {
    "zh": "现在是非工作时间，人工客服{when}上班。请直接留言，我们上班后第一时间回复您。",
    "en": "Our agents are away right now{when}. Leave a message here and we will reply first thing.",
}
_ASK = {
    "zh": "请直接输入您的留言，客服会尽快回复您。",
    "en": "Please type your message; an agent will reply as soon as possible.",
}
_LEFT = {
    "zh": "已收到您的留言，客服会尽快回复您。",
    "en": "Thank you, we have your message; an agent will reply as soon as possible.",
}
_LONG_WAIT = {
    "zh": "等待时间较长，您也可以点「留言」留下问题，客服会尽快回复您。",
    "en": "The wait is long; you can also leave a message and an agent will reply.",
}
_WEEKDAYS = {"zh": "一二三四五六日", "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}

_QUEUED = {
    "zh": "正在为您转接人工客服，请稍候，客服会尽快回复您。",
    "en": "I'm connecting you to a human agent. Please stay in this chat; someone will reply shortly.",
}
_KB_GAVE_UP = {
    "zh": "抱歉，这个问题我还是没能回答。我为您转接人工客服。",
    "en": "Sorry, I still can't answer that. Let me get you a human agent.",
}


def _duration(seconds: float, lang: str) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 120:
        return f"{minutes} min" if lang == "en" else f"{minutes} 分钟"
    hours = round(minutes / 60)
    return f"{hours} h" if lang == "en" else f"{hours} 小时"


def complaint_opened(case: Case, language: str | None) -> str:
    """Return the case number and the promised handling times, told when a complaint is recorded."""
    lang = _lang(language)
    respond = _duration(case.respond_by - case.opened_at, lang)
    resolve = _duration(case.resolve_by - case.opened_at, lang)
    if lang == "en":
        return (
            f"Your complaint is recorded as case {case.id}. We will contact you within {respond} "
            f"and resolve it within {resolve}."
        )
    return f"已为您登记投诉，工单号 {case.id}。我们会在 {respond} 内联系您，{resolve} 内处理完毕。"


def rated_low(case: Case, language: str | None) -> str:
    """Return the apology and case number told after a 不满意 / 非常不满意 rating."""
    respond = _duration(case.respond_by - case.opened_at, _lang(language))
    if _lang(language) == "en":
        return f"We are sorry we let you down. Case {case.id} is open; we will contact you within {respond}."
    return f"很抱歉没能让您满意，已为您登记工单 {case.id}，我们会在 {respond} 内联系您。"


def _lang(language: str | None) -> str:
    return "en" if language == "en" else "zh"


def queued(language: str | None) -> str:
    """Return the notice that the customer is now waiting for a human."""
    return _QUEUED[_lang(language)]


def kb_gave_up(language: str | None) -> str:
    """Return the apology the bot gives when it hands over after failing to answer again."""
    return _KB_GAVE_UP[_lang(language)]


def position_line(place: Position | None, language: str | None) -> str | None:
    """Return the place in line and the expected wait, or None when nobody is ahead to count."""
    if place is None or place.position <= 0:
        return None
    minutes = max(1, round(place.expected_wait_seconds / 60))
    if _lang(language) == "en":
        return f"You are number {place.position} in the queue; expected wait about {minutes} min."
    return f"您当前排在第 {place.position} 位，预计等待约 {minutes} 分钟。"


def closed(next_open: dt.datetime | None, language: str | None) -> str:
    """Return the out-of-hours notice, with when the team opens next when known."""
    lang = _lang(language)
    when = ""
    if next_open is not None:
        clock = next_open.strftime("%H:%M")
        if lang == "en":
            when = f" (back {_WEEKDAYS['en'][next_open.weekday()]} {next_open.month}/{next_open.day} {clock})"
        else:
            when = (
                f"将于{next_open.month}月{next_open.day}日（周{_WEEKDAYS['zh'][next_open.weekday()]}）{clock}"
            )
    return _CLOSED[lang].format(when=when)


def leave_button(language: str | None) -> tuple[str, str]:
    """Return the "leave a message" button (title, payload)."""
    return _LEAVE_BUTTON[_lang(language)], LEAVE_PAYLOAD


def long_wait(language: str | None) -> str:
    """Return the line that offers leaving a message instead of a long wait."""
    return _LONG_WAIT[_lang(language)]


def is_leave_request(text: str) -> bool:
    """Whether the customer asks to leave a message (the button's payload or the word)."""
    return text.strip().lower() in _LEAVE_WORDS


def is_end_request(text: str) -> bool:
    """Whether the customer asks to end the chat with the agent (the payload or the words, alone)."""
    return text.strip().strip("。.!！").lower() in _END_WORDS


def ask_message(language: str | None) -> str:
    """Return the request to type the message."""
    return _ASK[_lang(language)]


def message_left(language: str | None) -> str:
    """Return the confirmation that the message was stored."""
    return _LEFT[_lang(language)]
