"""`headwater worker` logs through the same configuration: its pool's and Celery's lines, as JSON on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from headwater.settings import Settings
from tests.support.chain import make_chain
from tests.support.net import free_port, wait_for
from tests.support.pg import pg_table
from tests.support.tenants import Tenant

pytestmark = pytest.mark.slow  # a worker process (and Celery on Redis)

REDIS_DB = "redis://127.0.0.1:6379/11"


def _json_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in path.read_text(errors="replace").splitlines() if x.startswith("{")]


def _run_worker(tmp_path: Path, env: dict[str, str], ready: str) -> Path:
    """Start `headwater worker`, wait for a JSON line whose message contains `ready`, stop it; its stderr file."""
    stderr = tmp_path / "stderr.log"
    full = {**os.environ, "HEADWATER_DATA_DIR": str(tmp_path / "data"), "HEADWATER_LOG_FORMAT": "json", **env}
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "headwater.cli", "worker"], env=full, stdout=subprocess.DEVNULL, stderr=err
        )
    try:
        wait_for(
            f"a JSON line containing {ready!r} (stderr: {stderr})",
            lambda: proc.poll() is None and any(ready in x["message"] for x in _json_lines(stderr)),
            timeout=60,
            every=0.2,
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return stderr


def test_the_embedded_pool_logs_json(tmp_path: Path) -> None:
    stderr = _run_worker(tmp_path, {}, "run engine started")
    lines = _json_lines(stderr)
    assert any(x["logger"] == "headwater.runs.executor" and x["level"] == "INFO" for x in lines)


def test_a_celery_worker_logs_json(tmp_path: Path) -> None:
    stderr = _run_worker(tmp_path, {"HEADWATER_BROKER_URL": REDIS_DB}, " ready.")
    lines = _json_lines(stderr)
    assert any(x["logger"].startswith("celery.") for x in lines)
    # Python's warnings (Celery warns about running as root) are log lines too: stderr has one format.
    text = [x for x in stderr.read_text().splitlines() if x.strip()]
    assert all(x.startswith("{") for x in text), [x for x in text if not x.startswith("{")][:5]


def test_a_worker_serves_the_metrics_of_the_runs_it_executes(
    settings: Settings, client: TestClient, tenant: Tenant, tmp_path: Path
) -> None:
    port = free_port()
    stderr = tmp_path / "worker.log"
    env = {
        **os.environ,
        "HEADWATER_DATA_DIR": str(settings.data_dir),
        "HEADWATER_LOG_FORMAT": "json",
        "HEADWATER_WORKER_METRICS_PORT": str(port),
        "HEADWATER_RUN_POLL_SECONDS": "0.2",
    }
    with pg_table("hw_wm", rows=23) as table:
        chain = make_chain(client, tenant.headers(), table)  # its on-demand run waits for a worker
        with stderr.open("wb") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "headwater.cli", "worker"], env=env, stdout=subprocess.DEVNULL, stderr=err
            )
        try:

            def rows_read() -> float:
                text = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
                samples = [s for f in text_string_to_metric_families(text) for s in f.samples]
                read = [
                    s.value for s in samples if s.name == "headwater_run_rows_total" and s.labels["stage"] == "read"
                ]
                return read[0] if read else 0.0

            assert wait_for("the worker to run the flow", rows_read, timeout=120, every=0.3) == 23
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    tagged = [x for x in _json_lines(stderr) if x.get("run_id") == chain.run]
    assert any("-> success" in x["message"] for x in tagged), stderr.read_text()[-3000:]
