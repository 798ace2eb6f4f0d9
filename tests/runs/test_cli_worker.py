"""`headwater worker` without a broker: a separate process that claims runs from the metadata database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater.runs.ledger import Ledger
from headwater.runs.model import RunStatus
from headwater.service import Services
from headwater.settings import Settings
from tests.runs.source import SourceDb, context, create_flow

pytestmark = pytest.mark.slow  # `headwater worker` as a process


def test_headwater_worker_claims_and_executes_runs(tmp_path: Path, source_db: SourceDb) -> None:
    data = tmp_path / "data"
    svc = Services(Settings(data_dir=data, run_embedded_executor=False))
    svc.migrate()
    with source_db.connect() as conn:
        conn.execute("CREATE TABLE gone (id bigint)")
    flow = create_flow(svc, source_db=source_db.name, table="public.gone", delta=None, frequency="once")
    # The table is dropped after the flow was accepted: the run must fail at once with a source error.
    with source_db.connect() as conn:
        conn.execute("DROP TABLE gone")
    run_id = svc.runs.create(context(), {"flowId": flow.id})["items"][0]["id"]
    env = {**os.environ, "HEADWATER_DATA_DIR": str(data), "HEADWATER_WORKERS": "1"}
    env.pop("HEADWATER_BROKER_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "headwater.cli", "worker"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        row = Ledger(svc.store).get(run_id)
        while time.monotonic() < deadline and row is not None and not row.status.terminal:
            time.sleep(0.1)
            row = Ledger(svc.store).get(run_id)
    finally:
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out.decode()[-2000:]
    assert b"worker started" in out
    assert row is not None and row.status is RunStatus.FAILED and row.attempt == 1, out.decode()[-2000:]
    assert row.doc["metrics"]["statusSummary"]["errors"][0]["code"].startswith("CONNECTOR-1001-")
