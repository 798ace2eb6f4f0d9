"""`headwater worker` logs through the same configuration: its pool's and Celery's lines, as JSON on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.net import wait_for

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
