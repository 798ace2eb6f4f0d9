"""A private PostgreSQL cluster the reliability tests control: statement log, password auth, stop/start.

initdb refuses root, so the cluster runs as the `postgres` OS user on a free port. `postgres`
connects with trust (for setup); every other role must give its scram password, so wrong
passwords really fail. Every statement is logged (log_statement=all) to `log` with the role and
database in each line's prefix, which is what the injection test reads.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.conftest import free_port

PG_BIN = Path(os.environ.get("HEADWATER_PG_BIN", "/usr/lib/postgresql/15/bin"))


def _as_postgres(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *args], capture_output=True, text=True, check=False, timeout=timeout
    )


@dataclass
class Cluster:
    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def dsn(self, *, user: str = "postgres", dbname: str = "postgres", password: str | None = None) -> str:
        base = f"host=127.0.0.1 port={self.port} user={user} dbname={dbname} connect_timeout=5"
        return base if password is None else f"{base} password='{password}'"

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.dsn(dbname=dbname), autocommit=True)

    def start(self) -> None:
        out = _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")
        if out.returncode != 0:
            pytest.fail(f"private PostgreSQL did not start: {out.stdout}{out.stderr}\n{self.log_text()[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        _as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_up(self) -> bool:
        return _as_postgres(str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)).returncode == 0

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int) -> str:
        with self.log.open("rb") as handle:
            handle.seek(offset)
            return handle.read().decode("utf-8", errors="replace")


def start_cluster(prefix: str = "hw-rel-pg-") -> Cluster:
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries are required in {PG_BIN} (set HEADWATER_PG_BIN)")
    try:
        pg_user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("an OS user named 'postgres' is required to run initdb (it refuses to run as root)")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
    cluster = Cluster(root, free_port())
    out = _as_postgres(
        str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", "-A", "trust",
        "--no-sync", "-E", "UTF8", "--locale", "C",
    )  # fmt: skip
    if out.returncode != 0:
        pytest.fail(f"initdb failed: {out.stdout}{out.stderr}")
    conf = cluster.data / "postgresql.conf"
    with conf.open("a") as handle:
        handle.write(
            f"\nport = {cluster.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{root}'\n"
            "log_statement = 'all'\nlog_line_prefix = '%m [%p] %q<%u@%d> '\nlogging_collector = off\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nshared_buffers = 32MB\n"
            "max_connections = 60\nlc_messages = 'C'\n"
        )
    (cluster.data / "pg_hba.conf").write_text(
        "local all postgres trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
    )
    cluster.start()
    return cluster


def remove_cluster(cluster: Cluster) -> None:
    cluster.stop("immediate")
    deadline = time.monotonic() + 10
    while cluster.is_up() and time.monotonic() < deadline:
        time.sleep(0.1)
    shutil.rmtree(cluster.root, ignore_errors=True)
