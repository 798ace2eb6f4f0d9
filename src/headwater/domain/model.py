"""Plain data types that flow between connectors, the lake and the run engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

if TYPE_CHECKING:
    from headwater.domain.fence import XidFence
    from headwater.domain.row_filter import RowFilter


@dataclass(frozen=True)
class ExploreItem:
    """One entry of `explore?objectType=root`: a table or view the connection can read."""

    name: str
    path: str
    type: str = "table"
    can_preview: bool = True
    can_fetch_schema: bool = True


@dataclass(frozen=True)
class ColumnInfo:
    """A source column: its source type, the Arrow type Headwater reads it as, and the Flow Service view."""

    name: str
    source_type: str
    arrow_type: pa.DataType
    # The explore `type` (string, long, double, ...) and the XDM description, as in Adobe's responses.
    platform_type: str
    xdm: dict[str, Any]
    xdm_meta_type: str | None = None
    nullable: bool = True


@dataclass(frozen=True)
class TableSchema:
    """The columns of one table, in source order."""

    path: str
    columns: tuple[ColumnInfo, ...]

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(c.name, c.arrow_type, nullable=c.nullable) for c in self.columns])

    def column(self, name: str) -> ColumnInfo | None:
        return next((c for c in self.columns if c.name == name), None)


@dataclass(frozen=True)
class TablePreview:
    """A table's schema plus its first rows, as JSON-ready dicts."""

    schema: TableSchema
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class DeltaWindow:
    """An incremental read window on one column: `start <= column < end`; either bound may be open.

    Half-open windows chain without gaps or overlaps: the next run's start is this run's end.
    """

    column: str
    start: Any = None
    end: Any = None
    # Rows whose delta value is NULL are read too (they fall in no range of values).
    nulls: bool = False
    # Only row versions written by the transactions this fence admits (sources that support it).
    fence: XidFence | None = None


@dataclass(frozen=True)
class KeyRange:
    """One partition of a parallel read: `lower <= column < upper`; a None bound is open."""

    column: str
    lower: Any = None
    upper: Any = None


@dataclass(frozen=True)
class ReadRequest:
    """What to read: a table path, optional column selection, optional window and partition."""

    table: str
    columns: tuple[str, ...] | None = None
    window: DeltaWindow | None = None
    partition: KeyRange | None = None
    # The source connection's `params.filters`, bound to the table (see domain/row_filter.py).
    row_filter: RowFilter | None = None
    # Upper bound on concurrent partition reads a connector may use for this request.
    parallelism: int = 1
    batch_rows: int = 65_536
    options: dict[str, Any] = field(default_factory=dict)
    # Called with a one-line, secret-free message when the read takes a degraded path the user should
    # know about (e.g. BigQuery's REST fallback); a run shows these on its copy activity.
    notify: Callable[[str], None] | None = field(default=None, compare=False, repr=False)

    def notice(self, message: str) -> None:
        if self.notify is not None:
            self.notify(message)
