"""An S3-compatible object store on loopback: moto's server as a separate process, with fresh buckets.

moto checks signatures' shape, not their keys, so any key pair works; each store gets a random
secret that tests can then look for in logs and responses.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pyarrow.fs as pafs

from tests.support.net import free_port, wait_for

REGION = "eu-west-1"


@dataclass
class ObjectStore:
    """A running moto server: its endpoint, and the key pair clients sign with."""

    endpoint: str
    process: subprocess.Popen[bytes]
    log_path: Path
    access_key_id: str = field(default_factory=lambda: f"AKIA{secrets.token_hex(8).upper()}")
    secret_access_key: str = field(default_factory=lambda: secrets.token_urlsafe(30))
    region: str = REGION

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            endpoint_override=self.endpoint,
            access_key=self.access_key_id,
            secret_key=self.secret_access_key,
            region=self.region,
            allow_bucket_creation=True,
            allow_bucket_deletion=True,
        )

    def create_bucket(self, prefix: str = "hw") -> str:
        name = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.filesystem().create_dir(name)
        return name

    def aws_env(self) -> dict[str, str]:
        """The store as the AWS SDKs' standard variables (no IMDS lookups: this machine has no cloud)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": self.region,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def headwater_env(self) -> dict[str, str]:
        """The store as Headwater's own settings."""
        return {
            "HEADWATER_S3_ENDPOINT": self.endpoint,
            "HEADWATER_S3_REGION": self.region,
            "HEADWATER_S3_ACCESS_KEY_ID": self.access_key_id,
            "HEADWATER_S3_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


def start_moto(log_dir: Path) -> ObjectStore:
    """Start `moto.server` on a free loopback port and wait until it answers."""
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / "moto.log"
    with log_path.open("wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    store = ObjectStore(f"http://127.0.0.1:{port}", proc, log_path)

    def answers_or_exited() -> bool:
        if proc.poll() is not None:
            return True
        return httpx.get(f"{store.endpoint}/moto-api/", timeout=1).status_code < 500

    try:
        wait_for("the moto S3 server to answer", answers_or_exited, timeout=30, every=0.1)
    except AssertionError:
        store.stop()
        raise RuntimeError(f"moto server did not start:\n{log_path.read_text(errors='replace')}") from None
    if proc.poll() is not None:
        raise RuntimeError(f"moto server exited (is moto[server] installed?):\n{log_path.read_text(errors='replace')}")
    return store


@contextmanager
def moto_store(log_dir: Path) -> Iterator[ObjectStore]:
    store = start_moto(log_dir)
    try:
        yield store
    finally:
        store.stop()
