"""`headwater runs watch`: a run's progress bar, polled from GET /runs/{id} until the run ends.

The percentage and ETA come from `progress.estimatedTotalRecords`, the source's own row estimate
(a Headwater extension, absent when the source keeps none). An estimate can be stale, so the bar
stops at 99 % until the run has really succeeded.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any

import typer

from headwater.cli_client import output
from headwater.cli_client.failure import CliError
from headwater.cli_client.http import FLOW, Api

TERMINAL = ("success", "failed", "cancelled")
_BAR = 24


@dataclass(frozen=True)
class Figures:
    """What one poll of a run tells."""

    status: str
    rows_read: int
    bytes_read: int
    rows_written: int
    bytes_written: int
    estimate: int | None
    elapsed: float | None  # seconds from the start to the figures' time

    @classmethod
    def of(cls, run: dict[str, Any], *, now_ms: int) -> Figures:
        metrics = run.get("metrics") or {}
        progress = run.get("progress") or {}
        records = metrics.get("recordSummary") or {}
        sizes = metrics.get("sizeSummary") or {}
        durations = metrics.get("durationSummary") or {}
        status = str((metrics.get("statusSummary") or {}).get("status", "pending"))
        done = status in TERMINAL
        started = durations.get("startedAtUTC")
        until = durations.get("completedAtUTC") if done else progress.get("updatedAtUTC") or now_ms
        elapsed = (until - started) / 1000 if isinstance(started, int) and isinstance(until, int) else None
        return cls(
            status=status,
            rows_read=int(progress.get("recordsRead", records.get("inputRecordCount", 0)) or 0),
            bytes_read=int(progress.get("bytesRead", sizes.get("inputBytes", 0)) or 0),
            rows_written=int(progress.get("recordsWritten", records.get("outputRecordCount", 0)) or 0),
            bytes_written=int(progress.get("bytesWritten", sizes.get("outputBytes", 0)) or 0),
            estimate=progress.get("estimatedTotalRecords"),
            elapsed=elapsed if elapsed is None or elapsed >= 0 else None,
        )

    @property
    def rate(self) -> float | None:
        """Rows read per second."""
        if not self.elapsed or self.elapsed <= 0 or not self.rows_read:
            return None
        return self.rows_read / self.elapsed

    @property
    def percent(self) -> float | None:
        if self.status == "success":
            return 100.0
        if not self.estimate:
            return None
        return min(99.0, 100.0 * self.rows_read / self.estimate)

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, from the estimate; None when either is unknown."""
        rate = self.rate
        if self.status in TERMINAL or not self.estimate or rate is None:
            return None
        return max(0.0, (self.estimate - self.rows_read) / rate)


def _clock(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def line(f: Figures) -> str:
    """One line: bar, percentage, rows and bytes read and written, rate, ETA and status."""
    parts = []
    if f.percent is not None:
        filled = int(_BAR * f.percent / 100)
        parts.append(f"[{'#' * filled}{'.' * (_BAR - filled)}] {f.percent:3.0f}%")
    parts.append(f"read {output.count(f.rows_read)} rows ({output.size(f.bytes_read)})")
    parts.append(f"written {output.count(f.rows_written)} rows ({output.size(f.bytes_written)})")
    if f.rate is not None:
        parts.append(f"{output.count(f.rate)} rows/s")
    if f.estimate:
        parts.append(f"of ~{output.count(f.estimate)}")
    if f.eta is not None:
        parts.append(f"ETA {_clock(f.eta)}")
    if f.elapsed is not None and f.status in TERMINAL:
        parts.append(f"in {_clock(f.elapsed)}")
    parts.append(f.status)
    return "  ".join(parts)


def fetch(api: Api, run_id: str) -> dict[str, Any]:
    found = (api.get(f"{FLOW}/runs/{run_id}") or {}).get("items") or []
    if not found:
        raise CliError(f"no run {run_id}")
    return dict(found[0])


def follow(api: Api, run_id: str, *, every: float = 1.0, timeout: float | None = None) -> None:
    """Show the run's progress until it ends; exit 1 when it did not succeed."""
    tty = sys.stdout.isatty() and not api.as_json
    deadline = None if timeout is None else time.monotonic() + timeout
    shown = ""
    while True:
        run = fetch(api, run_id)
        figures = Figures.of(run, now_ms=int(time.time() * 1000))
        text = line(figures)
        if not api.as_json and text != shown:
            if tty:
                typer.echo(f"\r\x1b[2K{text}", nl=False)
            else:
                typer.echo(text)
            shown = text
        if figures.status in TERMINAL:
            break
        if deadline is not None and time.monotonic() > deadline:
            if tty:
                typer.echo("")
            raise CliError(f"run {run_id} is still {figures.status} after {timeout:.0f} s", hint="watch it again later")
        time.sleep(every)
    if tty:
        typer.echo("")
    if api.as_json:
        output.emit_json(run)
    if figures.status != "success":
        errors = (run.get("metrics") or {}).get("statusSummary", {}).get("errors") or []
        for error in errors:
            typer.echo(f"error: {error.get('code')}: {error.get('message')}", err=True)
        raise typer.Exit(1)
