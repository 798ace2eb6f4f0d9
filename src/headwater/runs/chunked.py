"""A run's full read in chunks: planned once per run, each chunk written to its own staged files.

The plan is recorded in the run's staging before the first chunk is read, so every attempt reads
the same chunks; an attempt reads only those no earlier attempt finished (runs/staging.py), and
the run commits every chunk's files in its one snapshot. What a chunk holds, and why a table is or
is not chunked, is the connector's business (connectors/_chunked.py, connectors/_pg_chunks.py).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from headwater.connectors._chunked import ChunkedSource, ChunkPlan, PlanExpired
from headwater.domain import ReadRequest
from headwater.lake import DatasetIdent, Lake
from headwater.lake._writer import StageWriter
from headwater.runs.plan import FlowPlan
from headwater.runs.report import COPY
from headwater.runs.staging import RunStaging
from headwater.runs.window import Window


@dataclass
class _Figures:
    rows_in: int = 0
    bytes_in: int = 0
    rows_out: int = 0
    failed: int = 0


@dataclass
class ChunkedRead:
    """Reads the chunks of `request` that `staging` does not hold yet, staging each as it completes."""

    source: ChunkedSource
    auth: BaseModel
    request: ReadRequest
    staging: RunStaging
    lake: Lake
    ident: DatasetIdent
    run_id: str
    read_keys: list[str] = field(default_factory=list)  # chunks this attempt read to the end

    def plan(self, *, chunk_rows: int) -> ChunkPlan | None:
        """The run's plan: the one an earlier attempt recorded, else a new one, recorded now."""
        if self.staging.plan is not None:
            return ChunkPlan.from_json(self.staging.plan)
        plan = self.source.plan_chunks(self.auth, self.request, chunk_rows=chunk_rows)
        if plan is not None:
            self.staging.set_plan(plan.to_json())
        return plan

    def run(
        self,
        plan: ChunkPlan,
        process: Callable[[pa.RecordBatch], pa.RecordBatch],
        set_aside_count: Callable[[], int],
    ) -> None:
        """Read the pending chunks; `process` maps a batch (and counts it); staged files are the output."""
        pending = set(self.staging.pending(str(c["key"]) for c in plan.chunks))
        chunks = [c for c in plan.chunks if c["key"] in pending]
        if not chunks:
            return
        writers: dict[str, StageWriter] = {}
        figures: dict[str, _Figures] = {}
        items = self.source.read_chunks(self.auth, self.request, chunks)
        try:
            for key, batch in items:
                if batch is None:
                    writer = writers.get(key)
                    # Still listed while closing: a close that fails (a full disk) is aborted below.
                    files = writer.close() if writer is not None else []
                    writers.pop(key, None)
                    done = figures.pop(key, _Figures())
                    self.staging.stage(key, files=files, rows_in=done.rows_in, bytes_in=done.bytes_in,
                                       rows_out=done.rows_out, failed=done.failed)
                    self.read_keys.append(key)
                    continue
                counted = figures.setdefault(key, _Figures())
                counted.rows_in += batch.num_rows
                counted.bytes_in += batch.nbytes
                aside = set_aside_count()
                out = process(batch)
                counted.failed += set_aside_count() - aside
                counted.rows_out += out.num_rows
                if out.num_rows:
                    writer = writers.get(key)
                    if writer is None:
                        writer = writers[key] = self.lake.stage_writer(self.ident, run_id=self.run_id)
                    writer.write(out)
        except BaseException as exc:
            for writer in writers.values():
                writer.abort()  # unstaged: never part of the run
            if isinstance(exc, PlanExpired):
                self.staging.forget()  # the next attempt plans afresh and reads everything
            raise
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()


def fingerprint(plan: FlowPlan, window: Window | None) -> str:
    """Names what a run reads and writes: staged chunks are reused only by an attempt with the same one."""
    what = [
        plan.table,
        list(plan.read_columns or ()),
        window.to_json() if window is not None else None,
        repr(plan.row_filter),
        plan.definition.mapping_id,
        str(plan.output_schema),
    ]
    return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:32]


def with_chunking(doc: dict[str, Any], *, plan: ChunkPlan, chunk_rows: int, resumed: int, read: int) -> dict[str, Any]:
    """How the run split its read, on its copy activity (`statusSummary.extensions.chunking`)."""
    out = copy.deepcopy(doc)
    for activity in out.get("activities", []):
        if activity["id"] == COPY:
            activity["statusSummary"].setdefault("extensions", {})["chunking"] = {
                "path": plan.path,
                "chunks": len(plan.chunks),
                "chunkRows": chunk_rows,
                "resumedChunks": resumed,
                "readChunks": read,
            }
    return out
