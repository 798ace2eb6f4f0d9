"""A server process sets its started heap aside from the garbage collector (api/heap.py); an app built
without asking (tests, embedders) leaves the collector as it was."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# In a process of its own: freezing this test process's heap would outlive the test.
_PROBE = """
import gc, sys
from fastapi.testclient import TestClient
from headwater.api import create_app
from headwater.settings import Settings

app = create_app(Settings(run_embedded_executor=False), settle_heap=sys.argv[1] == "settle")
with TestClient(app) as client:
    assert client.get("/openapi.json").status_code == 200
    print(gc.get_freeze_count())
"""


@pytest.mark.parametrize(("mode", "frozen"), [("settle", True), ("plain", False)])
def test_only_a_server_process_freezes_its_started_heap(mode: str, frozen: bool, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWATER_")}
    env["HEADWATER_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-c", _PROBE, mode], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    count = int(done.stdout.strip().splitlines()[-1])
    # What Headwater and its libraries leave alive at start: hundreds of thousands of objects.
    assert (count > 100_000) if frozen else (count == 0), count
