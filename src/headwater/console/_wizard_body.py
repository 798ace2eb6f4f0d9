"""The dataflow wizard's answers, read from its form and turned into the API bodies Adobe's UI sends.

The wizard creates, in Adobe's order, a source connection, a dataset, a target connection, a mapping
set and the flow; each body here is exactly what an API client would POST.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import Any

from headwater.console._access import Form, FormError, one
from headwater.runs.credentials import DATA_LAKE_SPEC_ID
from headwater.service.specs import CRM_TO_AEP_FLOW_SPEC_ID

FILTER_OPS = {
    "=": "equals",
    "!=": "differs from",
    "<": "less than",
    "<=": "at most",
    ">": "greater than",
    ">=": "at least",
    "like": "matches (SQL LIKE)",
    "null": "is NULL",
    "notnull": "is not NULL",
}
FREQUENCIES = ("once", "minute", "hour", "day", "week")
MAX_TEXT = 512


@dataclass(frozen=True)
class Mapping:
    destination: str
    source: str


@dataclass(frozen=True)
class WizardAnswers:
    """Everything the wizard asked, validated as far as the console can without the source."""

    table: str
    columns: tuple[str, ...]
    filter_column: str
    filter_op: str
    filter_value: str
    mappings: tuple[Mapping, ...]
    delta: str
    frequency: str
    interval: int | None
    start_s: int
    write_mode: str
    flow_name: str
    dataset_name: str

    @property
    def mapping_text(self) -> str:
        return "\n".join(f"{m.destination} = {m.source}" for m in self.mappings)


def _mappings(text: str) -> tuple[Mapping, ...]:
    out: list[Mapping] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        destination, eq, source = line.partition("=")
        if not eq or not destination.strip() or not source.strip():
            raise FormError(f"Mapping line {number} must read: destination = source column or expression.")
        out.append(Mapping(destination.strip(), source.strip()))
    return tuple(out)


def _start(raw: str) -> int:
    """A datetime-local value, read as UTC; empty means now."""
    if not raw.strip():
        return int(time.time())
    try:
        moment = dt.datetime.fromisoformat(raw.strip())
    except ValueError:
        raise FormError("The start time must be a date and time (YYYY-MM-DDTHH:MM, UTC).") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return int(moment.timestamp())


def _text(form: Form, name: str, label: str, *, required: bool = True) -> str:
    value = one(form, name).strip()
    if required and not value:
        raise FormError(f"{label} is required.")
    if len(value) > MAX_TEXT:
        raise FormError(f"{label} is longer than {MAX_TEXT} characters.")
    return value


def read_answers(form: Form, *, known_columns: list[str]) -> WizardAnswers:
    """The answers of a submitted wizard form, or a FormError naming the first problem."""
    table = _text(form, "table", "The table")
    columns = tuple(c for c in form.get("column", []) if c)
    if not columns:
        raise FormError("Pick at least one column to copy.")
    unknown = [c for c in columns if c not in known_columns]
    if unknown:
        raise FormError(f"The table has no column {unknown[0][:100]!r}.")
    filter_column, filter_op = one(form, "filter_column"), one(form, "filter_op")
    filter_value = one(form, "filter_value")
    if filter_column:
        if filter_column not in known_columns:
            raise FormError(f"The filter names no column of the table ({filter_column[:100]!r}).")
        if filter_op not in FILTER_OPS:
            raise FormError("Pick the filter's comparison.")
        if filter_op not in ("null", "notnull") and filter_value == "":
            raise FormError("Give the value the filter compares with.")
    delta = one(form, "delta")
    if delta and delta not in columns:
        raise FormError("The delta column must be one of the columns copied.")
    frequency = one(form, "frequency", "once")
    if frequency not in FREQUENCIES:
        raise FormError(f"The frequency must be one of {', '.join(FREQUENCIES)}.")
    interval: int | None = None
    if frequency != "once":
        try:
            interval = int(one(form, "interval", "1").strip())
        except ValueError:
            raise FormError("The interval must be a whole number.") from None
    write_mode = one(form, "write_mode", "append")
    if write_mode not in ("append", "replace"):
        raise FormError("The write mode must be append or replace.")
    return WizardAnswers(
        table=table,
        columns=columns,
        filter_column=filter_column,
        filter_op=filter_op if filter_column else "",
        filter_value=filter_value if filter_column else "",
        mappings=_mappings(one(form, "mapping")),
        delta=delta,
        frequency=frequency,
        interval=interval,
        start_s=_start(one(form, "start")),
        write_mode=write_mode,
        flow_name=_text(form, "flow_name", "The dataflow name"),
        dataset_name=_text(form, "dataset_name", "The dataset name"),
    )


def pql_filter(answers: WizardAnswers) -> dict[str, Any] | None:
    if not answers.filter_column:
        return None
    field = {"nodeType": "fieldLookup", "fieldName": answers.filter_column}
    if answers.filter_op in ("null", "notnull"):
        fn, literal = ("=" if answers.filter_op == "null" else "!="), None
    else:
        fn, literal = answers.filter_op, answers.filter_value
    node = {"nodeType": "fnApply", "fnName": fn, "params": [field, {"nodeType": "literal", "value": literal}]}
    return {"type": "PQL", "format": "pql/json", "value": node}


def source_body(answers: WizardAnswers, *, connection_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"tableName": answers.table, "columns": [{"name": c} for c in answers.columns]}
    found = pql_filter(answers)
    if found is not None:
        params["filters"] = found
    return {
        "name": f"{answers.flow_name} source",
        "baseConnectionId": connection_id,
        "data": {"format": "tabular"},
        "params": params,
        "connectionSpec": {"id": spec["id"], "version": spec["version"]},
    }


def dataset_body(answers: WizardAnswers, *, connection_id: str) -> dict[str, Any]:
    body: dict[str, Any] = {"name": answers.dataset_name, "description": f"Copied from {answers.table}"}
    if not answers.mappings:
        # Copied column for column: the dataset takes the source's types now, before the first run.
        body["source"] = {"connectionId": connection_id, "tableName": answers.table, "columns": list(answers.columns)}
    return body


def target_body(answers: WizardAnswers, *, dataset_id: str) -> dict[str, Any]:
    return {
        "name": f"{answers.flow_name} target",
        "data": {"format": "parquet_xdm"},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC_ID, "version": "1.0"},
    }


def mapping_body(answers: WizardAnswers) -> dict[str, Any]:
    """The mapping set: the user's lines, or each copied column to itself."""
    pairs = answers.mappings or tuple(Mapping(c, c) for c in answers.columns)
    return {
        "version": 0,
        "mappings": [
            {
                "sourceType": "ATTRIBUTE" if m.source in answers.columns else "EXPRESSION",
                "source": m.source,
                "destination": m.destination,
            }
            for m in pairs
        ],
    }


def flow_body(answers: WizardAnswers, *, source_id: str, target_id: str, mapping_id: str) -> dict[str, Any]:
    transformations: list[dict[str, Any]] = []
    if answers.delta:
        transformations.append({"name": "Copy", "params": {"deltaColumn": {"name": answers.delta}}})
    transformations.append({"name": "Mapping", "params": {"mappingId": mapping_id, "mappingVersion": 0}})
    schedule: dict[str, Any] = {"startTime": str(answers.start_s), "frequency": answers.frequency}
    if answers.frequency != "once":
        schedule |= {"interval": str(answers.interval), "backfill": "true"}
    body: dict[str, Any] = {
        "name": answers.flow_name,
        "flowSpec": {"id": CRM_TO_AEP_FLOW_SPEC_ID, "version": "1.0"},
        "sourceConnectionIds": [source_id],
        "targetConnectionIds": [target_id],
        "transformations": transformations,
        "scheduleParams": schedule,
    }
    if answers.write_mode != "append":
        body["options"] = {"writeMode": answers.write_mode}
    return body
