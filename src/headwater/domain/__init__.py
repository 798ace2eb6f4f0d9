"""Domain types shared by every layer: plain dataclasses, no I/O."""

from headwater.domain.model import (
    ColumnInfo,
    DeltaWindow,
    ExploreItem,
    KeyRange,
    ReadRequest,
    TablePreview,
    TableSchema,
)

__all__ = [
    "ColumnInfo",
    "DeltaWindow",
    "ExploreItem",
    "KeyRange",
    "ReadRequest",
    "TablePreview",
    "TableSchema",
]
