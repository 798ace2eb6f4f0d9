"""A chunked read's queue: readers take chunks from its front, one or several consecutive ones per read.

Every read is one transaction on the source. A plan's chunks are sized in rows (`chunk_rows`), which
bounds what a killed run reads again; how long a chunk takes depends on the machine and its load.
Each reader joins consecutive chunks into one read while its previous read says the joined one will
end within `join_seconds`: on an idle machine a transaction then lasts about that long and a read
pays fewer chunk boundaries (measured: each costs the consumer 150-250 ms waiting for the next
query's first batch), and under load it falls back to one chunk per transaction by itself. The
first read of every reader is one chunk, to learn the pace.

The query of any run of chunks is built without a connection: the rest of the query is rendered
once, on the catalog connection, and a chunk's own condition holds only an identifier and integers.
"""

from __future__ import annotations

import collections
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from psycopg import sql

from headwater.connectors._pg_chunks import chunk_condition

# Consecutive chunks one read may take, whatever the pace says: bounds a read's length when a
# measured pace is far off (a chunk of mostly deleted rows reads in no time).
MAX_JOIN = 16


@dataclass(frozen=True)
class QueryText:
    """A chunked read's query as text: `head` (SELECT … FROM …) and its other conditions, rendered once."""

    head: str
    conditions: tuple[str, ...]

    def query(self, chunk: dict[str, Any]) -> str:
        own = chunk_condition(chunk)
        # Rendered without a connection: identifiers are quoted and integers spelled the same way by any.
        conditions = [*self.conditions, *([own.as_string(None)] if own is not None else [])]
        return self.head + (" WHERE " + " AND ".join(conditions) if conditions else "")


def adjacent(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether `after` starts where `before` ends (key or page ranges), so one range covers both."""
    if "column" in before and "column" in after:
        return before["upper"] is not None and before["upper"] == after["lower"]
    if "pages" in before and "pages" in after:
        return before["pages"][1] is not None and before["pages"][1] == after["pages"][0]
    return False


def joined(chunks: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One chunk for consecutive `chunks`: the first's key, the range from the first's start to the
    last's end, and `keys` naming every chunk it stands for."""
    first, last = chunks[0], chunks[-1]
    if len(chunks) == 1:
        return first
    out = {**first, "keys": [str(c["key"]) for c in chunks]}
    if "column" in first:
        out["upper"] = last["upper"]
    else:
        out["pages"] = [first["pages"][0], last["pages"][1]]
    return out


def keys_of(chunk: dict[str, Any]) -> list[str]:
    return [str(k) for k in chunk.get("keys", [chunk["key"]])]


class ChunkQueue:
    """The chunks not read yet, in plan order; `take` hands each reader its next read (thread-safe)."""

    def __init__(self, chunks: Sequence[dict[str, Any]], *, workers: int, join_seconds: float) -> None:
        self._todo = collections.deque(chunks)
        self._workers, self._join_seconds = max(1, workers), join_seconds
        self._lock = threading.Lock()

    def take(self, seconds_per_chunk: float | None) -> dict[str, Any] | None:
        """The next read: one chunk, or consecutive ones joined (`joined`) when the pace allows; None at the end.

        `seconds_per_chunk` is the reader's pace in its previous read (None: no read yet).
        """
        with self._lock:
            if not self._todo:
                return None
            want = 1
            if self._join_seconds > 0 and seconds_per_chunk is not None:
                fits = math.floor(self._join_seconds / max(seconds_per_chunk, 1e-6))
                # Leave every reader a share of what is left, so a join never idles the others.
                share = math.ceil(len(self._todo) / self._workers)
                want = max(1, min(fits, share, MAX_JOIN))
            taken = [self._todo.popleft()]
            while len(taken) < want and self._todo and adjacent(taken[-1], self._todo[0]):
                taken.append(self._todo.popleft())
            return joined(taken)


def query_text(head: sql.Composable, conditions: Sequence[sql.Composable], conn: Any) -> QueryText:
    return QueryText(head.as_string(conn), tuple(c.as_string(conn) for c in conditions))
