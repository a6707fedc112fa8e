"""The customer's sign-off: asked in their channel whether a resolved case is solved, and their answer.

The buttons carry the case number (``/case_solved TS000012``), so a replayed or late tap names its case
and changes nothing twice. Channels that show only text number the buttons; "1" / "2" (or the words)
answer the case the customer was last asked about.
"""

from __future__ import annotations

import logging
import re

from core.ports import Deliver
from core.transcript import Transcripts
from handoff.complaints.cases import Complaints
from handoff.complaints.models import Case, MoveRefused, Status

log = logging.getLogger(__name__)

_PAYLOAD = re.compile(r"^/case_(solved|unsolved)\s+(TS\d{6,})$")
# Only words that answer this question: a bare 是 / yes may answer some other question of the bot's.
_SOLVED = {"1", "已解决", "解决了", "已经解决", "solved", "itissolved"}
_UNSOLVED = {"2", "未解决", "没解决", "没有解决", "还没解决", "notsolved", "unsolved"}
_BUTTONS = {"zh": ("已解决", "未解决"), "en": ("Solved", "Not solved")}
_ASK = {
    "zh": "您的投诉（工单 {case}）已处理：{detail}\n请问问题解决了吗？",
    "en": "Your complaint (case {case}) has been handled: {detail}\nIs the problem solved?",
}
_CONFIRMED = {
    "zh": "感谢您的确认，工单 {case} 已关闭。",
    "en": "Thank you for confirming. Case {case} is closed.",
}
_REOPENED = {
    "zh": "抱歉问题还没有解决，工单 {case} 已重新打开，我们会尽快继续处理。",
    "en": "We are sorry it is not solved yet. Case {case} is open again and we are on it.",
}
_ALREADY = {
    "zh": "工单 {case} 已处理过您的答复（{status}），无需再次确认。",
    "en": "We already have your answer for case {case} ({status}); nothing more is needed.",
}
_STATUS_WORDS = {
    "zh": {
        "confirmed": "已确认",
        "reopened": "已重新打开",
        "closed_unconfirmed": "已关闭",
        "in_progress": "处理中",
    },
    "en": {
        "confirmed": "confirmed",
        "reopened": "reopened",
        "closed_unconfirmed": "closed",
        "in_progress": "in progress",
    },
}


def _lang(language: str) -> str:
    return "en" if language == "en" else "zh"


def parse(text: str, asked: str | None) -> tuple[str, bool] | None:
    """Return (case id, solved) when ``text`` answers a sign-off question, else None."""
    match = _PAYLOAD.match(text.strip())
    if match:
        return match.group(2), match.group(1) == "solved"
    if asked is None:
        return None
    word = re.sub(r"[\s。.!！,，]+", "", text).lower()
    if word in _SOLVED:
        return asked, True
    if word in _UNSOLVED:
        return asked, False
    return None


class Signoff:
    """Ask the customer to confirm a resolved case, and take their answer."""

    def __init__(self, cases: Complaints, deliver: Deliver, transcripts: Transcripts) -> None:
        """Ask through ``deliver``; what is asked is kept in the conversation's transcript."""
        self.cases = cases
        self._deliver = deliver
        self._transcripts = transcripts

    async def ask(self, case: Case, detail: str) -> None:
        """Ask the customer of a just-resolved case whether the problem is solved."""
        lang = _lang(case.language)
        text = _ASK[lang].format(case=case.id, detail=detail or "-")
        solved, unsolved = _BUTTONS[lang]
        buttons = [(solved, f"/case_solved {case.id}"), (unsolved, f"/case_unsolved {case.id}")]
        conversation = case.conversations[0]
        await self._deliver(conversation, text, "", buttons)
        await self._transcripts.append(conversation, "system", text)

    async def answer(self, conversation: str, text: str, asked: str | None) -> str | None:
        """Take the customer's answer and return the reply; None when ``text`` is no answer to a case."""
        parsed = parse(text, asked)
        if parsed is None:
            return None
        case_id, solved = parsed
        case = await self.cases.get(case_id)
        if case is None or conversation not in case.conversations:
            return None  # not this customer's case: an ordinary message for the bot
        lang = _lang(case.language)
        to = Status.CONFIRMED if solved else Status.REOPENED
        try:
            await self.cases.move(case_id, to, "customer", "" if solved else text[:200])
        except MoveRefused:
            current = await self.cases.get(case_id) or case
            status = _STATUS_WORDS[lang].get(current.status.value, current.status.value)
            return _ALREADY[lang].format(case=case_id, status=status)
        log.info("complaint answered by customer", extra={"case": case_id, "solved": solved})
        return (_CONFIRMED if solved else _REOPENED)[lang].format(case=case_id)

    async def close_silent(self, now: float | None = None, batch: int = 200) -> int:
        """Close, unconfirmed, every resolved case whose customer did not answer in time; return how many."""
        cases = self.cases
        moment = cases.clock() if now is None else now
        due = await cases.redis.zrangebyscore(cases.keys.awaiting, "-inf", moment, start=0, num=batch)
        closed = 0
        for case_id in due:
            try:
                await cases.move(case_id, Status.CLOSED_UNCONFIRMED, "system", "no answer from the customer")
            except (MoveRefused, KeyError):
                current = await cases.get(case_id)
                if current is None or current.status is not Status.RESOLVED:
                    await cases.redis.zrem(
                        cases.keys.awaiting, case_id
                    )  # answered meanwhile: no longer waits
            else:
                closed += 1
        return closed
