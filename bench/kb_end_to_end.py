"""The knowledge base through the whole engine, as a content team uses it, beside the matcher alone.

    .venv/bin/python -m bench.kb_end_to_end [--data ../shared/data/faq] [--sets lcqmc_faq,clinc150]
                                            [--customers 8] [--limit N]

For each public FAQ set: start the engine (``python -m bot serve`` on ``REDIS_URL``, its own key
prefix), import the set as the live KB (the answers name their entry: ``[answer of <id>]``), then for
each of two folds of the dev half (a stable hash): store the *other* fold as golden questions,
calibrate and publish as content staff do (``kb calibrate``, then a publish), wait until the engine
answers from that version, and ask this fold's questions through the REST channel, each from a new
customer. Every query is asked once, with thresholds it was not tuned on. Printed per set:

* in scope: answered with the right entry / right entry suggested first / answered wrong / neither;
* out of scope: answered (wrong) / not answered;
* queued for a human without being asked (the conversation's owner after the turn);
* beside them, the matcher alone (``knowledge_base.bench.evaluate``) on the same fold and thresholds:
  right entry, not escalated. The target: engine (answered right + suggested first) within 0.02 of it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.kb_sets import fold_of
from bench.load_rest import free_port, wait_ready
from bot.dialogue.training import ensure_model
from bot.logging_setup import quiet_rasa_structlog
from bot.settings import PROJECT_ROOT, Settings
from bot.wiring import build_services
from core.keys import Keys
from core.redis import AsyncRedis, async_client
from core.state import Owner
from knowledge_base.bench import evaluate, read_queries
from knowledge_base.calibrate import Labelled
from knowledge_base.formats import load_bytes
from knowledge_base.live import LiveKnowledgeBase

SETS = ("lcqmc_faq", "clinc150", "banking77_oos", "bq_faq", "clinc150_10shot")
ENGLISH = {"clinc150", "clinc150_10shot", "banking77_oos"}
TAG = re.compile(r"\[answer of ([^\]]+)\]")
FOLDS = 2


def kb_file(source: Path, locale: str, into: Path) -> Path:
    """Write the set's KB with its locale, as a content team's import file would carry it."""
    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        if line.strip():
            lines.append(json.dumps({**json.loads(line), "locale": locale}, ensure_ascii=False))
    into.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return into


async def ask(
    session: aiohttp.ClientSession, url: str, text: str, redis: Any, keys: Keys
) -> tuple[list[dict[str, Any]], str]:
    """Ask ``text`` as a new customer; return the replies and the conversation's owner afterwards."""
    sender = f"e2e{uuid.uuid4().hex[:12]}"
    for attempt in range(3):
        async with session.post(url, json={"sender": sender, "message": text}) as response:
            if response.status == 200:
                replies = await response.json()
                break
        await asyncio.sleep(1 + attempt)
    else:
        raise RuntimeError(f"engine answered {response.status} three times")
    owner = await redis.hget(keys.conversation_state(f"rest:{sender}"), "owner")
    return replies, str(owner or Owner.BOT.value)


def outcome(query: Labelled, replies: Sequence[dict[str, Any]], owner: str, first_q: dict[str, str]) -> str:
    """Classify one answered query."""
    if owner != Owner.BOT.value:
        return "queued"  # queued, or already with an agent: either way a human's time
    answered = [m.group(1) for r in replies for m in TAG.finditer(str(r.get("text") or ""))]
    if answered:
        return "answered_right" if answered[0] == query.expected else "answered_wrong"
    buttons = [b for r in replies for b in (r.get("buttons") or [])]
    suggested = [first_q.get(str(b.get("payload") or "")) for b in buttons]
    suggested = [s for s in suggested if s]
    if suggested:
        return "suggested_right_first" if suggested[0] == query.expected else "suggested_other"
    return "neither"


async def wait_version(session: aiohttp.ClientSession, url: str, probe: str, expected: str) -> None:
    """Wait until the engine answers ``probe`` from the freshly published version."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        async with session.post(url, json={"sender": f"probe{uuid.uuid4().hex[:8]}", "message": probe}) as r:
            body = await r.text()
        if f"[answer of {expected}]" in body:
            return
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the engine did not pick up the published KB within 120 s: {probe!r} -> {body}")


@contextmanager
def engine_process(redis_url: str, prefix: str, model: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``python -m bot serve`` on its own port and key prefix; yield its REST URL and process."""
    port = free_port()
    env = {**os.environ, "REDIS_URL": redis_url, "REDIS_PREFIX": prefix, "LOG_LEVEL": "WARNING"}
    env.update(MODEL_DIR=str(model.parent), RASA_TELEMETRY_ENABLED="false")
    engine = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--no-train", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield f"http://127.0.0.1:{port}/webhooks/rest/webhook", engine
    finally:
        engine.terminate()
        try:
            engine.wait(timeout=30)
        except subprocess.TimeoutExpired:
            engine.kill()


@dataclass
class Run:
    """One set's run: the engine's URL, the staff-side services and what has been counted."""

    url: str
    kb: LiveKnowledgeBase
    redis: AsyncRedis
    keys: Keys
    locale: str
    first_question: dict[str, str]
    customers: int
    counts: Counter[str] = field(default_factory=Counter)
    matcher: Counter[str] = field(default_factory=Counter)


async def run_fold(
    run: Run, session: aiohttp.ClientSession, asked: list[Labelled], golden: list[Labelled]
) -> str:
    """Calibrate and publish on ``golden``, then ask ``asked`` through the engine and the matcher alone."""
    kb = run.kb
    await kb.store.set_golden(
        [
            {"text": q.text, "expected": "escalate" if q.out_of_scope else q.expected, "locale": run.locale}
            for q in golden
        ]
    )
    calibration = await kb.calibrate(run.locale)
    await kb.publish("bench", "calibrated fold", force=True)
    live = kb.live
    assert live is not None
    probe, probe_id = next(iter(run.first_question.items()))
    await wait_version(session, run.url, probe, probe_id)
    alone = evaluate(live.index, asked, run.locale)
    n_in = sum(not q.out_of_scope for q in asked)
    run.matcher.update(
        in_scope=n_in,
        right=round((alone["in_scope_accuracy"] or 0) * n_in),
        oos=len(asked) - n_in,
        oos_escalated=round((alone["oos_recall"] or 0) * (len(asked) - n_in)),
    )
    gate = asyncio.Semaphore(run.customers)

    async def one(q: Labelled) -> None:
        async with gate:
            replies, owner = await ask(session, run.url, q.text, run.redis, run.keys)
        kind = outcome(q, replies, owner, run.first_question)
        run.counts[("oos:" if q.out_of_scope else "in:") + kind] += 1

    started = time.perf_counter()
    await asyncio.gather(*(one(q) for q in asked))
    t = calibration.thresholds
    took = time.perf_counter() - started
    return f"{len(asked)} asked in {took:.0f} s, answer >= {t.answer:.3f}, suggest >= {t.suggest:.3f}"


async def run_set(root: Path, name: str, args: argparse.Namespace, model: Path) -> dict[str, Any]:
    """Run one set through a fresh engine; return its figures."""
    locale = "en" if name in ENGLISH else "zh-CN"
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = "e2e" + uuid.uuid4().hex[:8]
    client = async_client(redis_url)
    kb = build_services(
        client, Settings.from_env({"REDIS_URL": redis_url, "REDIS_PREFIX": prefix}), seed_file=None
    ).knowledge
    # Two banking77_oos lines have no text: nobody can send an empty message, so they are not asked.
    dev = [q for q in read_queries(root / name / "dev.tsv") if q.text.strip()][: args.limit or None]
    with tempfile.TemporaryDirectory() as tmp:
        entries = load_bytes(
            kb_file(root / name / "kb.jsonl", locale, Path(tmp) / "kb.jsonl").read_bytes(), "jsonl"
        )
    try:
        with engine_process(redis_url, prefix, model) as (url, engine):
            # The engine seeds its built-in FAQ into an empty store first; the import replaces it.
            await wait_ready(url, engine)
            await kb.store.replace_drafts(entries)
            await kb.start()
            first = {e.question: e.id for e in entries}
            run = Run(url, kb, client, Keys(prefix), locale, first, args.customers)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
                for fold in range(FOLDS):
                    asked = [q for q in dev if fold_of(q.text, FOLDS) == fold]
                    golden = [q for q in dev if fold_of(q.text, FOLDS) != fold]
                    print(f"  {name} fold {fold}: {await run_fold(run, session, asked, golden)}", flush=True)
    finally:
        await kb.stop()
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
        await client.close()
    return figures(name, run.counts, run.matcher)


def figures(name: str, counts: Counter[str], matcher: Counter[str]) -> dict[str, Any]:
    """Turn the counts into shares."""
    n_in = sum(v for k, v in counts.items() if k.startswith("in:"))
    n_oos = sum(v for k, v in counts.items() if k.startswith("oos:"))
    total = n_in + n_oos

    def share(key: str, of: int) -> float:
        return round(counts[key] / of, 3) if of else 0.0

    engine_right = (counts["in:answered_right"] + counts["in:suggested_right_first"]) / n_in if n_in else 0.0
    alone = matcher["right"] / matcher["in_scope"] if matcher["in_scope"] else 0.0
    return {
        "set": name,
        "in_scope": n_in,
        "oos": n_oos,
        "matcher_right": round(alone, 3),
        "engine_right_or_first": round(engine_right, 3),
        "answered_right": share("in:answered_right", n_in),
        "suggested_right_first": share("in:suggested_right_first", n_in),
        "answered_wrong": share("in:answered_wrong", n_in),
        "suggested_other": share("in:suggested_other", n_in),
        "neither": share("in:neither", n_in),
        "oos_answered": share("oos:answered_wrong", n_oos),
        "matcher_oos_recall": round(matcher["oos_escalated"] / matcher["oos"], 3) if matcher["oos"] else None,
        "queued": round((counts["in:queued"] + counts["oos:queued"]) / total, 4) if total else 0.0,
    }


async def main_async(args: argparse.Namespace) -> None:
    """Run every chosen set and print a Markdown table."""
    quiet_rasa_structlog()
    model = ensure_model(PROJECT_ROOT / "var" / "models")
    root = Path(args.data)
    rows = []
    for name in args.sets.split(","):
        print(f"{name}: …", flush=True)
        rows.append(await run_set(root, name, args, model))
        print(json.dumps(rows[-1]), flush=True)
    print(f"\nmodel {model.name}; each query asked once, calibrated on the other of {FOLDS} folds of dev")
    print(
        "| set | matcher alone: right, not escalated | engine: answered right + suggested first | "
        "answered right | suggested first | answered wrong | neither | OOS answered | queued for a human |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['set']} | {r['matcher_right']:.3f} | **{r['engine_right_or_first']:.3f}** | "
            f"{r['answered_right']:.3f} | {r['suggested_right_first']:.3f} | {r['answered_wrong']:.3f} | "
            f"{r['neither']:.3f} | {r['oos_answered']:.3f} | {r['queued']:.2%} |"
        )


def main() -> None:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", default=str(PROJECT_ROOT.parent / "shared" / "data" / "faq"))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--customers", type=int, default=8, help="customers asking at the same time")
    parser.add_argument("--limit", type=int, default=0, help="ask only the first N dev queries (a quick run)")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
