"""Settings, validated at start-up from `HEADWATER_*` environment variables and passed explicitly."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RunSettings(BaseSettings):
    """Run engine tuning: the `run` section of Settings, read from `HEADWATER_RUN_*` variables."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_RUN_", extra="ignore")

    # Value windows (BigQuery, PostgreSQL views and servers before 13): rows whose transaction
    # commits up to this long after their delta timestamp was taken are still read, since such a
    # window never ends closer to "now" than this.
    safety_lag_seconds: float = 5.0
    # Fenced PostgreSQL reads (docs/incremental.md) need no lag. When the source role cannot see
    # other sessions' transaction start times (pg_read_all_stats), a run assumes no write
    # transaction stays open longer than this; it only widens the scanned range, never the window.
    open_transaction_seconds: float = Field(default=3600.0, ge=0)
    lease_seconds: float = 30.0
    heartbeat_seconds: float = 5.0
    max_attempts: int = 5  # transient failures retried until this many attempts
    max_claims: int = 12  # lost leases included: a run that keeps killing its worker fails eventually
    backoff_base_seconds: float = 2.0
    backoff_max_seconds: float = 300.0
    progress_seconds: float = 2.0
    progress_batches: int = 16
    poll_seconds: float = 1.0
    # Key-range partitions a run reads at once. The zstd Parquet writer needs about as much CPU as
    # the read, so half the cores: measured on 2 cores (bench/flow_run.py, 5M rows), p=1 ran in
    # 1.41x the raw COPY drain at 400 MiB, p=2 in 1.51x at 505 MiB, p=4 in 1.96x at 539 MiB.
    read_parallelism: int = Field(default_factory=lambda: max(1, (os.cpu_count() or 2) // 2), ge=1, le=64)


class Settings(BaseSettings):
    """Everything configurable about one Headwater process."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_", extra="ignore")

    data_dir: Path = Field(default=Path("headwater-data"), description="Local state: SQLite file, key, warehouse")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the metadata database")
    secret_key: SecretStr | None = Field(default=None, description="Fernet key; else a 0600 key file in data_dir")
    warehouse: str | None = Field(default=None, description="Iceberg warehouse URI; default data_dir/warehouse")
    broker_url: str | None = Field(default=None, description="Celery broker; unset = embedded worker pool")
    host: str = "127.0.0.1"
    port: int = 8080
    # -- security (docs/security.md) ----------------------------------------------------------------
    token_ttl_seconds: int = Field(default=86_400, ge=60, le=31 * 86_400, description="Access token lifetime")
    auth_max_failures: int = Field(
        default=10, ge=1, le=10_000, description="Failed token requests per client id or per address before lockout"
    )
    auth_failure_window_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="Window in which failed token requests are counted"
    )
    auth_lockout_seconds: float = Field(
        default=300.0, gt=0, le=86_400, description="How long a client id or address is locked out"
    )
    source_deny: str | None = Field(
        default=None,
        description=(
            "Comma-separated hosts, CIDRs and ports (host, 10.0.0.0/8, :5433, host:5432) that tenant "
            "connections may never reach; the metadata database's own endpoint is always added"
        ),
    )
    truststore_dir: Path | None = Field(
        default=None, description="Directory of CA files that a connection string's TrustStore=<file> may name"
    )
    max_header_bytes: int = Field(default=16_384, ge=1024, description="Total size of a request's headers")
    max_header_count: int = Field(default=100, ge=10, description="Number of headers in a request")
    max_body_bytes: int = 1_048_576
    default_page_size: int = 100
    max_page_size: int = 1000
    workers: int = 2
    web_workers: int = Field(default=1, ge=1, le=64, description="API server processes (e.g. one per core)")
    scheduler_interval_seconds: float = 5.0
    run_embedded_executor: bool = True
    # Its own env prefix (HEADWATER_RUN_*), so `HEADWATER_RUN_LEASE_SECONDS=10` sets `run.lease_seconds`.
    run: RunSettings = Field(default_factory=RunSettings)
    # Google endpoints are configurable so tests (and air-gapped sites) can point at local services.
    google_token_uri: str = "https://oauth2.googleapis.com/token"
    bigquery_api_endpoint: str | None = None
    bigquery_read_endpoint: str | None = None
    # How long a BigQuery call may retry before it fails (or, for the Storage Read API, before the
    # read falls back to REST): Google's clients would otherwise retry for up to 600 s.
    bigquery_deadline_seconds: float = Field(default=120.0, gt=0, le=3600)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'headwater.db').resolve()}"

    @property
    def resolved_warehouse(self) -> str:
        if self.warehouse:
            return self.warehouse
        return (self.data_dir / "warehouse").resolve().as_uri()

    def ensure_data_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
