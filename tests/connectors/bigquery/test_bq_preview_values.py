"""The BigQuery explore preview follows the one preview rule: NaN/±Infinity as names, NULL as null, plain decimals."""

from __future__ import annotations

import json

from google.cloud import bigquery

from headwater.connectors._bq_auth import BqOAuth
from headwater.connectors.bigquery import BigQueryConnector

from .conftest import S
from .emulator import PROJECT, TIMEOUTS


def test_non_finite_floats_and_decimals_follow_the_preview_rule(
    connector: BigQueryConnector, oauth: BqOAuth, admin: bigquery.Client, dataset: str
) -> None:
    schema = [S("id", "INT64"), S("ratio", "FLOAT64"), S("amount", "NUMERIC")]
    table = admin.create_table(bigquery.Table(f"{PROJECT}.{dataset}.floats", schema=schema), timeout=10)
    admin.query(
        f"INSERT INTO `{PROJECT}.{dataset}.floats` (id, ratio, amount) VALUES "
        "(1, CAST('NaN' AS FLOAT64), NUMERIC '0'), (2, CAST('inf' AS FLOAT64), NUMERIC '1.5'), "
        "(3, CAST('-inf' AS FLOAT64), NULL), (4, NULL, NUMERIC '-0.000000001'), (5, 2.5, NUMERIC '1e3')",
        timeout=10,
        retry=TIMEOUTS.rest_retry(),
    ).result(timeout=10)
    assert table is not None
    preview = connector.preview(oauth, f"{dataset}.floats", limit=10)
    rows = {row["id"]: row for row in preview.rows}
    assert [rows[i]["ratio"] for i in (1, 2, 3, 4, 5)] == ["NaN", "Infinity", "-Infinity", None, 2.5]
    assert [rows[i]["amount"] for i in (1, 2, 3, 4, 5)] == [
        "0.000000000",
        "1.500000000",
        None,
        "-0.000000001",
        "1000.000000000",
    ]
    json.dumps(preview.rows, allow_nan=False)  # valid JSON: no bare NaN anywhere
