"""The knowledge base's JSON API and the content-staff page (``/kb``), for the editor role."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

from aiohttp import web

from knowledge_base.entries import EntryError, parse_entry
from knowledge_base.formats import FORMATS, MAX_IMPORT_BYTES, ImportFailed, dump_bytes, load_bytes
from knowledge_base.index import locale_for
from knowledge_base.live import LiveKnowledgeBase
from knowledge_base.matcher import Thresholds
from knowledge_base.store import PublishRefused
from knowledge_base.usage import WINDOWS
from knowledge_base.web.bulk import bulk_operations
from staff.api import Operation, add_operations, read_json
from staff.errors import json_error

KNOWLEDGE = web.AppKey("knowledge", LiveKnowledgeBase)
WEB_DIR = Path(__file__).parent
_CONTENT_TYPES = {
    "yaml": "application/yaml",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _kb(request: web.Request) -> LiveKnowledgeBase:
    return request.app[KNOWLEDGE]


async def list_entries(request: web.Request) -> web.StreamResponse:
    """List draft entries, filtered by ``q`` (text), ``category`` and ``locale``."""
    entries = await _kb(request).store.draft_entries()
    q = request.query.get("q", "").strip().lower()
    category = request.query.get("category", "")
    locale = request.query.get("locale", "")
    out = [
        e.to_dict()
        for e in entries
        if (not category or e.category == category)
        and (not locale or e.locale == locale)
        and (not q or q in e.id.lower() or q in e.answer.lower() or any(q in x.lower() for x in e.questions))
    ]
    return web.json_response({"entries": out, "total": len(entries)})


async def save_entry(request: web.Request) -> web.StreamResponse:
    """Create or replace a draft entry (the body is one entry)."""
    body = await read_json(request)
    try:
        entry = parse_entry(body)
    except EntryError as exc:
        return json_error(400, str(exc))
    if "locale" in request.match_info and (
        request.match_info["locale"] != entry.locale or request.match_info["entry_id"] != entry.id
    ):
        return json_error(400, "the body's id and locale must match the URL")
    await _kb(request).store.save_entry(entry)
    return web.json_response(entry.to_dict())


async def get_entry(request: web.Request) -> web.StreamResponse:
    """Return one draft entry."""
    entry = await _kb(request).store.draft_entry(request.match_info["locale"], request.match_info["entry_id"])
    if entry is None:
        return json_error(404, "no such entry")
    return web.json_response(entry.to_dict())


async def delete_entry(request: web.Request) -> web.StreamResponse:
    """Delete one draft entry."""
    if not await _kb(request).store.delete_entry(
        request.match_info["locale"], request.match_info["entry_id"]
    ):
        return json_error(404, "no such entry")
    return web.json_response({"deleted": True})


async def test_question(request: web.Request) -> web.StreamResponse:
    """Show what the bot would answer: band, answer and explanation, against the draft or live."""
    body = await read_json(request)
    if not isinstance(body, dict) or not str(body.get("question", "")).strip():
        return json_error(400, 'send {"question": ..., "locale": "zh-CN"|"en", "target": "draft"|"live"}')
    kb = _kb(request)
    locale = str(body.get("locale") or locale_for(body.get("language")))
    if body.get("target", "draft") == "live":
        live = kb.live
        if live is None:
            return json_error(409, "nothing is published yet")
        index, version = live.index, live.version
    else:
        try:
            index, version = await kb.draft_index(), None
        except ValueError as exc:
            return json_error(409, str(exc))
    found = index.find(str(body["question"])[:2000], locale)
    if found is None:
        return json_error(409, f"no entries in {locale}")
    entry = found.entry
    return web.json_response(
        {
            "version": version,
            "band": found.decision.band.value,
            "answer": entry.answer if entry else None,
            "entry_id": found.decision.entry_id,
            "suggestions": [e.question for e in found.entries[:3]]
            if found.decision.band.value == "suggest"
            else [],
            "explanation": found.decision.explain(),
        }
    )


async def publish(request: web.Request) -> web.StreamResponse:
    """Publish the draft to customers (409 with a report if golden questions break, unless forced)."""
    body = await read_json(request)
    body = body if isinstance(body, dict) else {}
    session = request["session"]
    try:
        snapshot = await _kb(request).publish(
            session.username, str(body.get("message") or "")[:500], force=bool(body.get("force"))
        )
    except PublishRefused as exc:
        return json_error(409, str(exc), report=exc.report)
    except ValueError as exc:
        return json_error(409, str(exc))
    return web.json_response(snapshot.meta())


async def versions(request: web.Request) -> web.StreamResponse:
    """List published versions, newest first, and which one is live."""
    kb = _kb(request)
    return web.json_response({"live": await kb.store.live_version(), "versions": await kb.store.versions()})


async def version_detail(request: web.Request) -> web.StreamResponse:
    """Return one version with its entries."""
    try:
        number = int(request.match_info["version"])
    except ValueError:
        return json_error(400, "versions are numbers")
    snapshot = await _kb(request).store.snapshot(number)
    if snapshot is None:
        return json_error(404, "no such version")
    return web.json_response({**snapshot.meta(), "entries": [e.to_dict() for e in snapshot.entries]})


async def diff(request: web.Request) -> web.StreamResponse:
    """Diff version ``from`` against version ``to`` (default: the draft)."""
    try:
        old = int(request.query["from"])
        new = int(request.query["to"]) if request.query.get("to") else None
        return web.json_response(await _kb(request).diff(old, new))
    except (KeyError, ValueError):
        return json_error(400, "give ?from=N and optionally &to=M (published version numbers)")
    except LookupError:
        return json_error(404, "no such version")


async def rollback(request: web.Request) -> web.StreamResponse:
    """Make an old version live again (as a new version) and reset the draft to it."""
    body = await read_json(request)
    try:
        version = int(body["version"])
    except (KeyError, TypeError, ValueError):
        return json_error(400, 'send {"version": N}')
    try:
        snapshot = await _kb(request).rollback(version, request["session"].username)
    except KeyError:
        return json_error(404, "no such version")
    return web.json_response(snapshot.meta())


async def get_golden(request: web.Request) -> web.StreamResponse:
    """List golden questions."""
    return web.json_response({"golden": await _kb(request).store.golden()})


async def put_golden(request: web.Request) -> web.StreamResponse:
    """Replace golden questions: [{text, expected (entry id or "escalate"), locale}]."""
    body = await read_json(request)
    try:
        items = await _kb(request).store.set_golden(body.get("golden") if isinstance(body, dict) else body)
    except EntryError as exc:
        return json_error(400, str(exc))
    return web.json_response({"golden": items})


async def calibrate(request: web.Request) -> web.StreamResponse:
    """Choose both thresholds on the golden questions of a locale; used by the next publish."""
    body = await read_json(request)
    body = body if isinstance(body, dict) else {}
    targets: dict[str, float] = {}
    for name in ("oos_recall_floor", "recall_weight", "precision_target"):
        value = body.get(name)
        if name not in body:
            continue
        # JSON numbers only (found by schemathesis: an object here answered 500).
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return json_error(400, f"{name} must be a number")
        targets[name] = float(value)
    try:
        result = await _kb(request).calibrate(str(body.get("locale") or "zh-CN"), **targets)
    except ValueError as exc:
        return json_error(409, str(exc))
    return web.json_response(
        {
            "thresholds": {"answer": result.thresholds.answer, "suggest": result.thresholds.suggest},
            "in_scope_accuracy": result.in_scope_accuracy,
            "oos_recall": result.oos_recall,
            "auto_answer_precision": result.auto_answer_precision,
            "questions": result.questions,
        }
    )


async def put_thresholds(request: web.Request) -> web.StreamResponse:
    """Set both thresholds by hand for the next publish."""
    body = await read_json(request)
    try:
        thresholds = Thresholds(answer=float(body["answer"]), suggest=float(body["suggest"]))
    except (KeyError, TypeError, ValueError) as exc:
        return json_error(400, f'send {{"answer": x, "suggest": y}} with answer >= suggest ({exc})')
    await _kb(request).store.set_thresholds(thresholds)
    return web.json_response({"answer": thresholds.answer, "suggest": thresholds.suggest})


async def get_synonyms(request: web.Request) -> web.StreamResponse:
    """Return synonym groups: word → variants that mean it."""
    return web.json_response({"synonyms": await _kb(request).store.synonyms()})


async def put_synonyms(request: web.Request) -> web.StreamResponse:
    """Replace synonym groups (used from the next publish)."""
    body = await read_json(request)
    try:
        synonyms = await _kb(request).store.set_synonyms(
            body.get("synonyms") if isinstance(body, dict) else body
        )
    except EntryError as exc:
        return json_error(400, str(exc))
    return web.json_response({"synonyms": synonyms})


async def inbox(request: web.Request) -> web.StreamResponse:
    """List unanswered questions, most frequent first."""
    return web.json_response({"inbox": await _kb(request).store.inbox()})


async def usage(request: web.Request) -> web.StreamResponse:
    """How often the bot answered with, suggested, or escalated near each entry (last 7 and 30 days)."""
    return web.json_response({"windows": list(WINDOWS), "usage": await _kb(request).usage.summary()})


async def dismiss(request: web.Request) -> web.StreamResponse:
    """Remove one question from the inbox."""
    body = await read_json(request)
    await _kb(request).store.dismiss(str(body.get("key", "")) if isinstance(body, dict) else "")
    return web.json_response({"ok": True})


async def import_entries(request: web.Request) -> web.StreamResponse:
    """Import a file into the draft (?format=yaml|jsonl|csv|xlsx&mode=replace|merge), all or nothing."""
    fmt = request.query.get("format", "")
    mode = request.query.get("mode", "merge")
    if fmt not in FORMATS or mode not in ("replace", "merge"):
        return json_error(400, f"format must be one of {', '.join(FORMATS)} and mode replace or merge")
    if request.content_length is not None and request.content_length > MAX_IMPORT_BYTES:
        return json_error(413, f"files up to {MAX_IMPORT_BYTES} bytes")
    data = await request.content.read(MAX_IMPORT_BYTES + 1)
    if len(data) > MAX_IMPORT_BYTES:
        return json_error(413, f"files up to {MAX_IMPORT_BYTES} bytes")
    try:
        # Parsing up to 10 MB (an xlsx above all) takes long enough to stall every webhook: off the loop.
        entries = await asyncio.to_thread(load_bytes, data, fmt)
    except ImportFailed as exc:
        return json_error(400, "nothing was imported", errors=exc.errors)
    store = _kb(request).store
    if mode == "replace":
        await store.replace_drafts(entries)
    else:
        await store.merge_drafts(entries)
    return web.json_response({"imported": len(entries), "mode": mode})


async def export_entries(request: web.Request) -> web.StreamResponse:
    """Download the draft (or ?version=N) as yaml, jsonl, csv or xlsx."""
    fmt = request.query.get("format", "yaml")
    if fmt not in FORMATS:
        return json_error(400, f"format must be one of {', '.join(FORMATS)}")
    kb = _kb(request)
    if request.query.get("version"):
        try:
            number = int(request.query["version"])
        except ValueError:
            return json_error(400, "version is a published version number")
        snapshot = await kb.store.snapshot(number)
        if snapshot is None:
            return json_error(404, "no such version")
        entries = list(snapshot.entries)
    else:
        entries = await kb.store.draft_entries()
    return web.Response(
        body=await asyncio.to_thread(dump_bytes, entries, fmt),
        content_type=_CONTENT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="faq.{fmt}"'},
    )


def operations() -> list[Operation]:
    """Return every knowledge-base API operation, the single source for routes and OpenAPI."""
    op = Operation
    return [
        op("GET", "/api/kb/entries", list_entries, "List and filter draft entries."),
        op("POST", "/api/kb/entries", save_entry, "Create or replace a draft entry.", body="Entry"),
        *bulk_operations(_kb),
        op("GET", "/api/kb/entries/{locale}/{entry_id}", get_entry, "One draft entry."),
        op("PUT", "/api/kb/entries/{locale}/{entry_id}", save_entry, "Replace a draft entry.", body="Entry"),
        op("DELETE", "/api/kb/entries/{locale}/{entry_id}", delete_entry, "Delete a draft entry."),
        op("POST", "/api/kb/test", test_question, "What would the bot answer (band, why).", body="Test"),
        op(
            "POST",
            "/api/kb/publish",
            publish,
            "Publish (golden-checked).",
            body="Publish",
            audit="kb_published",
        ),
        op("GET", "/api/kb/versions", versions, "Published versions."),
        op("GET", "/api/kb/versions/{version}", version_detail, "One published version."),
        op("GET", "/api/kb/diff", diff, "Diff two versions (or a version and the draft)."),
        op("POST", "/api/kb/rollback", rollback, "Roll back.", body="Rollback", audit="kb_rolled_back"),
        op("GET", "/api/kb/golden", get_golden, "Golden questions."),
        op("PUT", "/api/kb/golden", put_golden, "Replace golden questions.", body="Golden"),
        op(
            "POST",
            "/api/kb/calibrate",
            calibrate,
            "Calibrate thresholds on golden questions.",
            body="Calibrate",
        ),
        op(
            "PUT",
            "/api/kb/thresholds",
            put_thresholds,
            "Set thresholds by hand.",
            body="Thresholds",
            audit="kb_thresholds_changed",
        ),
        op("GET", "/api/kb/synonyms", get_synonyms, "Synonym groups."),
        op("PUT", "/api/kb/synonyms", put_synonyms, "Replace synonym groups.", body="Synonyms"),
        op("GET", "/api/kb/inbox", inbox, "Unanswered questions.", audit="kb_inbox_viewed"),
        op("GET", "/api/kb/usage", usage, "Per-entry answers, suggestions, escalations (7/30 days)."),
        op("POST", "/api/kb/inbox/dismiss", dismiss, "Dismiss an inbox question.", body="Dismiss"),
        op(
            "POST",
            "/api/kb/import",
            import_entries,
            "Import into the draft.",
            body="File",
            audit="kb_imported",
        ),
        op("GET", "/api/kb/export", export_entries, "Export the draft or a version.", audit="kb_exported"),
    ]


def register(app: web.Application) -> None:
    """Add the knowledge-base editor page and its API routes to ``app``."""
    add_operations(app, operations())

    async def page(request: web.Request) -> web.FileResponse:
        return web.FileResponse(WEB_DIR / "kb.html")

    app.router.add_get("/kb", page)
    app.router.add_static("/kb/static/", WEB_DIR / "static", show_index=False)
