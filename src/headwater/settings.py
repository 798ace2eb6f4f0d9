"""Settings, validated at start-up from `HEADWATER_*` environment variables and passed explicitly."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    default_sandbox: str = "prod"
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
