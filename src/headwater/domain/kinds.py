"""Closed sets of names shared by the store, the run engine and the service layer."""

from __future__ import annotations

from enum import StrEnum


class ResourceKind(StrEnum):
    """The kind of a stored resource (the `kind` column of the resources table)."""

    CONNECTION = "connection"
    SOURCE_CONNECTION = "sourceConnection"
    TARGET_CONNECTION = "targetConnection"
    FLOW = "flow"
    DATASET = "dataSet"
    MAPPING_SET = "mappingSet"


class ResourceState(StrEnum):
    """The `state` of a connection, source or target connection, or flow."""

    ENABLED = "enabled"
    DISABLED = "disabled"
    DRAFT = "draft"  # flows only: saved without a schedule check or a live source check
    INITIALIZING = "initializing"  # connections only, as Adobe reports them while being set up


class Frequency(StrEnum):
    """`scheduleParams.frequency` of a flow."""

    ONCE = "once"
    MINUTE = "minute"
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
