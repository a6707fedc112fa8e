"""Language detection per message."""

from __future__ import annotations

import pytest

from core.language import detect_language, detect_language_or


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("你好", "zh"),
        ("我的iPhone订单到哪了", "zh"),
        ("退款多久到账？", "zh"),
        ("ｈｅｌｌｏ", "en"),  # full-width Latin letters
        ("where is my order", "en"),
        ("Hi, can you help?", "en"),
        ("ok", None),
        ("OK!", None),
        ("3q", None),
        ("hello", "en"),
        ("88", None),
        ("12345", None),
        ("？？？", None),
        ("👍", None),
    ],
)
def test_detect_language(text: str, language: str | None) -> None:
    assert detect_language(text) == language


def test_undetectable_message_keeps_previous_language() -> None:
    assert detect_language_or("ok", "en") == "en"
    assert detect_language_or("ok", None) == "zh"
    assert detect_language_or("hello world", "zh") == "en"
