"""Reading a rating reply: labels in either language, and the numbers a text-only channel shows."""

from __future__ import annotations

from core.messages import Button, Outbound
from handoff import csat


def test_a_number_is_the_place_in_the_list_the_customer_was_shown() -> None:
    text, buttons = csat.prompt("zh")
    shown = Outbound("c", text, tuple(Button(t, p) for t, p in buttons)).plain_text()
    assert "1. 非常满意" in shown
    assert "5. 非常不满意" in shown
    assert csat.parse("1") == 5, "1 is 非常满意 in the list the customer read"
    assert csat.parse("5") == 1
    assert csat.parse(" 非常满意！") == 5
    assert csat.parse("Dissatisfied") == 2
    assert csat.parse("6") is None
    assert csat.parse("还行吧") is None
