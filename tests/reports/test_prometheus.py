"""The metrics registry on its own: cluster gauges replace what they held, and the text parses."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from reports.prometheus import EngineMetrics, Sample


def values(metrics: EngineMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the rendered text, by name and labels."""
    found = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def test_cluster_gauges_are_replaced_at_each_scrape_and_unknown_ones_refused() -> None:
    metrics = EngineMetrics()
    metrics.set_cluster(
        [Sample("cs_queue_waiting", 3, {"team": "support"}), Sample("cs_agents", 2, {"status": "online"})]
    )
    assert values(metrics)[("cs_queue_waiting", (("team", "support"),))] == 3
    metrics.set_cluster([Sample("cs_queue_waiting", 1, {"team": "billing"})])
    seen = values(metrics)
    assert ("cs_queue_waiting", (("team", "support"),)) not in seen, "a team no longer reported disappears"
    assert seen[("cs_queue_waiting", (("team", "billing"),))] == 1
    with pytest.raises(ValueError, match="unknown gauge"):
        metrics.set_cluster([Sample("cs_made_up", 1)])


async def test_a_scrape_with_redis_away_still_answers_with_the_instance_metrics() -> None:
    metrics = EngineMetrics()
    metrics.inbound.labels("telegram").inc()

    async def down() -> object:
        raise ConnectionError("redis is away")

    async def never() -> list[Sample]:
        raise AssertionError("not read when the ping fails")

    await metrics.refresh(down, never)
    seen = values(metrics)
    assert seen[("cs_redis_up", ())] == 0
    assert seen[("cs_inbound_messages_total", (("channel", "telegram"),))] == 1


def test_two_engines_in_one_process_count_apart() -> None:
    one, two = EngineMetrics(), EngineMetrics()
    one.inbound.labels("rest").inc()
    assert ("cs_inbound_messages_total", (("channel", "rest"),)) not in values(two)


def test_the_sample_grafana_dashboard_asks_only_for_metrics_that_exist() -> None:
    dashboard = json.loads(
        (Path(__file__).parents[2] / "reports/grafana/engine.json").read_text(encoding="utf-8")
    )
    asked = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\bcs_[a-z_]+", target["expr"])
    }
    served = set()
    for family in EngineMetrics().registry.collect():
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"]}.get(family.type, [""])
        served |= {family.name + suffix for suffix in suffixes}
    assert asked, "the dashboard has queries"
    assert asked <= served, asked - served
