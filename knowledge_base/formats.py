"""Import and export of FAQ entries: YAML, JSONL, CSV and XLSX, all or nothing, errors by line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import openpyxl
import yaml

from knowledge_base.entries import EntryError, FaqEntry, parse_entry

MAX_IMPORT_BYTES = 10 * 1024 * 1024
FORMATS = ("yaml", "jsonl", "csv", "xlsx")
# Spreadsheet columns; list cells hold several values separated by newlines or "|".
COLUMNS = (
    "id",
    "locale",
    "category",
    "tags",
    "question",
    "alternatives",
    "answer",
    "enabled",
    "valid_from",
    "valid_until",
    "image_url",
    "answer_threshold",
    "suggest_threshold",
)
_LIST_COLUMNS = {"tags", "alternatives"}


class ImportFailed(ValueError):
    """An import refused as a whole, with one message per bad line."""

    def __init__(self, errors: Sequence[str]) -> None:
        """Keep every line's error so staff can fix the file in one pass."""
        super().__init__(
            "; ".join(errors[:20]) + (f" (+{len(errors) - 20} more)" if len(errors) > 20 else "")
        )
        self.errors = list(errors)


def _collect(rows: Iterable[tuple[int, Any]], unit: str = "line") -> list[FaqEntry]:
    entries: list[FaqEntry] = []
    errors: list[str] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in rows:
        if isinstance(raw, _Broken):
            errors.append(f"{unit} {number}: {raw.reason}")
            continue
        try:
            entry = parse_entry(raw)
        except EntryError as exc:
            errors.append(f"{unit} {number}: {exc}")
            continue
        key = (entry.locale, entry.id)
        if key in seen:
            errors.append(f"{unit} {number}: entry {entry.id} ({entry.locale}) repeats {unit} {seen[key]}")
            continue
        seen[key] = number
        entries.append(entry)
    if errors:
        raise ImportFailed(errors)
    return entries


def _check_size(data: bytes) -> None:
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFailed([f"the file is {len(data)} bytes; the limit is {MAX_IMPORT_BYTES}"])


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")  # Excel writes a BOM in front of UTF-8 CSV
    except UnicodeDecodeError:
        raise ImportFailed(["the file is not UTF-8 text"]) from None


def _jsonl_rows(text: str) -> Iterator[tuple[int, Any]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, _Broken(f"not valid JSON ({exc.msg})")


class _Broken(dict[str, Any]):
    """A row that could not even be read; parse_entry refuses it with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


def _table_rows(
    header: Sequence[Any], rows: Iterable[tuple[int, Sequence[Any]]]
) -> Iterator[tuple[int, Any]]:
    names = [str(h or "").strip().lower() for h in header]
    if "id" not in names or ("question" not in names and "questions" not in names):
        raise ImportFailed(["line 1: the header needs at least the columns id, question and answer"])
    for number, values in rows:
        if not any(v not in (None, "") for v in values):
            continue
        record = {name: value for name, value in zip(names, values, strict=False) if name}
        yield number, record


def load_bytes(data: bytes, fmt: str) -> list[FaqEntry]:
    """Parse a whole file; raise ImportFailed listing every bad line, so nothing is half-imported."""
    _check_size(data)
    if fmt == "jsonl":
        rows: Iterable[tuple[int, Any]] = _jsonl_rows(_decode(data))
        return _collect(rows)
    if fmt == "yaml":
        try:
            document = yaml.safe_load(_decode(data)) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}: " if mark is not None else ""
            raise ImportFailed([f"{where}not valid YAML"]) from None
        items = document.get("entries", []) if isinstance(document, Mapping) else document
        if not isinstance(items, list):
            raise ImportFailed(["the YAML file needs a list of entries under 'entries'"])
        return _collect(((i, item) for i, item in enumerate(items, start=1)), unit="entry")
    if fmt == "csv":
        reader = csv.reader(io.StringIO(_decode(data), newline=""))
        try:
            table = list(reader)
        except csv.Error as exc:
            raise ImportFailed([f"line {reader.line_num}: {exc}"]) from None
        if not table:
            raise ImportFailed(["the file is empty"])
        return _collect(_table_rows(table[0], ((i, row) for i, row in enumerate(table[1:], start=2))))
    if fmt == "xlsx":
        try:
            book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        except Exception:  # openpyxl raises many unrelated types for a broken archive
            raise ImportFailed(["the file is not a readable .xlsx workbook"]) from None
        sheet = book.worksheets[0]
        values = list(sheet.iter_rows(values_only=True))
        book.close()
        if not values:
            raise ImportFailed(["the sheet is empty"])
        rows = _table_rows(values[0], ((i, row) for i, row in enumerate(values[1:], start=2)))
        return _collect(rows, unit="row")
    raise ImportFailed([f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}"])


def _cell(entry: FaqEntry, column: str) -> Any:
    data = entry.to_dict()
    value = data.get(column, "")
    if column in _LIST_COLUMNS:
        return "\n".join(value)
    if value is None:
        return ""
    return value


def dump_bytes(entries: Sequence[FaqEntry], fmt: str) -> bytes:
    """Serialise entries in ``fmt``; YAML and JSONL keep every field, CSV/XLSX the spreadsheet columns."""
    if fmt == "jsonl":
        lines = []
        for entry in entries:
            data = entry.to_dict()
            # The neutral format's shape first, so files from ../shared/data round-trip.
            neutral = {"id": entry.id, "questions": list(entry.questions), "answer": entry.answer}
            neutral.update({k: v for k, v in data.items() if k not in {"question", "alternatives"}})
            lines.append(json.dumps(neutral, ensure_ascii=False))
        return ("\n".join(lines) + "\n").encode()
    if fmt == "yaml":
        document = {"entries": [e.to_dict() for e in entries]}
        return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode()
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(COLUMNS)
        for entry in entries:
            writer.writerow([_cell(entry, c) for c in COLUMNS])
        return ("\ufeff" + out.getvalue()).encode()  # BOM so Excel opens it as UTF-8
    if fmt == "xlsx":
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.title = "faq"
        sheet.append(list(COLUMNS))
        for entry in entries:
            sheet.append([_cell(entry, c) for c in COLUMNS])
        buffer = io.BytesIO()
        book.save(buffer)
        return buffer.getvalue()
    raise ValueError(f"unknown format {fmt!r}")
