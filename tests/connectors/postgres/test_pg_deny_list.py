"""HEADWATER_SOURCE_DENY and the metadata database's own endpoint, on a real server.

Refused when a connection is created (400), and at every connect for a connection saved before the
operator set the list (the server restarted with it): /test reports it, explore refuses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.connectors.postgres.live import BASIC, CONN_STRING, POLICY_REFUSAL, Tenant, message, own_address, serving
from tests.support.cluster import Cluster, remove_cluster, start_cluster

pytestmark = pytest.mark.slow  # each test starts a `headwater serve` process


def _basic(server: str, port: int, password: str = "Some-Pw-1") -> dict[str, Any]:  # noqa: S107
    return {"server": server, "port": port, "database": "appdb", "username": "reader", "password": password}


def _conn_string(server: str, port: int) -> dict[str, Any]:
    return {"connectionString": f"Server={server};Port={port};Database=appdb;UID=reader;Password=Some-Pw-1"}


def _refused(tenant: Tenant, server: str, port: int) -> bool:
    """Both auth forms give the same answer: True if refused by the policy, False if created."""
    answers = []
    for params, spec in ((_basic(server, port), BASIC), (_conn_string(server, port), CONN_STRING)):
        resp = tenant.create(params, spec)
        assert resp.status_code in (201, 400), resp.text
        if resp.status_code == 400:
            assert POLICY_REFUSAL in message(resp), resp.text
        answers.append(resp.status_code == 400)
    assert answers[0] == answers[1], (server, port)
    return answers[0]


def test_the_deny_list_refuses_hosts_cidrs_and_ports_at_creation(tmp_path: Path) -> None:
    deny = "db.internal, 10.0.0.0/8, :5433, 192.0.2.7:5432, [::1]:6543"
    with serving(tmp_path / "data", {"HEADWATER_SOURCE_DENY": deny}) as tenant:
        for server, port in [
            ("db.internal", 5432),
            ("DB.Internal", 1),
            ("10.1.2.3", 5432),
            ("::ffff:10.1.2.3", 5432),
            ("198.51.100.1", 5433),
            ("192.0.2.7", 5432),
            # A denied loopback address denies every local spelling on its port.
            ("::1", 6543),
            ("127.0.0.1", 6543),
            ("127.9.9.9", 6543),
            ("localhost", 6543),
            ("0.0.0.0", 6543),
            ("::", 6543),
        ]:
            assert _refused(tenant, server, port), (server, port)
        for server, port in [("192.0.2.7", 5434), ("198.51.100.1", 5432), ("db.external", 5432), ("::1", 6544)]:
            assert not _refused(tenant, server, port), (server, port)


def test_connections_saved_before_the_deny_list_fail_at_every_connect(
    tmp_path: Path, ssl_cluster: Any, password: str
) -> None:
    data = tmp_path / "data"
    with serving(data) as tenant:
        saved = [tenant.create_ok(_basic(host, ssl_cluster.port, password)) for host in ("127.0.0.1", "localhost")]
        for connection in saved:
            assert tenant.test(connection) == {"result": True}
    with serving(data, {"HEADWATER_SOURCE_DENY": f"127.0.0.1:{ssl_cluster.port}"}) as tenant:
        for connection in saved:
            result = tenant.test(connection)
            assert result["result"] is False and POLICY_REFUSAL in result["errors"][0]["message"], result
            for resp in (tenant.explore(connection, objectType="root"), tenant.preview(connection, "public.items")):
                assert resp.status_code == 400 and POLICY_REFUSAL in message(resp), resp.text
                assert "item 1" not in resp.text


@pytest.fixture(scope="module")
def metadata_cluster() -> Iterator[Cluster]:
    cluster = start_cluster("hw-meta-pg-")
    try:
        with cluster.admin() as conn:
            conn.execute("CREATE DATABASE hwmeta")
        yield cluster
    finally:
        remove_cluster(cluster)


def test_the_metadata_database_is_never_a_source(tmp_path: Path, metadata_cluster: Cluster, ssl_cluster: Any) -> None:
    env = {
        "HEADWATER_DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{metadata_cluster.port}/hwmeta",
        # The operator's own list does not replace the default entry, it adds to it.
        "HEADWATER_SOURCE_DENY": "10.0.0.0/8",
    }
    with serving(tmp_path / "data", env) as tenant:
        # The server really keeps its records there.
        with psycopg.connect(metadata_cluster.dsn(dbname="hwmeta")) as conn:
            assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] > 0  # type: ignore[index]
        # Every local spelling, and this machine's own address (the database may listen on it too).
        for host in ("127.0.0.1", "localhost", "0.0.0.0", "127.0.0.2", "::1", "::ffff:127.0.0.1", "::", own_address()):
            assert _refused(tenant, host, metadata_cluster.port), host
        assert _refused(tenant, "10.9.9.9", 5432)
        for host in ("127.0.0.1", "localhost"):
            assert not _refused(tenant, host, ssl_cluster.port), host
