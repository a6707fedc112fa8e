"""REDIS_URL schemes: Sentinel and cluster URLs are parsed whole; what cannot be used says why."""

from __future__ import annotations

import pytest

from bot.settings import Settings
from core.redis_url import (
    ClusterUrl,
    RedisUrlError,
    SentinelUrl,
    is_cluster,
    is_sentinel,
    parse_cluster,
    parse_sentinel,
)


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_database() -> None:
    url = "redis+sentinel://app:s%40cret@10.0.0.1:26379,10.0.0.2:26380,sentinel-3/mymaster/2"
    assert is_sentinel(url)
    assert parse_sentinel(url) == SentinelUrl(
        (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("sentinel-3", 26379)), "mymaster", 2, "app", "s@cret"
    )
    tls = parse_sentinel("rediss+sentinel://:pw@[::1]:26379/main")
    assert (tls.sentinels, tls.service, tls.db, tls.username, tls.password, tls.tls) == (
        (("::1", 26379),),
        "main",
        0,
        None,
        "pw",
        True,
    )
    assert not is_sentinel("redis://127.0.0.1:6379/0")


def test_a_cluster_url_names_its_seed_nodes_and_credentials() -> None:
    url = "redis+cluster://app:pw@10.0.0.1:7000,10.0.0.2:7001,node-3"
    assert is_cluster(url)
    assert not is_sentinel(url)
    assert parse_cluster(url) == ClusterUrl(
        (("10.0.0.1", 7000), ("10.0.0.2", 7001), ("node-3", 6379)), "app", "pw", False
    )
    assert parse_cluster("rediss+cluster://:pw@[::1]:7000/0") == ClusterUrl(
        (("::1", 7000),), None, "pw", True
    )
    assert not is_cluster("redis://127.0.0.1:6379/0")


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("redis+sentinel://10.0.0.1:26379", "the master's name"),
        ("redis+sentinel:///mymaster", "the master's name"),
        ("redis+sentinel://10.0.0.1:port/mymaster", "is not host:port"),
        ("redis+sentinel://10.0.0.1:26379/mymaster/zero", "must be a number"),
        ("redis+cluster://", "at least one node"),
        ("redis+cluster://10.0.0.1:7000/1", "database 0 only"),
        ("redis+cluster://10.0.0.1:x", "is not host:port"),
    ],
)
def test_a_url_that_cannot_be_used_is_refused_at_start_up_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(RedisUrlError, match=says):
        Settings(redis_url=url)


def test_a_replicated_deployment_acknowledges_a_message_once_a_replica_holds_it() -> None:
    assert Settings(redis_url="redis+sentinel://s1:26379/mymaster").wait_replicas() == 1
    assert Settings(redis_url="redis+cluster://n1:7000,n2:7001").wait_replicas() == 1
    assert Settings(redis_url="redis://127.0.0.1:6379/0").wait_replicas() == 0
    assert Settings(redis_url="redis://127.0.0.1:6379/0", redis_wait_replicas=2).wait_replicas() == 2
