"""What one page of a name-ordered list costs at 10 and at 10,000 resources (SQLite and PostgreSQL).

An in-process app (TestClient) on a fresh metadata database; connections are bulk-inserted, then
`GET /connections?orderby=name&limit=5` (and `-name`, and the page after it through its token) is
timed. Figures are per request, median of `--repeat`: wall ms and this process's CPU ms (the app,
the client and SQLite; PostgreSQL's own backend is not counted). Run it on two source trees to
compare, e.g. before and after a change:

    PYTHONPATH=src:. .venv/bin/python bench/name_order.py --repeat 30
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from headwater.store import now_ms
from headwater.store.keys import index_keys
from headwater.store.tables import resources
from tests.support.ids import FLOW, PG_SPEC
from tests.support.metadata import app_on


def _bulk(services: Any, org: str, count: int) -> None:
    ts = now_ms()
    rows = []
    for i in range(count):
        doc = {"name": f"{'Nn'[i % 2]}ame {uuid.uuid4().hex[:8]}", "state": "enabled",
               "connectionSpec": {"id": PG_SPEC, "version": "1.0"}}  # fmt: skip
        at = ts + i
        rows.append({"id": str(uuid.uuid4()), "kind": "connection", "org": org, "sandbox": "prod", "doc": doc,
                     "etag": '"e"', "created_at": at, "updated_at": at, **index_keys("connection", doc)})  # fmt: skip
    with services.store.begin() as conn:
        conn.execute(insert(resources), rows)
    if services.store.engine.dialect.name == "postgresql":
        with services.store.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE resources")


def _time(client: Any, headers: dict[str, str], url: str, repeat: int) -> tuple[float, float]:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        resp = client.get(url, headers=headers)
        walls.append((time.perf_counter() - w) * 1000)
        cpus.append((time.process_time() - c) * 1000)
        assert resp.status_code == 200, resp.text
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--backends", default="sqlite,postgresql")
    args = parser.parse_args()
    for backend in args.backends.split(","):
        with tempfile.TemporaryDirectory() as tmp, app_on(backend, Path(tmp), prefix="hw_bench_names") as made:
            client, services, tenant = made
            headers = tenant.headers()
            have = 0
            for total in (10, 10_000):
                _bulk(services, tenant.org, total - have)
                have = total
                for order in ("name", "-name"):
                    url = f"{FLOW}/connections?orderby={order}&limit=5"
                    wall, cpu = _time(client, headers, url, args.repeat)
                    nxt = FLOW + client.get(url, headers=headers).json()["_links"]["next"]["href"]
                    wall2, cpu2 = _time(client, headers, nxt, args.repeat)
                    print(f"{backend:10} {total:>6} orderby={order:5}  first page {wall:7.1f} ms wall "
                          f"{cpu:7.1f} ms cpu   next page {wall2:7.1f} ms wall {cpu2:7.1f} ms cpu")  # fmt: skip


if __name__ == "__main__":
    main()
