"""Datasets: their schema, snapshot history, a row preview, and snippets that open them in DuckDB and pyiceberg."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.engine import make_url

from headwater.console._access import PREFIX, Page, open_page
from headwater.console._route import ConsoleRoute
from headwater.lake import RUN_ID
from headwater.runs.plan import lake_ident

router = APIRouter(include_in_schema=False, route_class=ConsoleRoute)
DATASETS_SHOWN = 20
SNAPSHOTS_SHOWN = 50
PREVIEW_ROWS = 50


@router.get(PREFIX + "/datasets")
def datasets(request: Request, start: int = 0) -> Response:
    page = open_page(request)
    start = max(0, min(start, 10**9))
    # One more than shown tells whether a next page exists without counting the sandbox.
    found = page.svc.datasets.list_catalog(page.ctx, limit=DATASETS_SHOWN + 1, start=start)
    items = list(found.values())
    more = len(items) > DATASETS_SHOWN
    return page.render(
        "datasets.html",
        items=items[:DATASETS_SHOWN],
        next_url=f"{PREFIX}/datasets?start={start + DATASETS_SHOWN}" if more else None,
        first_url=f"{PREFIX}/datasets" if start else None,
    )


def _snapshots(page: Page, record: Any) -> list[dict[str, Any]]:
    lake = page.svc.lake
    ident = lake_ident(record)
    if not lake.exists(ident):
        return []
    table = lake.catalog.load_table((ident.namespace, ident.dataset_id))
    out = []
    for snapshot in sorted(table.metadata.snapshots, key=lambda s: s.timestamp_ms, reverse=True)[:SNAPSHOTS_SHOWN]:
        summary = snapshot.summary
        out.append(
            {
                "id": snapshot.snapshot_id,
                "at": snapshot.timestamp_ms,
                "operation": summary.operation.value if summary is not None else "",
                "added": int(summary["added-records"] or 0) if summary is not None else None,
                "total": int(summary["total-records"] or 0) if summary is not None else None,
                "run": summary[RUN_ID] if summary is not None else None,
            }
        )
    return out


def _catalog_uri(page: Page) -> str:
    """The catalog database's URL without its password (the snippet is for someone who has it)."""
    url = make_url(page.svc.settings.resolved_database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.render_as_string(hide_password=True)


def snippets(page: Page, record: Any, files: list[str]) -> dict[str, str]:
    ident = lake_ident(record)
    duck = (
        "import duckdb\n"
        "# the Parquet files of the dataset's current snapshot (they change with each run)\n"
        f"files = {json.dumps(files, indent=4) if files else '[]'}\n"
        'print(duckdb.sql("SELECT * FROM read_parquet($files) LIMIT 10", params={"files": files}))\n'
    )
    iceberg = (
        "from pyiceberg.catalog.sql import SqlCatalog\n\n"
        "catalog = SqlCatalog(\n"
        '    "headwater",\n'
        f"    uri={_catalog_uri(page)!r},\n"
        f"    warehouse={page.svc.lake.warehouse!r},\n"
        ")\n"
        f"table = catalog.load_table(({ident.namespace!r}, {ident.dataset_id!r}))\n"
        "print(table.scan(limit=10).to_arrow())\n"
        'con = table.scan().to_duckdb("dataset")  # or query it with DuckDB\n'
        'print(con.sql("SELECT count(*) FROM dataset"))\n'
    )
    return {"duckdb": duck, "pyiceberg": iceberg}


@router.get(PREFIX + "/datasets/{dataset_id}")
def dataset(request: Request, dataset_id: str) -> Response:
    page = open_page(request)
    record = page.svc.datasets.record(page.ctx, dataset_id)  # scoped: another sandbox's dataset is not found
    view = page.svc.datasets.view(record)
    preview = page.svc.datasets.preview(page.ctx, dataset_id, limit=PREVIEW_ROWS)
    files = page.svc.lake.data_files(lake_ident(record)) if preview["columns"] else []
    return page.render(
        "dataset.html",
        ds=view,
        preview=preview,
        snapshots=_snapshots(page, record),
        snippets=snippets(page, record, files),
    )
