"""What `runs watch` and `--json` print, from run documents as the API returns them (no server needed)."""

from __future__ import annotations

import json
import math

from headwater.cli_client.output import json_safe, size
from headwater.cli_client.watch import Figures, line
from tests.cli.conftest import strict_json


def run(status: str, *, read: int, estimate: int | None, started: int = 0, updated: int = 10_000) -> dict[str, object]:
    progress: dict[str, object] = {"recordsRead": read, "bytesRead": read * 10, "recordsWritten": read,
                                   "bytesWritten": 0, "updatedAtUTC": updated}  # fmt: skip
    if estimate is not None:
        progress["estimatedTotalRecords"] = estimate
    return {
        "metrics": {"statusSummary": {"status": status}, "durationSummary": {"startedAtUTC": started}},
        "progress": progress,
    }


def test_a_streaming_run_shows_percentage_rate_and_eta() -> None:
    figures = Figures.of(run("inProgress", read=2_500, estimate=10_000), now_ms=20_000)
    assert figures.percent == 25.0 and figures.rate == 250.0 and figures.eta == 30.0
    text = line(figures)
    assert "[######..................]  25%" in text
    assert "read 2,500 rows (24.4 KiB)" in text and "250 rows/s" in text and "of ~10,000" in text
    assert "ETA 0:30" in text and text.endswith("inProgress")


def test_a_stale_estimate_stops_at_99_until_success() -> None:
    assert Figures.of(run("inProgress", read=12_000, estimate=10_000), now_ms=0).percent == 99.0
    assert Figures.of(run("inProgress", read=12_000, estimate=10_000), now_ms=0).eta == 0.0
    done = run("success", read=12_000, estimate=None)
    done["metrics"]["durationSummary"]["completedAtUTC"] = 4_000  # type: ignore[index]
    assert Figures.of(done, now_ms=0).percent == 100.0
    assert "100%" in line(Figures.of(done, now_ms=0)) and "in 0:04" in line(Figures.of(done, now_ms=0))


def test_without_an_estimate_there_is_no_bar_and_no_eta() -> None:
    text = line(Figures.of(run("inProgress", read=5, estimate=None), now_ms=0))
    assert "%" not in text and "ETA" not in text and "read 5 rows" in text


def test_a_pending_run_has_zero_figures() -> None:
    figures = Figures.of({"metrics": {"statusSummary": {"status": "pending"}}}, now_ms=0)
    assert (figures.rows_read, figures.rate, figures.percent, figures.eta) == (0, None, None, None)


def test_json_output_never_has_a_bare_nan() -> None:
    value = {"a": [math.nan, math.inf, -math.inf, 1.5, None]}
    assert strict_json(json.dumps(json_safe(value), allow_nan=False)) == {
        "a": ["NaN", "Infinity", "-Infinity", 1.5, None]
    }


def test_sizes_are_binary_units() -> None:
    assert (size(0), size(1536), size(5 * 1024**3)) == ("0 B", "1.5 KiB", "5.0 GiB")
