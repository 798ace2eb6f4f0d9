"""The data directory of a real `headwater serve` is private: 0700, and no file readable by others.

Before this, the SQLite database (with every tenant's encrypted credentials and the API clients'
hashes) and the warehouse files were created 0644 in a 0755 directory.
"""

from __future__ import annotations

import stat
from pathlib import Path

import httpx
import pytest

from tests.security.auth_support import create_credentials, exchange, headers
from tests.support.server import cli, running_server

pytestmark = pytest.mark.slow  # the CLI and `headwater serve` as processes, seconds each

ORG = "DATADIR00000000000000000000@AdobeOrg"
DATASET = {"name": "orders", "schema": {"columns": [{"name": "id", "type": "long"}]}}


def _exposed(root: Path, *, skip: set[Path]) -> list[str]:
    """Every path under `root` that its group or others can access in any way."""
    found = []
    for path in [root, *root.rglob("*")]:
        if path in skip:
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode & 0o077:
            found.append(f"{path.relative_to(root.parent)}: {oct(mode)}")
    return found


def test_server_state_is_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)  # as an operator's `mkdir` would leave it
    with running_server(data) as server:
        creds = create_credentials(server, ORG)
        local = cli(data, "token", "--org", ORG)
        assert local.strip()
        with httpx.Client(base_url=server.base_url, timeout=60) as http:
            token = exchange(http, creds["client_id"], creds["client_secret"]).json()["access_token"]
            resp = http.post(
                "/data/foundation/catalog/dataSets", json=DATASET, headers=headers(token, creds["client_id"], ORG)
            )
            assert resp.status_code == 201, resp.text
    names = {p.name for p in data.rglob("*")}
    assert {"headwater.db", "secret.key"} <= names
    assert any(p.suffix == ".json" for p in (data / "warehouse").rglob("*")), "the dataset's Iceberg metadata"
    # server.log is the test harness's own file (opened before the server starts), not the server's.
    assert not _exposed(data, skip={server.log_path}), _exposed(data, skip={server.log_path})


def test_cli_creates_a_missing_data_dir_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    cli(data, "migrate")
    cli(data, "credentials", "create", "--org", ORG)
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert (data / "headwater.db").exists()
    assert not _exposed(data, skip=set())
