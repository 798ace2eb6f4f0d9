"""Prometheus metrics: request latency by route, runs by status, rows and bytes copied, run duration, scheduler lag.

With several web worker processes each process writes its figures to files in one directory
(prometheus_client's multiprocess mode) and a scrape of any of them sums every process, so the
figures are the server's, not one process's. That mode is chosen when prometheus_client is first
imported, so the metrics are created lazily, after `headwater serve` has set the directory up.

Labels are bounded and tenant-free: route templates (never raw paths, which carry ids), methods,
status codes and run statuses. No org, sandbox, resource id or credential is ever a label.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client import Counter, Histogram

log = logging.getLogger("headwater.metrics")

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

_REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_RUN_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 4 * 3600.0, 12 * 3600.0)
_LAG_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def use_multiprocess_dir(parent: Path) -> Path:
    """Make this process and the processes it starts share a new directory under `parent` for metrics.

    Each server gets its own, named by its pid, so two servers on one data directory never mix or
    delete each other's figures; the directories of servers that are gone are removed (their
    figures would otherwise be summed into a new server's under a reused pid).
    """
    parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in parent.iterdir():
        if not (old.name.isdigit() and _running(int(old.name))) or int(old.name) == os.getpid():
            shutil.rmtree(old, ignore_errors=True)
    directory = parent / str(os.getpid())
    directory.mkdir(mode=0o700)
    os.environ[MULTIPROC_ENV] = str(directory)
    values = sys.modules.get("prometheus_client.values")
    if values is not None:  # already imported: choose the value class again, as a first import would
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]
    return directory


@dataclass(frozen=True)
class _Metrics:
    request_seconds: Histogram
    run_seconds: Histogram
    rows: Counter
    bytes: Counter
    lag_seconds: Histogram


_CREATED: list[_Metrics] = []
# The first runs of a worker start together: metrics must be registered by one thread only, or the
# second registration fails with prometheus_client's DuplicateTimeseries.
_CREATE_LOCK = threading.Lock()


def _metrics() -> _Metrics:
    if not _CREATED:
        with _CREATE_LOCK:
            if not _CREATED:
                _CREATED.append(_create())
    return _CREATED[0]


def _create() -> _Metrics:
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
        rows=Counter(
            "headwater_run_rows", "Rows runs read from sources, and rows their snapshots committed", ["stage"]
        ),
        bytes=Counter(
            "headwater_run_bytes", "Bytes runs read from sources (Arrow), and Parquet bytes they committed", ["stage"]
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
    """A run attempt's end, as the metrics see it: its status (None: it lost its lease and reported nothing)."""

    status: str | None = None


def _figures(doc: Mapping[str, Any]) -> dict[str, int]:
    """What a run's report says it copied: rows and bytes read, and what its committed snapshot holds."""
    metrics = doc.get("metrics") or {}
    records, sizes = metrics.get("recordSummary") or {}, metrics.get("sizeSummary") or {}
    found = {
        "rows_read": records.get("inputRecordCount"),
        "rows_written": records.get("outputRecordCount"),
        "bytes_read": sizes.get("inputBytes"),
        "bytes_written": sizes.get("outputBytes"),
    }
    return {k: int(v) for k, v in found.items() if isinstance(v, int | float)}


@contextmanager
def measured_run(
    run_id: str, *, scheduled_at_ms: int, first_attempt: bool, read_back: Callable[[str], Any]
) -> Iterator[RunOutcome]:
    """Time a run attempt; the caller sets the yielded outcome's status.

    The rows and bytes counted are those of the run's final report, read back with `read_back(run_id)`
    (an object with the run's `doc`), so the metrics and the API never disagree.
    """
    started = time.time()
    if first_attempt:
        _metrics().lag_seconds.observe(max(0.0, started - scheduled_at_ms / 1000))
    outcome = RunOutcome()
    try:
        yield outcome
    finally:
        found = _metrics()
        found.run_seconds.labels(outcome.status or "lease_lost").observe(time.time() - started)
        figures: dict[str, int] = {}
        if outcome.status is not None:
            try:
                figures = _figures(getattr(read_back(run_id), "doc", None) or {})
            except Exception:  # the metrics must never fail a run that is already reported
                log.warning("run %s: its figures could not be read back for the metrics", run_id, exc_info=True)
        found.rows.labels("read").inc(figures.get("rows_read", 0))
        found.rows.labels("written").inc(figures.get("rows_written", 0))
        found.bytes.labels("read").inc(figures.get("bytes_read", 0))
        found.bytes.labels("written").inc(figures.get("bytes_written", 0))


def serve_metrics(*, host: str, port: int) -> None:
    """Serve this process's metrics over HTTP from a background thread (`headwater worker`)."""
    from prometheus_client import start_http_server

    _metrics()  # listed from the first scrape on, before any run
    start_http_server(port, addr=host)


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
