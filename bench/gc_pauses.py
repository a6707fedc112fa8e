"""How long a full garbage collection stops an engine process with the model loaded, settled or not.

    python -m bench.gc_pauses [--passes 5]

Loads the trained model as an engine worker does (`Dialogue.load`, Redis stores at ``REDIS_URL`` or the
embedded Redis, nothing written) and parses a few messages so Rasa's lazy parts exist. Then it times
``--passes`` full collections (``gc.collect()``: what CPython runs whenever enough objects have survived
to the oldest generation, with every coroutine of the process waiting), calls `bot.heap.settle` as the
engine does after loading, and times as many again. Prints the objects the collector walks and the
pauses in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time

from bot import heap
from bot.dialogue.agent import Dialogue
from bot.dialogue.training import ensure_model
from bot.settings import PROJECT_ROOT, Settings
from core.redis import connect, disconnect

TEXTS = ("你好", "怎么退款", "转人工", "hello", "how do I reset my password", "谢谢")


def pauses(passes: int) -> list[float]:
    """Time ``passes`` full collections, in ms."""
    out = []
    for _ in range(passes):
        started = time.perf_counter()
        gc.collect()
        out.append((time.perf_counter() - started) * 1000)
    return out


def line(label: str, values: list[float]) -> str:
    """Format one result row."""
    walked = len(gc.get_objects())
    return f"| {label} | {walked:,} | {statistics.median(values):.1f} | {max(values):.1f} |"


async def main() -> None:
    """Load the model, time full collections before and after settling, print Markdown rows."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    settings = Settings.from_env()
    model = ensure_model(PROJECT_ROOT / "var" / "models")
    client, _, embedded = await connect(settings.redis_url, settings.var_dir)
    try:
        dialogue = await asyncio.to_thread(Dialogue.load, model, client, "gcbench", 60)
        for text in TEXTS:
            await dialogue.parse(text)
        print("| heap | objects walked by a full collection | median pause ms | max pause ms |")
        print("|---|---:|---:|---:|")
        print(line("model loaded", pauses(args.passes)), flush=True)
        settled_in = heap.settle()
        print(line(f"after `heap.settle()` ({settled_in * 1000:.0f} ms)", pauses(args.passes)), flush=True)
    finally:
        await disconnect(client, embedded)


if __name__ == "__main__":
    asyncio.run(main())
