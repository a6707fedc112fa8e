"""One row per conversation, built from the service events: the export supervisors open in a spreadsheet."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

from openpyxl import Workbook

from reports.events import Event, Kind


@dataclass
class ConversationRow:
    """What happened in one conversation (one opening of it) over the period."""

    conversation: str
    channel: str
    opened_at: str
    tier: str = ""
    customer_messages: int = 0
    bot_replies: int = 0
    kb_answered: int = 0
    kb_suggested: int = 0
    kb_escalated: int = 0
    handed_over: bool = False
    handoff_reason: str = ""
    team: str = ""
    agent: str = ""
    queue_wait_seconds: float | None = None
    first_response_seconds: float | None = None
    handling_seconds: float | None = None
    agent_replies: int = 0
    transfers: int = 0
    closed_by: str = ""
    rating: int | None = None
    complaints: int = 0
    recontact: bool = False
    _opened: bool = field(default=False, repr=False)


COLUMNS = [f.name for f in fields(ConversationRow) if not f.name.startswith("_")]


def mask(conversation: str) -> str:
    """Hide most of the platform's user id (``wechat:oA***yz``): rows stay apart, nobody is found."""
    channel, _, sender = conversation.partition(":")
    if len(sender) <= 4:
        return f"{channel}:{'*' * len(sender)}"
    return f"{channel}:{sender[:2]}***{sender[-2:]}"


def rows(events: Iterable[Event], zone: ZoneInfo) -> list[ConversationRow]:
    """Fold events (oldest first) into one row per opening of each conversation."""
    current: dict[str, ConversationRow] = {}
    done: list[ConversationRow] = []
    for e in events:
        if not e.conversation:
            continue  # an agent's presence: no conversation's row
        row = current.get(e.conversation)
        # The router reports a message (and the opening) after its turn, so a handoff in that turn is
        # recorded first: events before a row's opening belong to it; a second opening starts a new row.
        if row is None or (e.kind is Kind.OPENED and row._opened):
            if row is not None:
                done.append(row)
            row = current[e.conversation] = ConversationRow(
                e.conversation, e.channel, _when(e.at, zone), e.tier
            )
        if e.kind is Kind.OPENED and not row._opened:
            row._opened, row.opened_at = True, _when(e.at, zone)
        _fold(row, e)
    return sorted(done + list(current.values()), key=lambda r: (r.opened_at, r.conversation))


def _when(at: float, zone: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(at, zone).strftime("%Y-%m-%d %H:%M:%S")


def _fold(row: ConversationRow, e: Event) -> None:
    counters = {
        Kind.CUSTOMER_MESSAGE: "customer_messages",
        Kind.BOT_REPLY: "bot_replies",
        Kind.AGENT_REPLY: "agent_replies",
        Kind.TRANSFER: "transfers",
        Kind.COMPLAINT_OPENED: "complaints",
    }
    if e.kind in counters:
        setattr(row, counters[e.kind], getattr(row, counters[e.kind]) + 1)
    elif e.kind is Kind.KB_ANSWER:
        name = {"answer": "kb_answered", "suggest": "kb_suggested"}.get(e.detail, "kb_escalated")
        setattr(row, name, getattr(row, name) + 1)
    elif e.kind is Kind.HANDOFF:
        row.handed_over, row.handoff_reason, row.team = True, e.detail, e.team
    elif e.kind is Kind.ASSIGNED:
        row.agent, row.team, row.queue_wait_seconds = e.agent, e.team or row.team, e.value
    elif e.kind is Kind.AGENT_FIRST_REPLY and row.first_response_seconds is None:
        row.first_response_seconds = e.value
    elif e.kind is Kind.CLOSED:
        row.closed_by, row.handling_seconds = e.detail, e.value
    elif e.kind is Kind.RATING:
        row.rating = int(e.value or 0)
    elif e.kind is Kind.RECONTACT:
        row.recontact = True
    row.tier = row.tier or e.tier


def cells(row: ConversationRow, reveal: bool) -> list[object]:
    """Return a row's values in `COLUMNS` order, its user id masked unless ``reveal``."""
    values: list[object] = [getattr(row, name) for name in COLUMNS]
    if not reveal:
        values[0] = mask(row.conversation)
    return ["" if v is None else v for v in values]


def to_csv(header: Sequence[str], table: Iterable[Sequence[object]]) -> bytes:
    """Return a header and rows as CSV (UTF-8 with a BOM, so Excel opens Chinese text correctly)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(table)
    return ("\ufeff" + out.getvalue()).encode()


def to_xlsx(sheet_name: str, header: Sequence[str], table: Iterable[Sequence[object]]) -> bytes:
    """Return a header and rows as an .xlsx workbook of one sheet."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_name)
    sheet.append(list(header))
    for row in table:
        sheet.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
