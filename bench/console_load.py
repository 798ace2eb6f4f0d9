"""Console page-load times with 10,000 flows in the sandbox, beside the same pages in a sandbox of 10.

Seeds one org's prod sandbox with `--flows` flows (and runs) through the service and store layers
(connections, sources, targets and a dataset through the services; flows and runs written to the
store shaped as the services write them, since creating 10,000 flows through the API would describe
the source table 10,000 times), and a reference org with 10, starts a real `headwater serve`, signs in to the
console as each org, and times each page `--repeat` times (wall time of a full GET, HTML included).
Prints the median and p95 per page for both sandboxes and the ratio of medians; the target is every
page under 300 ms at 10,000 flows.

    .venv/bin/python bench/console_load.py --flows 10000
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from _common import CRM_TO_AEP, LAKE_SPEC, PG_SPEC, start_server

BIG_ORG = "CONSOLEBIG0000000000000000@AdobeOrg"
REF_ORG = "CONSOLEREF0000000000000000@AdobeOrg"
TARGET_MS = 300.0


def seed(settings: Any, org: str, *, flows: int, runs: int) -> str:
    """`flows` enabled hourly flows over 10 source/target pairs, `runs` finished runs; returns a middle flow's id."""
    from headwater.identity import Principal
    from headwater.runs.ledger import Ledger
    from headwater.runs.report import new_doc
    from headwater.service import Context, Services
    from headwater.store import Scope

    svc = Services(settings)
    svc.migrate()
    scope = Scope(org, "prod")
    ctx = Context(principal=Principal("bench", org), scope=scope, request_id="seed")
    pg = {"id": PG_SPEC, "version": "1.0"}
    params = {"server": "db.internal", "port": 5432, "database": "postgres", "username": "postgres",
              "password": "bench", "sslMode": "Disable"}  # fmt: skip
    auth = {"specName": "Basic Authentication", "params": params}
    conn = svc.connections.create(ctx, {"name": "pg", "auth": auth, "connectionSpec": pg})["id"]
    (dataset_ref,) = svc.datasets.create(ctx, {"name": "bench ds"})
    lake = {"id": LAKE_SPEC, "version": "1.0"}
    pairs = []
    for i in range(10):
        body = {"name": f"src {i}", "baseConnectionId": conn, "params": {"tableName": f"t{i}"}, "connectionSpec": pg}
        src = svc.source_connections.create(ctx, body)["id"]
        target = {"name": f"tgt {i}", "params": {"dataSetId": dataset_ref.rsplit("/", 1)[-1]}, "connectionSpec": lake}
        pairs.append((src, svc.target_connections.create(ctx, target)["id"]))
    audit = {"createdBy": "bench@AdobeID", "createdClient": "bench", "updatedBy": "bench@AdobeID",
             "updatedClient": "bench"}  # fmt: skip
    flow_ids = []
    for i in range(flows):
        src, tgt = pairs[i % len(pairs)]
        doc = {
            "name": f"flow {i}", "description": "", "flowSpec": {"id": CRM_TO_AEP, "version": "1.0"},
            "state": "enabled", "sourceConnectionIds": [src], "targetConnectionIds": [tgt], "transformations": [],
            "scheduleParams": {"startTime": "1700000000", "frequency": "hour", "interval": "1"}, **audit,
            "lastOperation": {"started": 0, "updated": 0, "operation": "create"},
        }  # fmt: skip
        flow_ids.append(svc.store.insert("flow", scope, id=str(uuid.uuid4()), doc=doc).id)
    start_ms = 1_700_000_000_000
    batch = []
    for i in range(runs):
        doc = new_doc(flow_spec={"id": CRM_TO_AEP, "version": "1.0"}, trigger="schedule")
        doc["metrics"]["durationSummary"] = {"startedAtUTC": start_ms + i, "completedAtUTC": start_ms + i + 1000}
        doc["metrics"]["statusSummary"]["status"] = "success"
        batch.append({"run_id": str(uuid.uuid4()), "scope": scope, "flow_id": flow_ids[i % len(flow_ids)],
                      "scheduled_at": start_ms + (i // len(flow_ids)) * 3_600_000, "doc": doc})  # fmt: skip
    Ledger(svc.store).insert_many(batch)
    svc.store.engine.dispose()
    return flow_ids[len(flow_ids) // 2]


def sign_in(base: str, client_id: str, secret: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=60)
    client.get("/console/signin")
    nonce = client.cookies.get("hw_console_signin")
    form = {"csrf": nonce or "", "client_id": client_id, "client_secret": secret, "next": "/console/flows"}
    answer = client.post("/console/signin", data=form)
    if answer.status_code != 303:
        raise SystemExit(f"sign-in failed: {answer.status_code} {answer.text[:200]}")
    return client


def pages(client: httpx.Client, flow_id: str) -> dict[str, str]:
    """The console's pages for one signed-in org (links found on the pages themselves)."""
    first = client.get("/console/flows").text
    after = re.search(r'href="(/console/flows\?after=[^"]+)"', first)
    datasets = client.get("/console/datasets").text
    dataset = re.search(r'href="(/console/datasets/[0-9a-f]+)"', datasets)
    out = {
        "flows": "/console/flows",
        "flows page 2": after.group(1).replace("&amp;", "&") if after else "/console/flows",
        "flow": f"/console/flows/{flow_id}",
        "flow runs (poll)": f"/console/flows/{flow_id}/runs",
        "sources": "/console/sources",
        "datasets": "/console/datasets",
        "sign-in": "/console/signin",
    }
    if dataset:
        out["dataset"] = dataset.group(1)
    return out


def time_page(client: httpx.Client, path: str, repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        answer = client.get(path)
        samples.append((time.perf_counter() - began) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"GET {path}: {answer.status_code} {answer.text[:200]}")
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flows", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()

    from headwater.service import Services
    from headwater.settings import Settings

    data = Path(tempfile.mkdtemp(prefix="hw-console-bench-"))
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data), "HEADWATER_RUN_EMBEDDED_EXECUTOR": "false"}
    settings = Settings(data_dir=data)
    began = time.perf_counter()
    big_flow = seed(settings, BIG_ORG, flows=args.flows, runs=args.runs)
    ref_flow = seed(settings, REF_ORG, flows=10, runs=20)
    svc = Services(settings)
    creds = {org: svc.tokens.create_credentials(org) for org in (BIG_ORG, REF_ORG)}
    svc.store.engine.dispose()
    seeded_s = time.perf_counter() - began
    print(f"seeded {args.flows} flows and {args.runs} runs (+ a reference sandbox of 10) in {seeded_s:.1f} s")

    proc, base = start_server(data, env)
    try:
        clients = {org: sign_in(base, c.client_id, c.client_secret) for org, c in creds.items()}
        big_pages = pages(clients[BIG_ORG], big_flow)
        ref_pages = pages(clients[REF_ORG], ref_flow)
        print(f"{'page':<18} {'10 flows ms (median/p95)':>26} {f'{args.flows} flows ms (median/p95)':>30} {'ratio':>7}")
        worst = 0.0
        for name, path in big_pages.items():
            ref_path = ref_pages.get(name, path)
            ref_med, ref_p95 = time_page(clients[REF_ORG], ref_path, args.repeat)
            big_med, big_p95 = time_page(clients[BIG_ORG], path, args.repeat)
            worst = max(worst, big_p95)
            ratio = big_med / ref_med
            print(f"{name:<18} {ref_med:>16.1f} / {ref_p95:<8.1f} {big_med:>20.1f} / {big_p95:<8.1f} {ratio:>6.2f}x")
        verdict = "under" if worst < TARGET_MS else "OVER"
        print(f"slowest p95 at {args.flows} flows: {worst:.1f} ms ({verdict} the {TARGET_MS:.0f} ms target)")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
