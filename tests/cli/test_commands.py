"""Every user command against a live `headwater serve` and the local PostgreSQL, as a user types them."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import Hw, strict_json
from tests.support.ids import ORG
from tests.support.pg import pg_admin
from tests.support.server import LiveServer, cli

pytestmark = pytest.mark.slow  # a `headwater serve` per module


@pytest.fixture
def source() -> Iterator[str]:
    """A table with a NULL, NaN and ±Infinity among its values, analyzed so it has a row estimate."""
    schema = f"hw_cli_{uuid.uuid4().hex[:8]}"
    with pg_admin() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".items (id bigint primary key, name text, score float8)')
        conn.execute(f"INSERT INTO \"{schema}\".items SELECT g, 'n' || g, g * 0.5 FROM generate_series(1, 36) g")
        conn.execute(
            f"INSERT INTO \"{schema}\".items VALUES (37, NULL, 'NaN'), (38, 'inf', 'Infinity'), "
            "(39, 'ninf', '-Infinity'), (40, 'null score', NULL)"
        )
        conn.execute(f'ANALYZE "{schema}".items')
    try:
        yield f"{schema}.items"
    finally:
        with pg_admin() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


# A `once` flow runs at its start time (now by default): these tests start their runs themselves.
LATER = "4102444800"  # 2100-01-01
PG_PARAMS = ("-p", "server=127.0.0.1", "-p", "port=5432", "-p", "database=postgres", "-p", "username=postgres",
             "-p", "password=unused-with-trust", "-p", "sslMode=Disable")  # fmt: skip


def test_login_writes_a_private_profile_and_never_prints_the_secret(hw: Hw, account: dict[str, str]) -> None:
    hw.config_dir.mkdir(mode=0o755)  # made earlier by something else, readable by all: tightened
    hw.config_dir.chmod(0o755)
    out = hw(
        "login", "--client-id", account["client_id"], "--client-secret", account["client_secret"],
        "--sandbox", "prod", env={"HEADWATER_CLIENT_ID": "", "HEADWATER_CLIENT_SECRET": ""},
    )  # fmt: skip
    profile = hw.config_dir / "profile.toml"
    assert stat.S_IMODE(profile.stat().st_mode) == 0o600
    assert stat.S_IMODE(hw.config_dir.stat().st_mode) == 0o700
    assert account["client_secret"] not in out.out + out.err
    assert account["client_id"] in out.out
    # The saved profile alone signs requests: no credentials in the environment.
    bare = Hw(hw.server, hw.config_dir)
    assert bare("connections", "list", "--json").json() == []
    assert account["client_secret"] in profile.read_text()  # kept to take new tokens, in a 0600 file
    assert "access_token" in profile.read_text()
    hw("logout")
    assert bare("connections", "list", ok=False).code == 2


def test_a_wrong_secret_shows_the_ims_error(hw: Hw, account: dict[str, str]) -> None:
    out = hw("connections", "list", ok=False, env={"HEADWATER_CLIENT_SECRET": "not-the-secret"})
    assert out.code == 1
    assert "invalid_client (HTTP 401)" in out.err
    assert "not-the-secret" not in out.out + out.err


def test_the_whole_path_connection_dataset_flow_run_preview(hw: Hw, source: str, tmp_path: Path) -> None:
    conn = hw("connections", "create", "--name", "pg", "--spec", "postgres", *PG_PARAMS, "--json").json()
    assert hw("connections", "show", conn["id"], "--json").json()["auth"]["params"]["server"] == "127.0.0.1"
    listed = hw("connections", "list")
    assert conn["id"] in listed.out and "NAME" in listed.out
    assert conn["id"] in [c["id"] for c in hw("connections", "list", "--json").json()]

    dataset = hw("datasets", "create", "--name", "items", "--json").json()["id"]
    assert hw("datasets", "show", dataset, "--json").json()["id"] == dataset
    assert dataset in hw("datasets", "list").out

    flow = hw(
        "flows", "create", "--name", "items", "--connection", conn["id"], "--table", source, "--dataset", dataset,
        "--start-time", LATER, "--json",
    ).json()["id"]  # fmt: skip
    assert hw("flows", "show", flow, "--json").json()["state"] == "enabled"
    assert "once" in hw("flows", "list").out

    run = hw("flows", "run", flow, "--json").json()["id"]
    watched = hw("runs", "watch", run, "--every", "0.2", "--timeout", "120")
    last = watched.out.strip().splitlines()[-1]
    assert "100%" in last and "read 40 rows" in last and "success" in last
    shown = hw("runs", "show", run, "--json").json()
    assert shown["metrics"]["recordSummary"]["outputRecordCount"] == 40
    assert run in [r["id"] for r in hw("runs", "list", "--flow", flow, "--json").json()]
    assert "success" in hw("runs", "list", "--flow", flow).out

    preview = hw("datasets", "preview", dataset, "--limit", "100", "--json").json()
    assert preview["rowCount"] == 40
    scores = {row["id"]: row["score"] for row in preview["data"]}
    assert (scores[37], scores[38], scores[39], scores[40]) == ("NaN", "Infinity", "-Infinity", None)
    table = hw("datasets", "preview", dataset, "--limit", "100").out
    assert "NaN" in table and "NULL" in table and "40 rows" in table

    hw("flows", "disable", flow)
    assert hw("flows", "show", flow, "--json").json()["state"] == "disabled"
    refused = hw("flows", "run", flow, ok=False)
    assert refused.code == 1 and "1388" in refused.err and "enable it" in refused.err
    disabled = hw("flows", "list", "--property", "state==disabled", "--property", "name==items", "--json").json()
    assert [f["id"] for f in disabled] == [flow]
    assert hw("flows", "list", "--property", "state==disabled", "--property", "name==other", "--json").json() == []
    hw("flows", "enable", flow)
    hw("flows", "delete", flow)
    assert "404" in hw("flows", "show", flow, ok=False).err


def test_create_from_a_json_file_and_delete(hw: Hw, tmp_path: Path) -> None:
    body = {
        "name": "from a file",
        "auth": {"specName": "Basic Authentication", "params": {
            "server": "127.0.0.1", "port": "5432", "database": "postgres", "username": "postgres",
            "password": "unused-with-trust", "sslMode": "Disable"}},
        "connectionSpec": {"id": "74a1c565-4e59-48d7-9d67-7c03b8a13137", "version": "1.0"},
    }  # fmt: skip
    path = tmp_path / "connection.json"
    path.write_text(json.dumps(body))
    created = hw("connections", "create", "--file", str(path), "--json").json()
    assert hw("connections", "show", created["id"], "--json").json()["name"] == "from a file"
    assert hw("connections", "delete", created["id"]).out.startswith("deleted connection")
    gone = hw("connections", "show", created["id"], ok=False)
    assert gone.code == 1 and "(HTTP 404)" in gone.err

    dataset = hw("datasets", "create", "--name", "doomed", "--json").json()["id"]
    assert hw("datasets", "delete", dataset, "--json").json() == {"id": dataset, "deleted": True}

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert hw("connections", "create", "--file", str(bad), ok=False).code == 2


def test_a_recurring_flow_runs_now_through_the_extension(hw: Hw, source: str) -> None:
    conn = hw("connections", "create", "--name", "pg", "--spec", "postgres", *PG_PARAMS, "--json").json()["id"]
    dataset = hw("datasets", "create", "--name", "hourly", "--json").json()["id"]
    flow = hw(
        "flows", "create", "--name", "hourly", "--connection", conn, "--table", source, "--dataset", dataset,
        "--frequency", "hour", "--interval", "1", "--delta-column", "id", "--start-time", LATER, "--json",
    ).json()["id"]  # fmt: skip
    run = hw("flows", "run", flow, "--json").json()["id"]
    shown = hw("runs", "show", run, "--json").json()
    assert shown["params"] == {"runNow": True}
    assert shown["providerRefId"].startswith("incremental-")
    hw("runs", "watch", run, "--every", "0.2", "--timeout", "120")


def test_every_list_and_show_prints_strict_json(hw: Hw) -> None:
    for group in ("connections", "flows", "runs", "datasets"):
        assert isinstance(strict_json(hw(group, "list", "--json").out), list)


def test_another_sandbox_sees_nothing(hw: Hw) -> None:
    hw("datasets", "create", "--name", "in prod")
    assert hw("datasets", "list", "--sandbox", "dev", "--json").json() == []


def test_lists_follow_every_page(hw: Hw, account: dict[str, str]) -> None:
    made = {
        hw("connections", "create", "--name", f"c{i}", "--spec", "postgres", *PG_PARAMS, "--json").json()["id"]
        for i in range(5)
    }
    listed = [c["id"] for c in hw("connections", "list", "--json").json()]  # pages of 2 on this server
    assert made <= set(listed) and len(listed) == len(set(listed))
    assert len(hw("connections", "list", "--limit", "3", "--json").json()) == 3

    # The Catalog pages by offset, 100 at most: 101 datasets take two pages.
    token = httpx.post(f"{hw.server.base_url}/ims/token/v3", data={"grant_type": "client_credentials", **{
        k: account[k] for k in ("client_id", "client_secret")}}).json()["access_token"]  # fmt: skip
    headers = {"Authorization": f"Bearer {token}", "x-api-key": account["client_id"], "x-gw-ims-org-id": ORG,
               "x-sandbox-name": "paging"}  # fmt: skip
    with httpx.Client(base_url=hw.server.base_url, headers=headers, timeout=30) as client:
        for i in range(101):
            assert client.post("/data/foundation/catalog/dataSets", json={"name": f"d{i}"}).status_code == 201
    datasets = hw("datasets", "list", "--sandbox", "paging", "--json").json()
    assert len({d["id"] for d in datasets}) == 101
    assert len(hw("datasets", "list", "--sandbox", "paging", "--limit", "7", "--json").json()) == 7


def test_administrative_commands_print_strict_json(server: LiveServer) -> None:
    made = strict_json(cli(server.data_dir, "credentials", "create", "--org", ORG, "--json"))
    listed = strict_json(cli(server.data_dir, "credentials", "list", "--org", ORG, "--json"))
    assert made["client_id"] in [c["client_id"] for c in listed]
    revoked = strict_json(cli(server.data_dir, "credentials", "revoke", made["client_id"], "--json"))
    assert revoked == {"client_id": made["client_id"], "revoked": True}
    assert strict_json(cli(server.data_dir, "migrate", "--json")) == {"upToDate": True}
    assert strict_json(cli(server.data_dir, "token", "--org", ORG, "--json"))["org"] == ORG
