"""What a flow's run history costs the reads that ask about the flow's runs.

    python bench/run_history.py [--depths 10,2000,20000] [--flows 20]

For each depth, a fresh SQLite metadata database (the default) gets `--flows` flows with that many
ended runs each, then measures:
- a page's last ended runs (`Ledger.last_finished`, what `GET /flows` shows as lastRunDetails), CPU ms;
- a scheduler tick's newest scheduled times of the same flows (`Ledger.last_scheduled`), CPU ms;
- one claim of a new pending run of such a flow (`Ledger.claim`, with its commit), CPU ms.

Reads that seek stay flat as the history grows; reads that walk the history grow with it. Run it on
two trees to compare them: `PYTHONPATH=<tree>/src .venv/bin/python bench/run_history.py`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert

from headwater.runs.ledger import Ledger
from headwater.runs.report import new_doc
from headwater.store import Scope, Store
from headwater.store.tables import runs

SCOPE = Scope("HISTORY00000000000000000@AdobeOrg", "prod")
ENDED_DOC = {**new_doc(flow_spec={}, trigger="schedule"), "metrics": {"durationSummary": {"startedAtUTC": 1}}}


def seeded_store(directory: Path, *, flows: int, depth: int) -> tuple[Store, list[str]]:
    store = Store.from_url(f"sqlite:///{directory / 'meta.db'}")
    store.migrate()
    flow_ids = [str(uuid.uuid4()) for _ in range(flows)]
    with store.engine.begin() as conn:
        for flow_id in flow_ids:
            rows = [
                {
                    "id": str(uuid.uuid4()),
                    "org": SCOPE.org,
                    "sandbox": SCOPE.sandbox,
                    "flow_id": flow_id,
                    "scheduled_at": 1_000 * k,
                    "status": "success" if k % 10 else "failed",
                    "doc": ENDED_DOC,
                    "etag": '"e"',
                    "attempt": 1,
                    "created_at": 1_000 * k,
                    "updated_at": 1_000 * k + 500,
                }
                for k in range(1, depth + 1)
            ]
            conn.execute(insert(runs), rows)
    with store.engine.connect() as conn:  # the seeding's log is folded in now, not during a timed claim
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    return store, flow_ids


def cpu_ms(fn: Callable[..., object], *args: object, repeat: int) -> float:
    fn(*args)  # compiled and cached before it is timed
    began = time.process_time()
    for _ in range(repeat):
        fn(*args)
    return (time.process_time() - began) / repeat * 1000


def claim_ms(store: Store, flow_id: str, *, claims: int) -> float:
    ledger, spent = Ledger(store), 0.0
    for k in range(claims):
        run_id = str(uuid.uuid4())
        doc = new_doc(flow_spec={}, trigger="api")
        assert ledger.insert(run_id=run_id, scope=SCOPE, flow_id=flow_id, scheduled_at=10**12 + k, doc=doc)
        began = time.process_time()
        row = ledger.claim(run_id, owner="bench", now=int(time.time() * 1000), lease_ms=60_000)
        spent += time.process_time() - began
        assert row is not None, "the claim was refused"
        with store.engine.begin() as conn:  # ended, so the next claim of the flow is not held back
            conn.execute(runs.update().where(runs.c.id == run_id).values(status="success", lease_expires_at=None))
    return spent / claims * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--depths", default="10,2000,20000", help="ended runs per flow, comma-separated")
    parser.add_argument("--flows", type=int, default=20, help="flows asked about (a page of flows)")
    args = parser.parse_args()
    print(f"{'runs per flow':>14} {'last ended ms':>14} {'last scheduled ms':>18} {'claim ms':>9}")
    for depth in (int(d) for d in args.depths.split(",")):
        with tempfile.TemporaryDirectory(prefix="hw-history-") as tmp:
            store, flow_ids = seeded_store(Path(tmp), flows=args.flows, depth=depth)
            ledger = Ledger(store)
            repeat = 20 if depth >= 10_000 else 200
            ended = cpu_ms(ledger.last_finished, SCOPE, flow_ids, repeat=repeat)
            scheduled = cpu_ms(ledger.last_scheduled, flow_ids, repeat=repeat)
            claim = claim_ms(store, flow_ids[0], claims=100)
            print(f"{depth:>14,} {ended:>14.3f} {scheduled:>18.3f} {claim:>9.2f}", flush=True)
            store.engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
