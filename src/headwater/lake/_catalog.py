"""Where datasets live: catalog and warehouse locations, namespaces per tenant, table ids and paths."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlparse

from pyiceberg.catalog.sql import SqlCatalog


class DatasetIdent(NamedTuple):
    """Where a dataset lives: an Iceberg namespace (one per org and sandbox) and the dataset id."""

    namespace: str
    dataset_id: str


def namespace_for(org: str, sandbox: str) -> str:
    """A catalog-safe namespace for an (org, sandbox); the hash keeps distinct pairs distinct."""
    digest = hashlib.sha256(f"{org}\x00{sandbox}".encode()).hexdigest()[:8]
    clean = re.sub(r"[^a-z0-9]+", "_", f"{org}__{sandbox}".lower()).strip("_")[:80]
    return f"{clean}_{digest}"


def sql_catalog_url(url: str) -> str:
    # SQLAlchemy's bare postgresql:// means psycopg2; we ship psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def warehouse_uri(warehouse: str) -> str:
    if "://" in warehouse:
        return warehouse.rstrip("/")
    return Path(warehouse).resolve().as_uri()


def open_catalog(properties: dict[str, str]) -> SqlCatalog:
    # Two processes starting together may both try to create pyiceberg's tables; the loser retries.
    for attempt in range(3):
        try:
            return SqlCatalog("headwater", **properties)
        except Exception:
            if attempt == 2:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def table_id(ident: DatasetIdent) -> tuple[str, str]:
    return (ident.namespace, ident.dataset_id)


def local_path(uri: str) -> str:
    parsed = urlparse(uri)
    return parsed.path if parsed.scheme == "file" else uri


def fs_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return parsed.path
    return f"{parsed.netloc}{parsed.path}"
