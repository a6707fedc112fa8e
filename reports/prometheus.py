"""The engine's Prometheus metrics: one registry per app, instance counters and cluster-wide gauges.

Counters and histograms are this instance's own (each instance serves its own ``/metrics``; Prometheus
sums them). Gauges about the whole deployment (queue depth, agents by presence, open complaints) are read
from Redis when scraped, through a `GaugeSource` the composition root provides, so this package needs no
other feature. A registry per app rather than the library's global one keeps several engines in one
process (the tests, a bench) from counting into each other.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds: from a fast API call to a slow dialogue turn under load.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class Sample:
    """One cluster-wide gauge value: its name (one of `CLUSTER_GAUGES`), labels and value."""

    name: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


GaugeSource = Callable[[], Awaitable[Sequence[Sample]]]

# name → (help, label names): the gauges a `GaugeSource` may report.
CLUSTER_GAUGES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "cs_queue_waiting": ("Conversations waiting for a human, per team", ("team",)),
    "cs_queue_oldest_wait_seconds": (
        "How long the longest-waiting conversation has waited, per team",
        ("team",),
    ),
    "cs_agents": ("Agents by presence (online, paused, offline)", ("status",)),
    "cs_complaints_open": ("Unfinished complaint cases, per team", ("team",)),
    "cs_complaints_overdue": (
        "Unfinished complaint cases past their resolution deadline, per team",
        ("team",),
    ),
}


NLU_BATCH_HELP = "Messages per NLU run: concurrent conversations' parses share one (NLU_MAX_BATCH)"
NLU_BATCHES = (1, 2, 4, 8, 16, 32, 64)


class EngineMetrics:
    """Every metric one engine instance exposes."""

    def __init__(self) -> None:
        """Create the metrics in a registry of their own."""
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "cs_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=registry,
        )
        self.http_seconds = Histogram(
            "cs_http_request_seconds",
            "HTTP request latency by route",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.inbound = Counter(
            "cs_inbound_messages", "Customer messages taken, per channel", ["channel"], registry=registry
        )
        self.replies = Counter(
            "cs_replies", "Bot replies to customer messages, per channel", ["channel"], registry=registry
        )
        self.pushes = Counter(
            "cs_pushes",
            "Pushed messages (agents, notices) by channel and outcome",
            ["channel", "outcome"],
            registry=registry,
        )
        self.turn_seconds = Histogram(
            "cs_turn_seconds",
            "A customer message through the router, by the step that answered it",
            ["step"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.nlu_batch_size = Histogram(
            "cs_nlu_batch_size", NLU_BATCH_HELP, buckets=NLU_BATCHES, registry=registry
        )
        self.handoffs = Counter(
            "cs_handoffs", "Conversations handed to the human queue, by reason", ["reason"], registry=registry
        )
        self.kb_bands = Counter(
            "cs_kb_answers",
            "Knowledge-base answers by band (answer, suggest, escalate)",
            ["band"],
            registry=registry,
        )
        self.closes = Counter(
            "cs_conversations_closed", "Human conversations closed, by reason", ["reason"], registry=registry
        )
        self.redis_seconds = Gauge(
            "cs_redis_roundtrip_seconds", "Redis PING round trip at the last scrape", registry=registry
        )
        self.redis_up = Gauge("cs_redis_up", "1 when Redis answered the last scrape", registry=registry)
        self.cluster = {
            name: Gauge(name, text, list(labels), registry=registry)
            for name, (text, labels) in CLUSTER_GAUGES.items()
        }

    def set_cluster(self, samples: Sequence[Sample]) -> None:
        """Replace the cluster-wide gauges with ``samples`` (label sets no longer reported disappear)."""
        for gauge in self.cluster.values():
            gauge.clear()
        for sample in samples:
            found = self.cluster.get(sample.name)
            if found is None:
                raise ValueError(f"unknown gauge {sample.name!r}")
            (found.labels(**sample.labels) if sample.labels else found).set(sample.value)

    async def refresh(self, ping: Callable[[], Awaitable[object]], source: GaugeSource) -> None:
        """Read Redis for the scrape: the round trip, then the cluster gauges; Redis down shows as 0."""
        started = time.perf_counter()
        try:
            await ping()
            self.redis_seconds.set(time.perf_counter() - started)
            self.set_cluster(await source())
        except Exception:
            # A scrape while Redis is away still answers, with what this instance knows.
            self.redis_up.set(0)
            for gauge in self.cluster.values():
                gauge.clear()
            return
        self.redis_up.set(1)

    def render(self) -> bytes:
        """Return every metric in the Prometheus text format."""
        return generate_latest(self.registry)
