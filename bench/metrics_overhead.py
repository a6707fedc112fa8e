"""What the metrics work costs a dialogue turn: timed directly, then the engine with and without it.

    .venv/bin/python -m bench.metrics_overhead [--rounds 6] [--messages 150] [--customers 4]
        [--interleaved 400]

Runs one engine in-process on the trained model (REDIS_URL when set, otherwise an embedded Redis; keys
under a random prefix, deleted after) and sends the load_rest zh/en mix, less its handoffs, over REST.
First, one customer at a time, it times the service-event calls themselves beside each whole message
(the direct figure: what share of a message's time the metrics work takes). Then, still one customer
at a time, the side-by-side figure: metrics on and off in turn, message by message (`interleaved`).
Then rounds from a few
concurrent customers alternate between the engine as built ("metrics on": service events recorded in
Redis, the Prometheus counters) and the same running engine with that work made no-ops ("metrics off");
the two rounds of a pair send the same messages. Per round it prints msgs/s, the process's CPU per
message (the in-process client's share is the same on both sides) and the p50 latency; then the median
of the pairs' ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from bench.load_rest import pick
from bot.app import create_app
from bot.appkeys import DIALOGUE, ROUTER, SERVICES
from bot.logging_setup import quiet_rasa_structlog
from bot.settings import PROJECT_ROOT, Settings
from core.redis import EmbeddedRedis, async_client, close_async
from reports.web.api import EVENTS

HANDOFF = ("转人工", "我要找人工客服", "talk to a human", "agent please")
# The side-by-side figure's conversations: ten bot turns each, as in the performance issue's traffic.
TURNS_PER_CONVERSATION = 10


@dataclass
class Round:
    """One round's figures."""

    label: str
    messages: int
    seconds: float
    cpu_seconds: float
    latencies: list[float]

    @property
    def rate(self) -> float:
        """Messages answered per second."""
        return self.messages / self.seconds

    @property
    def cpu_ms(self) -> float:
        """Process CPU per message, in ms."""
        return self.cpu_seconds / self.messages * 1000

    @property
    def p50_ms(self) -> float:
        """Median latency, in ms."""
        return statistics.median(self.latencies) * 1000


class Switch:
    """Turns the engine's metrics work off and on again on a running instance."""

    def __init__(self, app: Any) -> None:
        self.events = app[EVENTS]
        self.presence = app[SERVICES].presence
        self.router = app[ROUTER]
        self.metrics = self.router._metrics

    def calls(self) -> list[tuple[Any, str]]:
        """Return the service-event calls: (object, method name)."""
        return [
            (self.events, "observe"),
            (self.events, "customer_message"),
            (self.presence, "changed"),
            (self.presence, "seen"),
        ]

    def off(self) -> None:
        """Make the service-event calls and the router's counters no-ops."""

        async def nothing(*args: Any, **kwargs: Any) -> None:
            return None

        for target, name in self.calls():
            setattr(target, name, nothing)
        self.router._metrics = None

    def on(self) -> None:
        """Restore the engine as built."""
        for target, name in self.calls():
            target.__dict__.pop(name, None)
        self.router._metrics = self.metrics

    def timed(self) -> list[float]:
        """Keep the work on, and add the wall time of each outermost service-event call to the list."""
        spent = [0.0, 0.0]  # wall, and CPU of the event loop's thread
        depth = [0]

        def wrap(original: Any) -> Any:
            async def call(*args: Any, **kwargs: Any) -> Any:
                depth[0] += 1
                started, cpu = time.perf_counter(), time.thread_time()
                try:
                    return await original(*args, **kwargs)
                finally:
                    depth[0] -= 1
                    if depth[0] == 0:  # customer_message calls observe: count the outer call once
                        spent[0] += time.perf_counter() - started
                        spent[1] += time.thread_time() - cpu

            return call

        self.on()
        for target, name in self.calls():
            setattr(target, name, wrap(getattr(target, name)))
        return spent


async def run_round(client: TestClient, label: str, messages: int, customers: int, seed: int) -> Round:
    """Send ``messages`` from ``customers`` concurrent customers; each waits for its reply."""
    rng = random.Random(seed)
    remaining = messages
    latencies: list[float] = []

    async def customer() -> None:
        nonlocal remaining
        sender = f"mo-{uuid.uuid4().hex[:10]}"
        while remaining > 0:
            remaining -= 1
            # No handoffs: queued conversations pile up and the sweeper's growing work in the same
            # process would drift the rounds apart; every message here is a bot turn.
            while (text := pick(rng)) in HANDOFF:
                pass
            started = time.perf_counter()
            response = await client.post("/webhooks/rest/webhook", json={"sender": sender, "message": text})
            assert response.status == 200, await response.text()
            await response.read()
            latencies.append(time.perf_counter() - started)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(customer() for _ in range(customers)))
    return Round(label, messages, time.perf_counter() - wall, time.process_time() - cpu, latencies)


async def interleaved(client: TestClient, switch: Switch, messages: int) -> None:
    """One customer at a time, metrics on and off in turn message by message: the side-by-side figure.

    Alternating per message (on, off, off, on, …) cancels the drift that made whole rounds incomparable
    on this machine; each bot turn's process CPU (every thread: Rasa's TensorFlow ones too) and wall time
    are kept per side, and the medians and means compared. Each side's customer starts a new conversation
    every `TURNS_PER_CONVERSATION` messages, and whenever a message was held for a human (no bot turn:
    not counted).
    """
    rng = random.Random(7)
    cpu: dict[bool, list[float]] = {True: [], False: []}
    wall: dict[bool, list[float]] = {True: [], False: []}
    senders = {True: "", False: ""}
    turns = {True: 0, False: 0}
    i = 0
    while min(len(cpu[True]), len(cpu[False])) < messages:
        on = i % 2 == (i // 2) % 2
        i += 1
        if turns[on] % TURNS_PER_CONVERSATION == 0:
            senders[on] = f"mo-{uuid.uuid4().hex[:10]}"
        turns[on] += 1
        switch.on() if on else switch.off()
        while (text := pick(rng)) in HANDOFF:
            pass
        started, used = time.perf_counter(), time.process_time()
        response = await client.post("/webhooks/rest/webhook", json={"sender": senders[on], "message": text})
        assert response.status == 200, await response.text()
        replies = await response.json()
        spent_cpu, spent_wall = (time.process_time() - used) * 1000, (time.perf_counter() - started) * 1000
        if not replies:  # held for a human: the conversation was handed over; start a new one
            turns[on] = 0
            continue
        cpu[on].append(spent_cpu)
        wall[on].append(spent_wall)
    switch.on()
    for name, figures in (("process CPU", cpu), ("wall time", wall)):
        on_med, off_med = statistics.median(figures[True]), statistics.median(figures[False])
        on_mean, off_mean = statistics.fmean(figures[True]), statistics.fmean(figures[False])
        print(
            f"side by side, {messages}+ bot turns per side, {name} per turn: median on {on_med:.2f} ms,"
            f" off {off_med:.2f} ms ({(on_med / off_med - 1) * 100:+.1f} %); mean on {on_mean:.2f} ms,"
            f" off {off_mean:.2f} ms ({(on_mean / off_mean - 1) * 100:+.1f} %)",
            flush=True,
        )


async def measure(url: str, var_dir: Path, args: argparse.Namespace) -> None:
    """Start the engine, run the alternating rounds, print the figures."""
    prefix = "bench" + uuid.uuid4().hex[:8]
    settings = Settings(
        redis_url=url,
        redis_prefix=prefix,
        var_dir=var_dir,
        model_dir=PROJECT_ROOT / "var" / "models",
        instance_id="bench",
    )
    app = create_app(settings)
    client = TestClient(TestServer(app))
    await client.start_server()
    try:
        await asyncio.wait_for(app[DIALOGUE].loaded.wait(), 300)
        assert app[DIALOGUE].dialogue is not None, app[DIALOGUE].error
        switch = Switch(app)
        await run_round(client, "warm-up", 40, args.customers, 0)
        # One customer at a time: the service-event calls' own time, beside the whole message's.
        spent = switch.timed()
        loop_cpu = time.thread_time()
        alone = await run_round(client, "timed", args.messages, 1, seed=99)
        loop_cpu_ms = (time.thread_time() - loop_cpu) * 1000 / args.messages
        per_message = sum(alone.latencies) * 1000 / args.messages
        events_ms, events_cpu_ms = (x * 1000 / args.messages for x in spent)
        print(
            f"one customer at a time, {args.messages} messages: {per_message:.1f} ms per message, of which"
            f" service events {events_ms:.2f} ms ({events_ms / per_message * 100:.1f} %); event-loop CPU"
            f" {loop_cpu_ms:.1f} ms per message, of which service events {events_cpu_ms:.2f} ms"
            f" ({events_cpu_ms / loop_cpu_ms * 100:.1f} %)",
            flush=True,
        )
        if args.interleaved:
            await interleaved(client, switch, args.interleaved)
        rounds: list[Round] = []
        for i in range(args.rounds * 2):
            on = i % 2 == (i // 2) % 2  # on, off, off, on, on, off …: neither side always goes first
            switch.on() if on else switch.off()
            label = "metrics on" if on else "metrics off"
            done = await run_round(client, label, args.messages, args.customers, seed=i // 2)
            rounds.append(done)
            print(
                f"round {i + 1:2} {label:11} {done.rate:6.1f} msgs/s  {done.cpu_ms:6.2f} ms CPU/msg"
                f"  p50 {done.p50_ms:6.1f} ms",
                flush=True,
            )
        switch.on()
        if rounds:
            print_summary(rounds, app[EVENTS].lost)
    finally:
        await client.close()
        cleaner = async_client(url)
        async for key in cleaner.scan_iter(match=f"{prefix}*", count=500):
            await cleaner.delete(key)
        await close_async(cleaner)


def print_summary(rounds: list[Round], lost: int) -> None:
    """Print the median, over pairs of rounds that sent the same messages, of on ÷ off."""
    pairs = [(rounds[i], rounds[i + 1]) for i in range(0, len(rounds) - 1, 2)]
    ratios: dict[str, list[float]] = {"throughput": [], "CPU/msg": [], "p50 latency": []}
    for a, b in pairs:
        on, off = (a, b) if a.label == "metrics on" else (b, a)
        ratios["throughput"].append(on.rate / off.rate)
        ratios["CPU/msg"].append(on.cpu_ms / off.cpu_ms)
        ratios["p50 latency"].append(on.p50_ms / off.p50_ms)
    medians = ", ".join(f"{name} {(statistics.median(r) - 1) * 100:+.1f} %" for name, r in ratios.items())
    spread = max(ratios["throughput"]) / min(ratios["throughput"])
    print(f"metrics on vs off, median of {len(pairs)} pairs: {medians}")
    print(f"(pairs' throughput ratios spread {(spread - 1) * 100:.0f} %; service events lost: {lost})")


def main() -> None:
    """Measure on REDIS_URL or an embedded Redis."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=6, help="rounds per side (0: the direct figure only)")
    parser.add_argument("--messages", type=int, default=150, help="messages per round")
    parser.add_argument("--customers", type=int, default=4, help="concurrent customers")
    parser.add_argument(
        "--interleaved", type=int, default=400, help="messages per side, on and off in turn (0: skip)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    quiet_rasa_structlog()
    with tempfile.TemporaryDirectory() as tmp:
        url = os.environ.get("REDIS_URL")
        if url:
            asyncio.run(measure(url, Path(tmp), args))
            return
        with EmbeddedRedis(Path(tmp)) as embedded:
            asyncio.run(measure(embedded, Path(tmp), args))


if __name__ == "__main__":
    main()
