"""BigQuery incremental windows on the emulator: the boundary rules docs/incremental.md states.

BigQuery has no transaction ids to fence a read with, so its windows are value windows:
`start <= delta < end`, the next window starting at this one's end, NULL delta values read by the
backfill only. Both read paths (Storage Read's row restriction, REST's client-side filter) must
draw the boundary the same way.
"""

from __future__ import annotations

import pyarrow as pa
import pytest
from google.cloud import bigquery

from headwater.connectors._bq_clients import BqTimeouts
from headwater.connectors.bigquery import BigQueryConnector
from headwater.domain import DeltaWindow, ReadRequest
from headwater.settings import Settings
from tests.support.net import free_port

from .emulator import PROJECT, TIMEOUTS

SCHEMA = [bigquery.SchemaField("id", "INT64", mode="REQUIRED"), bigquery.SchemaField("seq", "INT64")]


@pytest.fixture
def seq_table(admin: bigquery.Client, dataset: str) -> str:
    """ids 1..8; seq 1, 2, 2, 3, 3, NULL, NULL, 4."""
    table = admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.events", schema=SCHEMA), timeout=10)
    values = [1, 2, 2, 3, 3, None, None, 4]
    rows = [{"id": i, "seq": v} for i, v in enumerate(values, start=1)]
    assert admin.insert_rows_json(table, rows, timeout=10, retry=TIMEOUTS.rest_retry()) == []
    return f"{dataset}.events"


@pytest.fixture(params=["storage-read", "rest-fallback"])
def reader(request: pytest.FixtureRequest, bq_settings: Settings) -> BigQueryConnector:
    if request.param == "storage-read":
        return BigQueryConnector(bq_settings, timeouts=TIMEOUTS)
    unreachable = bq_settings.model_copy(update={"bigquery_read_endpoint": f"http://127.0.0.1:{free_port()}"})
    return BigQueryConnector(unreachable, timeouts=BqTimeouts(request=5.0, deadline=1.0))


def ids(connector: BigQueryConnector, auth: object, table: str, window: DeltaWindow) -> list[int]:
    batches = list(connector.read(auth, ReadRequest(table=table, columns=("id",), window=window)))  # type: ignore[arg-type]
    return sorted(pa.Table.from_batches(batches).column("id").to_pylist()) if batches else []


def test_consecutive_windows_read_every_row_once_and_the_backfill_takes_nulls(
    reader: BigQueryConnector, oauth: object, seq_table: str
) -> None:
    """Backfill [-, 3) with NULLs, then [3, 4), then [4, -): rows tied at a boundary land once, in the later window."""
    first = ids(reader, oauth, seq_table, DeltaWindow("seq", None, 3, nulls=True))
    second = ids(reader, oauth, seq_table, DeltaWindow("seq", 3, 4))
    third = ids(reader, oauth, seq_table, DeltaWindow("seq", 4, None))
    assert first == [1, 2, 3, 6, 7]
    assert second == [4, 5]
    assert third == [8]


def test_after_the_backfill_null_delta_values_are_not_read(
    reader: BigQueryConnector, oauth: object, seq_table: str
) -> None:
    """A later window has a start, so NULL rows (no value to compare) stay out of it: the documented rule."""
    assert ids(reader, oauth, seq_table, DeltaWindow("seq", 3, None)) == [4, 5, 8]
    assert ids(reader, oauth, seq_table, DeltaWindow("seq", None, None, nulls=True)) == list(range(1, 9))
