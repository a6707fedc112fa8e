"""How long a publish takes to reach a second instance, with and without the shared linear weights.

    .venv/bin/python -m bench.kb_reload [--kb ../shared/data/faq/clinc150/kb.jsonl]

Uses REDIS_URL when set, otherwise an embedded Redis; keys live under a random prefix and are deleted.
Instance A publishes the KB (fits everything, stores the weights); instance B then loads that version
the way it does on a pub/sub message, once with the stored weights and once after deleting them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
import uuid
from pathlib import Path

from core.redis import EmbeddedRedis, async_client, close_async
from knowledge_base.formats import load_bytes
from knowledge_base.live import LiveKnowledgeBase


async def measure(url: str, kb_file: Path, data: bytes) -> None:
    """Publish on A, reload on B twice, print the timings."""
    client = async_client(url)
    prefix = "bench" + uuid.uuid4().hex[:8]
    try:
        a = LiveKnowledgeBase(client, prefix, seed_file=None)
        entries = load_bytes(data, kb_file.suffix.lstrip(".").replace("yml", "yaml"))
        await a.store.replace_drafts(entries)
        started = time.perf_counter()
        snapshot = await a.publish("bench", "reload benchmark")
        publish_s = time.perf_counter() - started
        for label in ("with shared weights", "refitting (weights deleted)"):
            if label.startswith("refit"):
                await client.delete(f"{prefix}:kb:linear:{snapshot.version}")
            b = LiveKnowledgeBase(client, prefix, seed_file=None)
            started = time.perf_counter()
            live = await b.reload(snapshot.version)
            assert live is not None
            print(f"instance B, {label}: {time.perf_counter() - started:.2f} s")
        print(f"instance A, publish (fit + golden check + store): {publish_s:.2f} s, {len(entries)} entries")
    finally:
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
