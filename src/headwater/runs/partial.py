"""Partial ingestion (reference §12.3): rows a run cannot carry are set aside with their reason.

A flow's `options.partialIngestionPercent` is the share of read rows that may be set aside: at or
below it the run commits the other rows and ends `success` with `failedRecordCount` and Adobe's
INGEST-1212-400 / MAPPER-3700-400 errors; above it the run fails and commits nothing. Without it any
such row fails the run, as before. `options.errorDiagnosticsEnabled` keeps each set-aside row's
values beside its reason; without it only the reasons are kept (values may be sensitive).

What a row "cannot carry" is a mapping error on that row (a cast that fails, a function refusing
its input). A batch whose mapping fails is split in halves until the failing rows are isolated, so
a clean batch costs nothing extra and k bad rows in n cost about k·log2(n) small mapping calls.
Errors that are not the row's (the source unreachable, a mapping that no longer compiles) still
fail the run. The set-aside rows are read back with `GET /runs/{id}/failedRecords`.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from headwater.domain.far_dates import python_safe
from headwater.domain.jsonify import json_value
from headwater.errors import ConfigError
from headwater.mapping import MappingError
from headwater.runs.plan import CompiledMappingLike

# Kept in the run document: the count stays exact beyond this, the rows are a sample.
MAX_KEPT = 1000
MAPPER_CODE = "MAPPER-3700-400"
FLOW_SERVICE = "/data/foundation/flowservice"  # the runs' own API path, for the failedRecords link


def options_of(flow_doc: dict[str, Any]) -> tuple[float | None, bool]:
    """`(partialIngestionPercent, errorDiagnosticsEnabled)` of a stored flow (validated at creation)."""
    options = flow_doc.get("options") or {}
    percent = options.get("partialIngestionPercent")
    diagnostics = options.get("errorDiagnosticsEnabled") is True
    return (float(percent) if percent is not None else None), diagnostics


class SetAside:
    """The rows one run attempt set aside, and the rule that decides whether the run may commit."""

    def __init__(self, *, run_id: str, percent: float | None, diagnostics: bool) -> None:
        self.run_id, self.percent, self.diagnostics = run_id, percent, diagnostics
        self.count = 0
        self.kept: list[dict[str, Any]] = []

    @property
    def tolerant(self) -> bool:
        """Whether row errors are isolated at all (else the first one fails the run, unexamined)."""
        return self.percent is not None or self.diagnostics

    def apply(self, mapping: CompiledMappingLike, batch: pa.RecordBatch) -> pa.RecordBatch:
        """`mapping.apply(batch)` without the rows that fail, which are set aside."""
        if not self.tolerant:
            return mapping.apply(batch)
        try:
            return mapping.apply(batch)
        except MappingError:
            pass
        before = self.count
        good = self._isolate(mapping, batch)
        if self.percent is None and self.count > before:
            # Diagnostics without a threshold: the rows are recorded, and the run fails as it always did.
            raise ConfigError(self._refusal(rows_in=None))
        if not good:
            return pa.RecordBatch.from_pylist([], schema=mapping.output_schema)
        return pa.Table.from_batches(good, schema=mapping.output_schema).combine_chunks().to_batches()[0]

    def _isolate(self, mapping: CompiledMappingLike, batch: pa.RecordBatch) -> list[pa.RecordBatch]:
        try:
            return [mapping.apply(batch)]
        except MappingError as exc:
            if batch.num_rows <= 1:
                self._record(batch, exc.message)
                return []
        half = batch.num_rows // 2
        return self._isolate(mapping, batch.slice(0, half)) + self._isolate(mapping, batch.slice(half))

    def _record(self, row: pa.RecordBatch, reason: str) -> None:
        self.count += row.num_rows
        if len(self.kept) >= MAX_KEPT:
            return
        entry: dict[str, Any] = {"code": MAPPER_CODE, "reason": reason}
        if self.diagnostics:
            # Far dates (years outside 1..9999) have no Python value: they are kept as ISO text.
            safe = python_safe(pa.Table.from_batches([row]))
            entry["record"] = {k: json_value(v) for k, v in safe.to_pylist()[0].items()}
        self.kept.append(entry)

    def check(self, *, rows_in: int) -> None:
        """Raise ConfigError when the set-aside rows exceed the threshold: the run must commit nothing."""
        if self.count == 0:
            return
        if self.percent is None or self.count * 100 > self.percent * rows_in:
            raise ConfigError(self._refusal(rows_in=rows_in))

    def _refusal(self, *, rows_in: int | None) -> str:
        where = f"GET {FLOW_SERVICE}/runs/{self.run_id}/failedRecords"
        first = self.kept[0]["reason"] if self.kept else "see the failed records"
        if self.percent is None:
            return (
                f"A row could not be mapped ({first}); nothing was committed. The rows and reasons: {where}. "
                "Set the flow's options.partialIngestionPercent to set such rows aside instead."
            )
        share = 100.0 * self.count / max(rows_in or 1, 1)
        return (
            f"{self.count} of {rows_in} rows ({share:.2f}%) could not be mapped, above the flow's "
            f"partialIngestionPercent of {self.percent:g}; nothing was committed. First reason: {first}. "
            f"The rows and reasons: {where}."
        )

    def report(self, doc: dict[str, Any], *, committed: bool, rows_out: int) -> None:
        """Write the set-aside rows and Adobe's partial-ingestion errors into a finished run's document."""
        doc["_failedRecords"] = list(self.kept)
        status = doc["metrics"]["statusSummary"]
        ingest = {
            "code": "INGEST-1212-400",
            "message": f"Encountered {self.count} errors in the data. Successfully ingested "
            f"{rows_out if committed else 0} rows. Review the failed records for details.",
        }
        status["extensions"] = {
            "manifest": {"failedRecords": f"{FLOW_SERVICE}/runs/{self.run_id}/failedRecords"},
            "errors": [ingest, {"code": MAPPER_CODE, "recordCount": self.count, "message": "Mapper Transform Error"}],
        }
        if committed:
            status["errors"] = [*status["errors"], ingest]
