"""The scheduler's tick at 100,000 flows: idle, and with N flows due, against the tick of an older tree.

    python bench/scheduler_tick.py [--flows 100000] [--due 100,1000] [--reference-commit 2a61e06] [--postgres]

Seeds one metadata database (SQLite in a temporary directory, or a fresh PostgreSQL database) with
`--flows` enabled flows: `max(--due)` of them hourly since a past start time, the rest starting in
ten years. Then it times, on the same database:
- the first tick (every flow written since the last tick is planned once: here all of them),
- an idle tick (nothing due: the median of 20),
- a due tick at the next hour with N flows due (each N: the due flows are disabled beyond N),
for this tree's scheduler and, in a child process, for the scheduler of `--reference-commit`
(checked out with `git worktree add`), and prints the times and their ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
ORG = "BENCH000000000000000000000@AdobeOrg"
START = 1_700_000_000
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
_SCHEDULERS: dict[str, Any] = {}


def seed(url: str, *, flows: int, hourly: int) -> list[str]:
    """Insert the flows in batches (straight into the table, with the keys the store derives)."""
    from sqlalchemy import insert, text

    from headwater.store import Store, new_etag
    from headwater.store.keys import index_keys
    from headwater.store.tables import resources

    store = Store.from_url(url)
    store.migrate()
    far = {"startTime": str(START + 10 * 365 * 86400), "frequency": "hour", "interval": "1"}
    now = {"startTime": str(START), "frequency": "hour", "interval": "1"}
    ids, rows = [], []
    for i in range(flows):
        doc = {
            "name": f"flow {i}",
            "state": "enabled",
            "flowSpec": {"id": "x", "version": "1.0"},
            "scheduleParams": now if i < hourly else far,
        }
        flow_id = str(uuid.uuid4())
        ids.append(flow_id)
        rows.append(
            {
                "id": flow_id,
                "kind": "flow",
                "org": ORG,
                "sandbox": "prod",
                "doc": doc,
                "etag": new_etag(),
                "created_at": i,
                "updated_at": i,
                **index_keys("flow", doc),
            }
        )
        if len(rows) == 2000 or i == flows - 1:
            with store.begin() as conn:
                conn.execute(insert(resources), rows)
            rows = []
    if url.startswith("postgresql"):
        with store.begin() as conn:  # statistics, as autovacuum would gather them after a bulk load
            conn.execute(text("ANALYZE"))
    store.engine.dispose()
    return ids[:hourly]


def set_state(url: str, flow_ids: list[str], state: str) -> None:
    """Enable or disable flows as the API does (a store update, which also asks the scheduler to look)."""
    from headwater.store import Scope, Store

    store = Store.from_url(url)
    for flow_id in flow_ids:
        record = store.get("flow", Scope(ORG, "prod"), flow_id)
        assert record is not None
        doc = {**record.doc, "state": state}
        store.update("flow", record.scope, flow_id, doc=doc, secrets=None, expected_etag=record.etag)
    store.engine.dispose()


def drop_runs_at(url: str, scheduled_at_ms: int) -> None:
    from sqlalchemy import delete

    from headwater.store import Store
    from headwater.store.tables import runs

    store = Store.from_url(url)
    with store.begin() as conn:
        conn.execute(delete(runs).where(runs.c.scheduled_at == scheduled_at_ms))
    store.engine.dispose()


def tick_times(url: str, now_s: int, repeat: int) -> dict[str, Any]:
    """In this process: `repeat` ticks at `now_s` (whatever tree is importable), their times and results."""
    from headwater.runs.scheduler import Scheduler
    from headwater.store import Store

    # One store per database for the whole benchmark, as a running scheduler keeps its engine (and
    # with it the compiled statements) from tick to tick.
    if url not in _SCHEDULERS:
        _SCHEDULERS[url] = Scheduler(Store.from_url(url))
    scheduler = _SCHEDULERS[url]
    seconds, created = [], []
    for _ in range(repeat):
        began = time.perf_counter()
        report = scheduler.tick(now_s=now_s)
        seconds.append(time.perf_counter() - began)
        created.append(report.created)
    return {"ms": statistics.median(seconds) * 1000, "created": created}


def reference_ticks(src: Path, url: str, now_s: int, repeat: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child-tick", url, "--now", str(now_s), "--repeat", str(repeat)],
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--due", default="100,1000", help="numbers of due flows to time, comma-separated")
    parser.add_argument("--reference-commit", default="2a61e06", help="the older tree to compare with")
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL as the metadata database")
    parser.add_argument("--child-tick", help=argparse.SUPPRESS)
    parser.add_argument("--now", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_tick:
        print(json.dumps(tick_times(args.child_tick, args.now, args.repeat)))
        return 0

    dues = sorted(int(n) for n in args.due.split(","))
    work = Path(tempfile.mkdtemp(prefix="hw-tick-"))
    reference = work / "reference"
    subprocess.run(
        ["git", "-C", str(REPO), "worktree", "add", "--detach", str(reference), args.reference_commit],
        check=True,
        capture_output=True,
    )
    pg_db = None
    if args.postgres:
        import psycopg

        pg_db = f"hw_tick_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_db}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{pg_db}"
    else:
        url = f"sqlite:///{work / 'meta.db'}"
    try:
        began = time.perf_counter()
        hourly = seed(url, flows=args.flows, hourly=dues[-1])
        print(
            f"seeded {args.flows:,} flows in {time.perf_counter() - began:.0f}s "
            f"({'PostgreSQL' if pg_db else 'SQLite'}); reference: {args.reference_commit}",
            flush=True,
        )
        rows: list[tuple[str, float, float]] = []
        first = tick_times(url, START + 10, 1)
        rows.append(("first tick (plans every flow)", first["ms"], float("nan")))
        assert first["created"] == [dues[-1]], first
        idle = tick_times(url, START + 20, 20)
        old_idle = reference_ticks(reference / "src", url, START + 20, 5)
        assert idle["created"] == [0] * 20 and old_idle["created"] == [0] * 5
        rows.append(("idle tick", idle["ms"], old_idle["ms"]))
        for hour, n in enumerate(dues, start=1):
            at = START + hour * 3600
            set_state(url, hourly[n:], "disabled")
            tick_times(url, at - 1, 1)  # the disabled flows are planned out (not timed)
            old = reference_ticks(reference / "src", url, at, 1)
            drop_runs_at(url, at * 1000)
            new = tick_times(url, at, 1)
            assert new["created"] == old["created"] == [n], (new, old)
            rows.append((f"tick with {n:,} due", new["ms"], old["ms"]))
            set_state(url, hourly[n:], "enabled")
            tick_times(url, at + 1, 1)
        print(f"{'':<32} {'this tree ms':>13} {'reference ms':>13} {'ratio':>7}")
        for name, mine, ref in rows:
            ratio = f"{mine / ref:.4f}" if ref == ref else ""
            ref_text = f"{ref:.1f}" if ref == ref else "-"
            print(f"{name:<32} {mine:>13.1f} {ref_text:>13} {ratio:>7}")
        print("RESULT " + json.dumps({name: {"ms": mine, "reference_ms": ref} for name, mine, ref in rows}))
    finally:
        for scheduler in _SCHEDULERS.values():
            scheduler.store.engine.dispose()
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(reference)], capture_output=True)
        if pg_db:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
