"""BigQuery edge values go through a real flow run (API, run engine, emulator) and read back from the lake
with pyarrow, DuckDB and pandas: INT64 and NUMERIC extremes, FLOAT64 NaN/±inf/-0, DATE/DATETIME/TIMESTAMP
at 0001-01-01 and 9999-12-31, TIME's last microsecond, empty and non-ASCII strings and bytes."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from fastapi.testclient import TestClient
from google.cloud import bigquery

from headwater.api import create_app
from headwater.runs.model import RunStatus
from headwater.runs.plan import lake_ident
from headwater.service import Services
from headwater.settings import Settings
from headwater.store import Scope
from tests.support.chain import make_chain, run_until_done
from tests.support.ids import BQ_SPEC
from tests.support.tenants import make_tenant

from .emulator import CLIENT_ID, CLIENT_SECRET, PROJECT, REFRESH_TOKEN, TIMEOUTS

ORG = "BQEDGE00000000000000000000@AdobeOrg"
OAUTH = {
    "specName": "Basic Authentication",
    "params": {"project": PROJECT, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "refreshToken": REFRESH_TOKEN},
}
UTC = dt.UTC
NUMERIC_MAX = Decimal("99999999999999999999999999999.999999999")
S = bigquery.SchemaField
SCHEMA = [
    S("id", "INT64"), S("i", "INT64"), S("f", "FLOAT64"), S("n", "NUMERIC"), S("d", "DATE"), S("dt", "DATETIME"),
    S("ts", "TIMESTAMP"), S("t", "TIME"), S("s", "STRING"), S("b", "BYTES"), S("a", "INT64", mode="REPEATED"),
]  # fmt: skip
COLUMNS = tuple(f.name for f in SCHEMA)
ROWS = [
    "(1, -9223372036854775808, CAST('NaN' AS FLOAT64), NUMERIC '-99999999999999999999999999999.999999999',"
    " DATE '0001-01-01', DATETIME '0001-01-01 00:00:00', TIMESTAMP '0001-01-01 00:00:00+00', TIME '00:00:00',"
    " '', b'', [])",
    "(2, 9223372036854775807, CAST('inf' AS FLOAT64), NUMERIC '99999999999999999999999999999.999999999',"
    " DATE '9999-12-31', DATETIME '9999-12-31 23:59:59.999999', TIMESTAMP '9999-12-31 23:59:59.999999+00',"
    " TIME '23:59:59.999999', 'héllo ✓ 𝄞', FROM_BASE64('AP8='), [1, 2])",
    "(3, 0, CAST('-inf' AS FLOAT64), NUMERIC '-0.000000001', DATE '1970-01-01', DATETIME '2024-02-29 12:34:56.789012',"
    " TIMESTAMP '2024-02-29 12:34:56.789012+05:30', TIME '12:00:00.5', 'x', b'x', [0])",
    "(4, 1, CAST('-0' AS FLOAT64), NUMERIC '0', NULL, NULL, NULL, NULL, NULL, NULL, [])",
    "(5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, [])",
]
LAST_TS = dt.datetime(9999, 12, 31, 23, 59, 59, 999999)
EXPECTED: dict[str, list[Any]] = {
    "i": [-(2**63), 2**63 - 1, 0, 1, None],
    "f": ["nan", math.inf, -math.inf, "-0.0", None],
    "n": [NUMERIC_MAX.copy_negate(), NUMERIC_MAX, Decimal("-1E-9"), Decimal("0"), None],
    "d": [dt.date(1, 1, 1), dt.date(9999, 12, 31), dt.date(1970, 1, 1), None, None],
    "dt": [dt.datetime(1, 1, 1), LAST_TS, dt.datetime(2024, 2, 29, 12, 34, 56, 789012), None, None],
    "ts": [dt.datetime(1, 1, 1, tzinfo=UTC), LAST_TS.replace(tzinfo=UTC),
           dt.datetime(2024, 2, 29, 7, 4, 56, 789012, tzinfo=UTC), None, None],
    "t": [dt.time(0), dt.time(23, 59, 59, 999999), dt.time(12, 0, 0, 500000), None, None],
    "s": ["", "héllo ✓ 𝄞", "x", None, None],
    "b": [b"", b"\x00\xff", b"x", None, None],
    "a": [[], [1, 2], [0], [], []],
}  # fmt: skip


def plain(value: Any) -> Any:
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return "-0.0" if value == 0 and math.copysign(1, value) < 0 else value
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def test_edge_values_land_and_read_back(
    tmp_path: Path, bq_settings: Settings, admin: bigquery.Client, dataset: str
) -> None:
    admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.edges", schema=SCHEMA), timeout=10)
    admin.query(
        f"INSERT INTO `{PROJECT}.{dataset}.edges` ({', '.join(COLUMNS)}) VALUES {', '.join(ROWS)}",
        timeout=10,
        retry=TIMEOUTS.rest_retry(),
    ).result(timeout=10)
    settings = bq_settings.model_copy(update={"data_dir": tmp_path / "data", "run_embedded_executor": False})
    services = Services(settings)
    services.migrate()
    tenant = make_tenant(services, ORG)
    with TestClient(create_app(settings, services=services)) as client:
        chain = make_chain(client, tenant.headers(), f"{dataset}.edges", auth=OAUTH, source_spec=BQ_SPEC,
                           columns=COLUMNS)  # fmt: skip
        assert chain.run is not None
        row = run_until_done(services, chain.run)
    assert row.status is RunStatus.SUCCESS, row.doc["metrics"]["statusSummary"]
    record = services.store.get("dataSet", Scope(ORG, "prod"), chain.dataset)
    assert record is not None
    ident = lake_ident(record)
    # The mapping names dataset columns out_0, out_1, … in COLUMNS order.
    names = {f"out_{k}": c for k, c in enumerate(COLUMNS)}
    landed = services.lake.scan(ident)
    table = landed.rename_columns([names[n] for n in landed.column_names]).sort_by("id")
    files = services.lake.data_files(ident)
    duck = duckdb.sql("SELECT * FROM read_parquet($f) ORDER BY out_0", params={"f": files}).to_arrow_table()
    duck = duck.rename_columns([names[n] for n in duck.column_names])
    frame = table.to_pandas(integer_object_nulls=True)
    for column, want in EXPECTED.items():
        assert plain(table.column(column).to_pylist()) == plain(want), f"pyarrow: {column}"
        assert plain(duck.column(column).to_pylist()) == plain(want), f"duckdb: {column}"
        assert _pandas(frame[column], want) == plain(want), f"pandas: {column}"


def _pandas(series: pd.Series, want: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value, expected in zip(series.tolist(), want, strict=True):
        if isinstance(value, pd.Timestamp):
            value = value.to_pydatetime()
        elif hasattr(value, "tolist"):
            value = value.tolist()
        if expected is None and (value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))):
            value = None  # pandas shows a missing float, string or timestamp as NaN/NaT
        out.append(plain(value))
    return out
