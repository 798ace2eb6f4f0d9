"""Settings, validated at start-up from `HEADWATER_*` environment variables and passed explicitly.

Every field carries a description: docs/configuration.md is generated from these classes
(`headwater settings --markdown`), and a test fails when the two differ.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


# Off by default: joining chunks measured no faster on the local server (20M rows: 0.83-0.86 of one
# transaction joined at 6 s, 0.87 unjoined); it is there for sources where each query's start costs
# more (a distant server), to trade longer transactions for fewer of them.
JOIN_SECONDS = 0.0


class RunSettings(BaseSettings):
    """Run engine tuning: the `run` section of Settings, read from `HEADWATER_RUN_*` variables."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_RUN_", extra="ignore")

    # Value windows (BigQuery, PostgreSQL views and servers before 13): rows whose transaction
    # commits up to this long after their delta timestamp was taken are still read, since such a
    # window never ends closer to "now" than this.
    safety_lag_seconds: float = Field(
        default=5.0,
        description=(
            "Value windows (BigQuery, PostgreSQL views and servers before 13): a time window never ends closer "
            "to now than this, so rows visible up to this long after their delta value still land; an integer "
            "window holds its newest value back this long for ties before reading it"
        ),
    )
    # Fenced PostgreSQL reads (docs/incremental.md) need no lag. When the source role cannot see
    # other sessions' transaction start times (pg_read_all_stats), a run assumes no write
    # transaction stays open longer than this; it only widens the scanned range, never the window.
    open_transaction_seconds: float = Field(
        default=3600.0,
        ge=0,
        description=(
            "Incremental PostgreSQL reads whose role lacks pg_read_all_stats: how long a write transaction is "
            "assumed to stay open (it only widens the scanned range; docs/incremental.md)"
        ),
    )
    lease_seconds: float = Field(
        default=30.0, description="A worker's lease on the run it executes; an expired lease lets another take over"
    )
    heartbeat_seconds: float = Field(default=5.0, description="How often a running worker renews its lease")
    max_attempts: int = Field(default=5, description="Attempts of a run that fails with transient errors")
    max_claims: int = Field(
        default=12, description="Claims of a run, lost leases included: a run that keeps killing its worker fails"
    )
    backoff_base_seconds: float = Field(default=2.0, description="First retry delay; doubles with each attempt")
    backoff_max_seconds: float = Field(default=300.0, description="Longest retry delay")
    progress_seconds: float = Field(default=2.0, description="How often a running run's figures are saved")
    poll_seconds: float = Field(default=1.0, description="How often an idle worker looks for claimable runs")
    # Key-range partitions a run reads at once. The zstd Parquet writer needs about as much CPU as
    # the read, so half the cores: measured on 2 cores (bench/flow_run.py, 5M rows), p=1 ran in
    # 1.41x the raw COPY drain at 400 MiB, p=2 in 1.51x at 505 MiB, p=4 in 1.96x at 539 MiB.
    read_parallelism: int = Field(
        default_factory=lambda: max(1, (os.cpu_count() or 2) // 2),
        ge=1,
        le=64,
        description="Key-range partitions a run reads at once (default: half the cores)",
    )
    # Full reads (and backfills of value windows) of PostgreSQL tables go in chunks of about this many
    # rows, each its own short transaction, staged so a killed run resumes (docs/incremental.md).
    # 0 reads each table in one transaction: one consistent snapshot, held for the whole read.
    chunk_rows: int = Field(default=1_000_000, ge=0, description="Rows per chunk of a full read; 0: one transaction")
    chunk_seconds: float = Field(
        default=JOIN_SECONDS,
        ge=0,
        description="A reader joins consecutive chunks into one source transaction while its pace says that "
        "transaction ends within this many seconds; 0: one chunk per transaction",
    )


class S3Settings(BaseSettings):
    """Object-store access for an `s3://` warehouse: the `s3` section, read from `HEADWATER_S3_*` variables.

    Unset credentials fall back to the AWS SDK's own chain (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
    AWS_SESSION_TOKEN, the shared credentials file, an instance or pod role). docs/deploy.md shows them in use.
    """

    # A refused value is not echoed in the error: it may be a credential.
    model_config = SettingsConfigDict(env_prefix="HEADWATER_S3_", extra="ignore", hide_input_in_errors=True)

    endpoint: str | None = Field(
        default_factory=lambda: os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or None,
        description=(
            "S3-compatible endpoint, e.g. http://minio:9000 (default AWS_ENDPOINT_URL_S3, then AWS_ENDPOINT_URL; "
            "unset = AWS); requests to it use path-style addressing unless force_virtual_addressing"
        ),
    )
    # Always passed on: without a region, pyiceberg asks AWS where the bucket lives, a call that an
    # S3-compatible store on a private network cannot answer.
    region: str | None = Field(
        default_factory=lambda: os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None,
        description="Bucket region (default AWS_REGION, then AWS_DEFAULT_REGION; us-east-1 with a custom endpoint)",
    )
    access_key_id: SecretStr | None = Field(default=None, description="Access key id; unset = the AWS SDK's chain")
    secret_access_key: SecretStr | None = Field(default=None, description="Secret access key, set with the key id")
    session_token: SecretStr | None = Field(default=None, description="Session token of temporary credentials")
    force_virtual_addressing: bool = Field(
        default=False, description="Virtual-hosted-style requests (bucket.endpoint) to a custom endpoint"
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError("the S3 endpoint must be an http:// or https:// URL, e.g. http://minio:9000")
        if parsed.username is not None or parsed.password is not None:
            # Credentials in a URL end up in logs; they have their own settings.
            raise ValueError("the S3 endpoint must not carry credentials; they have settings of their own")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_pair(self) -> S3Settings:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError("set both HEADWATER_S3_ACCESS_KEY_ID and HEADWATER_S3_SECRET_ACCESS_KEY, or neither")
        return self


class Settings(BaseSettings):
    """Everything configurable about one Headwater process."""

    model_config = SettingsConfigDict(env_prefix="HEADWATER_", extra="ignore")

    data_dir: Path = Field(default=Path("headwater-data"), description="Local state: SQLite file, key, warehouse")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL of the metadata database")
    secret_key: SecretStr | None = Field(default=None, description="Fernet key; else a 0600 key file in data_dir")
    warehouse: str | None = Field(default=None, description="Iceberg warehouse URI; default data_dir/warehouse")
    broker_url: str | None = Field(default=None, description="Celery broker; unset = embedded worker pool")
    host: str = Field(default="127.0.0.1", description="Address `headwater serve` binds")
    port: int = Field(default=8080, description="Port `headwater serve` listens on")
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
        default=None,
        description=(
            "Directory of CA files that a connection string's TrustStore=<file> may name (regular files inside "
            "it, at most 1 MiB); unset, no CA file is ever read and a CA is given as PEM text (sslRootCert)"
        ),
    )
    max_header_bytes: int = Field(default=16_384, ge=1024, description="Total size of a request's headers")
    max_header_count: int = Field(default=100, ge=10, description="Number of headers in a request")
    max_body_bytes: int = Field(default=1_048_576, description="Largest request body (413 above it)")
    default_page_size: int = Field(default=100, description="Items in a list page when the request sets no limit")
    max_page_size: int = Field(default=1000, description="Largest `limit` a list request may ask for")
    workers: int = Field(default=2, description="Run threads of the embedded pool and of `headwater worker`")
    # One process per core: on 2 cores, GET /connections/{id} at 50 clients has a p99 several times
    # lower with 2 processes than with 1 (bench/load_read.py). Each worker process dies with its
    # parent (api/worker_process.py), so no process outlives a killed `headwater serve`.
    web_workers: int = Field(
        default_factory=available_cores, ge=1, le=64, description="API server processes (default: one per core)"
    )
    scheduler_interval_seconds: float = Field(default=5.0, description="How often the scheduler looks for due runs")
    run_embedded_executor: bool = Field(
        default=True, description="Whether `headwater serve` runs flows itself (scheduler and worker pool)"
    )
    # Its own env prefix (HEADWATER_RUN_*), so `HEADWATER_RUN_LEASE_SECONDS=10` sets `run.lease_seconds`.
    run: RunSettings = Field(default_factory=RunSettings)
    # HEADWATER_S3_*: endpoint, region and credentials of an s3:// warehouse.
    s3: S3Settings = Field(default_factory=S3Settings, description="Object store of an s3:// warehouse")
    # Google endpoints are configurable so tests (and air-gapped sites) can point at local services.
    google_token_uri: str = Field(
        default="https://oauth2.googleapis.com/token", description="Google OAuth token endpoint (service accounts)"
    )
    bigquery_api_endpoint: str | None = Field(
        default=None, description="BigQuery REST endpoint; unset = Google's (set for an emulator)"
    )
    bigquery_read_endpoint: str | None = Field(
        default=None, description="BigQuery Storage Read API endpoint (host:port); unset = Google's"
    )
    # How long a BigQuery call may retry before it fails (or, for the Storage Read API, before the
    # read falls back to REST): Google's clients would otherwise retry for up to 600 s.
    bigquery_deadline_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="How long a BigQuery call retries before failing, or before a read falls back to REST",
    )
    # A Storage Read session is asked for one stream per this many rows (or bytes) of the table, at
    # least one per reader, at most bigquery_max_streams; the readers take streams in turn.
    bigquery_stream_rows: int = Field(
        default=1_000_000, ge=1, description="Table rows per BigQuery Storage Read stream requested"
    )
    bigquery_stream_bytes: int = Field(
        default=1 << 30, ge=1, description="Table bytes per BigQuery Storage Read stream requested"
    )
    bigquery_max_streams: int = Field(
        default=100, ge=1, le=1000, description="Most Storage Read streams one read session asks for"
    )
    # -- observability (docs/configuration.md) -------------------------------------------------------
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field(
        default="INFO", description="Lowest level logged, for Headwater and the libraries it uses"
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="`text` (one readable line) or `json` (one object per line) on stderr"
    )
    metrics: bool = Field(
        default=True, description="Serve Prometheus metrics at GET /metrics (`on` or `off`; unauthenticated)"
    )
    worker_metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65_535,
        description=(
            "Port (on HEADWATER_HOST) where `headwater worker` serves the metrics of the runs it executes; "
            "unset = not served"
        ),
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

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
