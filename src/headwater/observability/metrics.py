"""Prometheus metrics: request latency by route, runs by status, rows and bytes copied, run duration, scheduler lag.

With several web worker processes each process writes its figures to files in one directory
(prometheus_client's multiprocess mode) and a scrape of any of them sums every process, so the
figures are the server's, not one process's. That mode is chosen when prometheus_client is first
imported, so the metrics are created lazily, after `headwater serve` has set the directory up.

Labels are bounded and tenant-free: route templates (never raw paths, which carry ids), methods,
status codes and run statuses. No org, sandbox, resource id or credential is ever a label.
"""

from __future__ import annotations

import functools
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 12 * 3600.0)
_LAG_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def use_multiprocess_dir(directory: Path) -> None:
    """Make this process and the processes it starts share `directory` (emptied first) for metrics."""
    shutil.rmtree(directory, ignore_errors=True)  # figures of an earlier server would be summed in
    directory.mkdir(mode=0o700, parents=True)
    os.environ[MULTIPROC_ENV] = str(directory)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # already imported: choose the value class again, as a first import would
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class _Metrics:
    request_seconds: Histogram
    run_seconds: Histogram
    rows: Counter
    bytes: Counter
    lag_seconds: Histogram


@functools.cache
def _metrics() -> _Metrics:
    from prometheus_client import Counter, Histogram

    return _Metrics(
        request_seconds=Histogram(
            "headwater_http_request_duration_seconds",
            "API request latency, by method, route template and status code",
            ["method", "route", "status"],
            buckets=_REQUEST_BUCKETS,
        ),
        run_seconds=Histogram(
            "headwater_run_duration_seconds",
            "Wall time of a run attempt, by the status it ended in",
            ["status"],
            buckets=_RUN_BUCKETS,
        ),
        rows=Counter("headwater_run_rows", "Rows run attempts read from sources and wrote to datasets", ["stage"]),
        bytes=Counter(
            "headwater_run_bytes", "Bytes run attempts read from sources (Arrow) and wrote (Parquet)", ["stage"]
        ),
        lag_seconds=Histogram(
            "headwater_scheduler_lag_seconds",
            "Seconds from a run's scheduled time to the start of its first attempt",
            buckets=_LAG_BUCKETS,
        ),
    )


def observe_request(*, method: str, route: str, status: int, seconds: float) -> None:
    _metrics().request_seconds.labels(method, route, str(status)).observe(seconds)


@dataclass
class RunOutcome:
    """What a run attempt reports to the metrics when it ends: its status and the figures it copied."""

    status: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)


@contextmanager
def measured_run(*, scheduled_at_ms: int, first_attempt: bool) -> Iterator[RunOutcome]:
    """Time a run attempt; the caller fills in the yielded outcome (status None: the lease was lost)."""
    started = time.time()
    if first_attempt:
        _metrics().lag_seconds.observe(max(0.0, started - scheduled_at_ms / 1000))
    outcome = RunOutcome()
    try:
        yield outcome
    finally:
        found = _metrics()
        found.run_seconds.labels(outcome.status or "lease_lost").observe(time.time() - started)
        found.rows.labels("read").inc(outcome.counts.get("rows_in", 0))
        found.rows.labels("written").inc(outcome.counts.get("rows_out", 0))
        found.bytes.labels("read").inc(outcome.counts.get("bytes_in", 0))
        found.bytes.labels("written").inc(outcome.counts.get("bytes_out", 0))


def exposition(run_counts: Callable[[], Mapping[str, int]]) -> tuple[bytes, str]:
    """The text a scrape returns (every process's figures, plus runs by status read now) and its type."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily
    from prometheus_client.multiprocess import MultiProcessCollector

    _metrics()  # a scrape before any request still lists every metric
    if os.environ.get(MULTIPROC_ENV):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)  # type: ignore[no-untyped-call]
        text = generate_latest(processes)
    else:
        text = generate_latest(REGISTRY)

    class RunsByStatus:
        def collect(self) -> Iterator[Any]:
            family = GaugeMetricFamily("headwater_runs", "Runs in the metadata database, by status", labels=["status"])
            for status, count in sorted(run_counts().items()):
                family.add_metric([status], count)
            yield family

    runs = CollectorRegistry(auto_describe=False)
    runs.register(RunsByStatus())  # type: ignore[arg-type]
    return text + generate_latest(runs), CONTENT_TYPE_LATEST
