"""A run's full read in chunks: planned once per run, each chunk written to its own staged files.

The plan is recorded in the run's staging before the first chunk is read, so every attempt reads
the same chunks; an attempt reads only those no earlier attempt finished (runs/staging.py), and
the run commits every chunk's files in its one snapshot. What a chunk holds, and why a table is or
is not chunked, is the connector's business (connectors/_chunked.py, connectors/_pg_chunks.py).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
from pydantic import BaseModel

from headwater.connectors._chunked import ChunkedSource, ChunkPlan, PlanExpired
from headwater.domain import ReadRequest
from headwater.domain.fence import SnapshotFacts
from headwater.lake import DatasetIdent, Lake
from headwater.lake._writer import StageWriter
from headwater.runs.cursor import facts_from_json, facts_to_json
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

    fence: SnapshotFacts | None = None  # a fenced backfill's fence: every chunk reads below its xmin

    def plan(self, *, chunk_rows: int, take_fence: Callable[[], SnapshotFacts] | None = None) -> ChunkPlan | None:
        """The run's plan: the one an earlier attempt recorded, else a new one, recorded now.

        `take_fence` makes this a fenced backfill's plan: the fence is taken before the plan and kept
        with it, so every attempt reads every chunk below the same one. Such a read is chunked only
        when it has several chunks; one chunk is read as before, in one snapshot, band included.
        """
        raw = self.staging.plan
        if raw is not None and take_fence is not None and "fence" not in raw:
            self.staging.forget()  # chunks staged without this fence cannot be part of its read
            raw = None
        if raw is not None:
            if take_fence is not None:
                self._fence_at(facts_from_json(raw["fence"]))
            return ChunkPlan.from_json(raw)
        if take_fence is not None:
            self._fence_at(take_fence())
        plan = self.source.plan_chunks(self.auth, self.request, chunk_rows=chunk_rows)
        if plan is None or (self.fence is not None and len(plan.chunks) < 2):
            return None
        recorded = plan.to_json()
        if self.fence is not None:
            recorded["fence"] = facts_to_json(self.fence)
        self.staging.set_plan(recorded)
        return plan

    def _fence_at(self, facts: SnapshotFacts) -> None:
        window = self.request.window
        assert window is not None and window.fence is not None
        fence = dataclasses.replace(window.fence, before=facts.before, on_snapshot=None)
        self.request = dataclasses.replace(self.request, window=dataclasses.replace(window, fence=fence))
        self.fence = facts

    def run(
        self,
        plan: ChunkPlan,
        process: Callable[[pa.RecordBatch], pa.RecordBatch],
        set_aside_count: Callable[[], int],
        *,
        join_seconds: float = 0.0,
    ) -> None:
        """Read the pending chunks; `process` maps a batch (and counts it); staged files are the output."""
        pending = set(self.staging.pending(str(c["key"]) for c in plan.chunks))
        chunks = [c for c in plan.chunks if c["key"] in pending]
        if not chunks:
            return
        writers: dict[str, StageWriter] = {}
        figures: dict[str, _Figures] = {}
        items = self.source.read_chunks(self.auth, self.request, chunks, join_seconds=join_seconds)
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
