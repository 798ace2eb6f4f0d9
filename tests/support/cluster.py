"""A private PostgreSQL cluster that a test controls: its configuration, its log, stop and start.

initdb refuses root, so the cluster runs as the `postgres` OS user, on a free port, in a fresh
directory under /tmp. Starting one takes seconds: every test using one is marked slow.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tests.support.net import free_port, wait_for

PG_BIN = Path(os.environ.get("HEADWATER_PG_BIN", "/usr/lib/postgresql/15/bin"))
# Settings for speed: these clusters hold only test data.
FAST_CONF = "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nlc_messages = 'C'\n"


def as_postgres(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
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
        """`postgres` over the cluster's Unix socket (trusted in every configuration here)."""
        return psycopg.connect(host=str(self.root), port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def start(self) -> None:
        out = as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30", "start")
        if out.returncode != 0:
            pytest.fail(f"private PostgreSQL did not start: {out.stdout}{out.stderr}\n{self.log_text()[-2000:]}")

    def stop(self, mode: str = "fast") -> None:
        as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def is_up(self) -> bool:
        return as_postgres(str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)).returncode == 0

    def remove(self) -> None:
        self.stop("immediate")
        wait_for("the private cluster to stop", lambda: not self.is_up(), timeout=10, every=0.1)
        shutil.rmtree(self.root, ignore_errors=True)

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


def create_cluster(
    prefix: str,
    *,
    conf: str,
    hba: str,
    files: Mapping[str, str] | None = None,
    password: str | None = None,
    listen: str = "127.0.0.1",
) -> Cluster:
    """initdb and start a cluster with `conf` appended to postgresql.conf and `hba` as pg_hba.conf.

    `files` are written (0600, owned by `postgres`) into the cluster's root, which `conf` may name
    as `{root}`. With `password`, the `postgres` role has it (initdb's default method is scram).
    """
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"PostgreSQL server binaries are required in {PG_BIN} (set HEADWATER_PG_BIN)")
    try:
        pg_user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.fail("an OS user named 'postgres' is required to run initdb (it refuses to run as root)")
    root = Path(tempfile.mkdtemp(prefix=prefix))
    os.chown(root, pg_user.pw_uid, pg_user.pw_gid)
    secrets = dict(files or {})
    if password is not None:
        secrets["pwfile"] = password + "\n"
    for name, text in secrets.items():
        path = root / name
        path.write_text(text, encoding="utf-8")
        path.chmod(0o600)
        os.chown(path, pg_user.pw_uid, pg_user.pw_gid)
    cluster = Cluster(root, free_port())
    auth = ["-A", "trust"] if password is None else ["--pwfile", str(root / "pwfile"), "-A", "scram-sha-256"]
    out = as_postgres(
        str(PG_BIN / "initdb"), "-D", str(cluster.data), "-U", "postgres", *auth,
        "--no-sync", "-E", "UTF8", "--locale", "C",
    )  # fmt: skip
    if out.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"initdb failed: {out.stdout}{out.stderr}")
    with (cluster.data / "postgresql.conf").open("a", encoding="utf-8") as handle:
        handle.write(
            f"\nport = {cluster.port}\nlisten_addresses = '{listen}'\nunix_socket_directories = '{root}'\n"
            + FAST_CONF
            + conf.replace("{root}", str(root))
        )
    (cluster.data / "pg_hba.conf").write_text(hba, encoding="utf-8")
    try:
        cluster.start()
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster


def start_cluster(prefix: str = "hw-rel-pg-") -> Cluster:
    """`postgres` trusted (for set-up), every other role by scram password; every statement logged.

    The log has the role and database in each line's prefix, which is what the injection test reads.
    """
    return create_cluster(
        prefix,
        conf="log_statement = 'all'\nlog_line_prefix = '%m [%p] %q<%u@%d> '\nlogging_collector = off\n"
        "shared_buffers = 32MB\nmax_connections = 60\n",
        hba="local all postgres trust\nhost all postgres 127.0.0.1/32 trust\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )


def remove_cluster(cluster: Cluster) -> None:
    cluster.remove()
