"""Tell waiting customers when their place in line or expected wait changes meaningfully.

What a customer was last told is kept on their ticket ("place:wait seconds:ms"); a compare-and-set makes
one instance tell it, however many sweep. A change is meaningful when they are next, when they moved
up by a third of their place (at least 3), or when the wait moved by 5 minutes and half of itself; and
never more often than once a minute, except for "you're next".
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

from core.language import detect_language
from handoff import notices
from handoff.queue import HandoffQueue, Position

MIN_INTERVAL_MS = 60_000
_NEXT = {"zh": "您是下一位，客服马上为您服务。", "en": "You're next; an agent will be with you shortly."}
_MOVED = {
    "zh": "排队更新：您现在排在第 {place} 位，预计等待约 {minutes} 分钟。",
    "en": "Queue update: you are now number {place}; expected wait about {minutes} min.",
}

# Sends a text with quick-reply buttons (title, payload) to a conversation's customer.
Tell = Callable[[str, str, Sequence[tuple[str, str]]], Awaitable[None]]


def encode(position: Position, now_ms: int) -> str:
    """Return the "told" record of a position."""
    return f"{position.position}:{round(position.expected_wait_seconds)}:{now_ms}"


def meaningful(told: str, now: Position, now_ms: int) -> bool:
    """Whether ``now`` differs enough from what the customer was ``told`` to tell them again."""
    place, wait, at = (int(x) for x in told.split(":"))
    if now.position == place:
        return False
    if now.position == 1:
        return True
    if now_ms - at < MIN_INTERVAL_MS:
        return False
    if place - now.position >= max(3, -(-place // 3)):
        return True
    change = abs(now.expected_wait_seconds - wait)
    return change >= 300 and change >= wait / 2


def notice(position: Position, first_message: str) -> str:
    """Return the update in the language of the customer's first message (Chinese unless English)."""
    lang = "en" if detect_language(first_message) == "en" else "zh"
    if position.position == 1:
        return _NEXT[lang]
    minutes = max(1, round(position.expected_wait_seconds / 60))
    return _MOVED[lang].format(place=position.position, minutes=minutes)


async def record(queue: HandoffQueue, conversation_id: str, position: Position) -> None:
    """Remember what the customer was told when they joined the queue."""
    await queue.set_told(conversation_id, "", encode(position, int(time.time() * 1000)))


async def tell_changes(
    queue: HandoffQueue,
    tell: Tell,
    now_ms: int | None = None,
    depth: int = 500,
    max_wait_seconds: float | None = None,
) -> int:
    """Tell every waiting customer (the first ``depth`` of each team) whose place changed meaningfully.

    Customers who have waited past ``max_wait_seconds`` are also offered, once, to leave a message.
    """
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    told_count = 0
    for team in sorted(await queue.teams()):
        rows = await queue.positions(team, depth)
        for (conversation_id, position), told in zip(
            rows, await queue.told([c for c, _ in rows]), strict=True
        ):
            long_wait = (
                max_wait_seconds is not None
                and not told.long_wait
                and now - told.enqueued_ms > max_wait_seconds * 1000
                and await queue.set_told(conversation_id, "", str(now), field="told_wait")
            )
            if not told.place:
                # Queued without being told (a transfer, say): this is the baseline from now on.
                await queue.set_told(conversation_id, "", encode(position, now))
                moved = False
            else:
                moved = meaningful(told.place, position, now) and await queue.set_told(
                    conversation_id, told.place, encode(position, now)
                )
            if not moved and not long_wait:
                continue  # nothing new, or another instance told them, or they were placed meanwhile
            ticket = await queue.ticket(conversation_id)
            first = ticket.first_message if ticket else ""
            language = "en" if detect_language(first) == "en" else "zh"
            lines = [notice(position, first)] if moved else []
            buttons: list[tuple[str, str]] = []
            if long_wait:
                lines.append(notices.long_wait(language))
                buttons.append(notices.leave_button(language))
            await tell(conversation_id, "\n".join(lines), buttons)
            told_count += 1
    return told_count
