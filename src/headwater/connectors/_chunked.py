"""What a connector offers when it can read a table in independent chunks (PostgreSQL today).

A chunked read is planned once (`plan_chunks`), the plan is kept by the run, and any subset of its
chunks can be read later (`read_chunks`), in any order, each in its own short read: a run killed
partway reads again only the chunks it had not finished (runs/staging.py keeps what it finished).
A chunk is a small JSON object whose `key` names it within its plan; only the connector reads the rest.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa
from pydantic import BaseModel

from headwater.domain import ReadRequest
from headwater.errors import TransientError

# `read_chunks` yields `(chunk key, batch)` pairs and `(chunk key, None)` once a chunk is complete.
ChunkItem = tuple[str, pa.RecordBatch | None]


class PlanExpired(TransientError):
    """The plan's chunks can no longer be read (a BigQuery read session expired or was lost): the run
    drops the plan and everything staged under it, and its next attempt plans afresh."""


@dataclass(frozen=True)
class ChunkPlan:
    """How a read is split: `path` names the method (shown to the user), `chunks` the parts in order.

    `notices` are one-line, secret-free explanations for the user (e.g. why a table is read whole).
    """

    path: str
    chunks: tuple[dict[str, Any], ...]
    notices: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "chunks": list(self.chunks), "notices": list(self.notices)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> ChunkPlan:
        return cls(str(raw["path"]), tuple(raw["chunks"]), tuple(raw.get("notices", ())))


@runtime_checkable
class ChunkedSource(Protocol):
    """A connector that can plan a read as chunks and read any of them on its own."""

    def plan_chunks(self, auth: BaseModel, request: ReadRequest, *, chunk_rows: int) -> ChunkPlan | None:
        """The chunks of `request`, about `chunk_rows` rows each; None when this request is not chunked."""
        ...

    def read_chunks(
        self, auth: BaseModel, request: ReadRequest, chunks: Sequence[dict[str, Any]], *, join_seconds: float = 0.0
    ) -> Iterator[ChunkItem]:
        """Read `chunks` (of a plan for the same request), `request.parallelism` at a time.

        `join_seconds` > 0 lets a connector read consecutive chunks in one go while that read is expected
        to last no longer; each chunk is still reported complete on its own. A connector whose chunks
        cannot be joined (BigQuery's streams) reads each on its own.
        """
        ...
