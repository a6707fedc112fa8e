"""How long a publish takes to answer everywhere: on the publisher and on a second, listening instance.

    .venv/bin/python -m bench.kb_reload [--kb ../shared/data/faq/clinc150/kb.jsonl]

Uses REDIS_URL when set, otherwise an embedded Redis; keys live under a random prefix and are deleted.
Instance B runs as in production (listening for publishes). Instance A publishes twice: the imported KB
as it is (nothing built yet), then after editing one entry and trying the draft in the tester, as
content staff do. Each time the figure is from the publish call until B answers from the new version.
Last, a third instance loads the version with what A built deleted, so it rebuilds everything itself.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import tempfile
import time
import uuid
from pathlib import Path

from core.keys import Keys
from core.redis import EmbeddedRedis, async_client, close_async
from knowledge_base.formats import load_bytes
from knowledge_base.live import LiveKnowledgeBase


async def _answering(kb: LiveKnowledgeBase, version: int) -> None:
    # The live index has no event to wait on; a 5 ms poll is finer than the figures it measures.
    while kb.live is None or kb.live.version < version:  # noqa: ASYNC110
        await asyncio.sleep(0.005)


async def _publish(a: LiveKnowledgeBase, b: LiveKnowledgeBase, message: str) -> tuple[int, float, float]:
    started = time.perf_counter()
    snapshot = await a.publish("bench", message)
    on_a = time.perf_counter() - started
    await asyncio.wait_for(_answering(b, snapshot.version), 120)
    return snapshot.version, on_a, time.perf_counter() - started


async def measure(url: str, kb_file: Path, data: bytes) -> None:
    """Publish on A twice while B listens, reload on a third instance without A's state; print timings."""
    client = async_client(url)
    prefix = "bench" + uuid.uuid4().hex[:8]
    a = LiveKnowledgeBase(client, prefix, seed_file=None)
    b = LiveKnowledgeBase(client, prefix, seed_file=None)
    try:
        await b.start()
        entries = load_bytes(data, kb_file.suffix.lstrip(".").replace("yml", "yaml"))
        phrasings = sum(len(e.questions) for e in entries)
        await a.store.replace_drafts(entries)
        _, cold_a, cold_all = await _publish(a, b, "import")
        first = entries[0]
        edited = dataclasses.replace(first, alternatives=(*first.alternatives, "one more way to ask this"))
        await a.store.save_entry(edited)
        started = time.perf_counter()
        await a.draft_index()
        tester_s = time.perf_counter() - started
        version, warm_a, warm_all = await _publish(a, b, "one entry edited")
        await client.delete(Keys(prefix).kb.built(version))
        c = LiveKnowledgeBase(client, prefix, seed_file=None)
        started = time.perf_counter()
        assert await c.reload(version) is not None
        rebuild_s = time.perf_counter() - started
        print(f"{kb_file.parent.name}: {len(entries)} entries, {phrasings} phrasings")
        print(f"publish of the import: A {cold_a:.2f} s, answering on B {cold_all:.2f} s")
        print(f"one entry edited: tester {tester_s:.2f} s; publish: A {warm_a:.2f} s, B {warm_all:.2f} s")
        print(f"an instance loading the version without A's state (rebuilds): {rebuild_s:.2f} s")
    finally:
        await b.stop()
        async for key in client.scan_iter(match=f"{prefix}*", count=500):
            await client.delete(key)
        await close_async(client)


def main() -> None:
    """Run against REDIS_URL or an embedded Redis."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = Path(__file__).parents[2] / "shared" / "data" / "faq" / "clinc150" / "kb.jsonl"
    parser.add_argument("--kb", type=Path, default=default)
    args = parser.parse_args()
    url = os.environ.get("REDIS_URL")
    if url:
        asyncio.run(measure(url, args.kb, args.kb.read_bytes()))
        return
    with tempfile.TemporaryDirectory() as tmp, EmbeddedRedis(Path(tmp)) as embedded_url:
        asyncio.run(measure(embedded_url, args.kb, args.kb.read_bytes()))


if __name__ == "__main__":
    main()
