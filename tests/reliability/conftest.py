"""Fixtures of the reliability suite: one private PostgreSQL cluster per session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cluster import Cluster, start_cluster


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    c = start_cluster()
    try:
        yield c
    finally:
        c.remove()


@pytest.fixture
def running_cluster(cluster: Cluster) -> Cluster:
    """The session cluster, restarted if an earlier test stopped it."""
    if not cluster.is_up():
        cluster.start()
    return cluster
