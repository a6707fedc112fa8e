"""Masking personal data in free text: phone numbers, 身份证 numbers, bank cards and e-mail addresses.

Used wherever text leaves the conversation for people who do not need the data (log lines, the list
of unanswered questions). The patterns are narrow on purpose: a timestamp, a stream id or an order
number stays readable in a log, while a number that could reach a person is cut to its ends.
"""

from __future__ import annotations

import re

_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
# 身份证: 17 digits and a check digit or X (the old 15-digit form too).
_ID_CARD = re.compile(r"(?<![\dA-Za-z])(\d{17}[\dXx]|\d{15})(?![\dA-Za-z])")
# Mainland mobiles (optionally +86 / 86, optionally split 3-4-4), landlines with an area code, and
# international numbers written with a plus.
_PHONE = re.compile(
    r"(?<![\d+])(?:(?:\+|00)?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?!\d)"
    r"|(?<!\d)0\d{2,3}-\d{7,8}(?!\d)"
    r"|(?<![\d+])\+\d[\d -]{6,16}\d(?!\d)"
)
# Bank cards: 15-19 digits, possibly in groups of four, that pass the Luhn check.
_CARD = re.compile(r"(?<!\d)\d{4}(?:[ -]?\d{4}){2}[ -]?\d{3,7}(?!\d)")


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _keep_ends(text: str, head: int, tail: int) -> str:
    """Replace every digit (and X) but the first ``head`` and last ``tail`` with ``*``; keep separators."""
    positions = [i for i, ch in enumerate(text) if ch.isdigit() or ch in "Xx"]
    hidden = set(positions[head : len(positions) - tail])
    return "".join("*" if i in hidden else ch for i, ch in enumerate(text))


def _card(match: re.Match[str]) -> str:
    raw = match.group(0)
    digits = re.sub(r"\D", "", raw)
    if not 15 <= len(digits) <= 19 or not _luhn(digits):
        return raw
    return _keep_ends(raw, 0, 4)


def mask_personal(text: str) -> str:
    """Return ``text`` with phones, 身份证 numbers, bank cards and e-mail addresses masked."""
    if not text:
        return text
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = _CARD.sub(_card, text)
    text = _ID_CARD.sub(lambda m: _keep_ends(m.group(0), 3, 2), text)
    return _PHONE.sub(lambda m: _keep_ends(m.group(0), 3, 2), text)
