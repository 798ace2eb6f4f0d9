"""Object-store access for the warehouse: pyiceberg FileIO properties from the S3 settings, and the
filesystem that FileIO uses, for the few operations Headwater runs on the warehouse directly."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlparse

import pyarrow.fs as pafs
from pyiceberg.io import (
    S3_ACCESS_KEY_ID,
    S3_ENDPOINT,
    S3_FORCE_VIRTUAL_ADDRESSING,
    S3_REGION,
    S3_SECRET_ACCESS_KEY,
    S3_SESSION_TOKEN,
    FileIO,
)
from pyiceberg.io.pyarrow import PyArrowFileIO

if TYPE_CHECKING:
    from headwater.settings import S3Settings

S3_SCHEMES = frozenset({"s3", "s3a", "s3n"})
# S3-compatible stores accept any region name; the AWS SDK signs with this one when none is set.
_DEFAULT_REGION = "us-east-1"


def io_properties(s3: S3Settings, warehouse: str) -> dict[str, str]:
    """The pyiceberg FileIO properties an `s3://` warehouse needs; none for other warehouses.

    Credentials are passed only when set: otherwise the AWS SDK inside pyarrow finds them itself
    (AWS_* variables, the shared credentials file, an instance role). The returned dict holds
    secrets in clear: it goes to the catalog and nowhere else.
    """
    if urlparse(warehouse).scheme not in S3_SCHEMES:
        return {}
    properties: dict[str, str] = {}
    if s3.endpoint:
        properties[S3_ENDPOINT] = s3.endpoint
    region = s3.region or (_DEFAULT_REGION if s3.endpoint else None)
    if region:
        properties[S3_REGION] = region
    if s3.access_key_id is not None and s3.secret_access_key is not None:
        properties[S3_ACCESS_KEY_ID] = s3.access_key_id.get_secret_value()
        properties[S3_SECRET_ACCESS_KEY] = s3.secret_access_key.get_secret_value()
    if s3.session_token is not None:
        properties[S3_SESSION_TOKEN] = s3.session_token.get_secret_value()
    if s3.force_virtual_addressing:
        properties[S3_FORCE_VIRTUAL_ADDRESSING] = "true"
    return properties


def filesystem(io: FileIO, uri: str) -> tuple[pafs.FileSystem, str]:
    """The filesystem `io` reads and writes `uri` with (same endpoint and credentials), and the path in it.

    `pyarrow.fs.FileSystem.from_uri` would build a default S3 client instead: AWS's endpoint, and
    none of the configured credentials.
    """
    if isinstance(io, PyArrowFileIO):
        scheme, netloc, path = PyArrowFileIO.parse_location(uri, io.properties)
        return io.fs_by_scheme(scheme, netloc), path
    fs, path = pafs.FileSystem.from_uri(uri)
    return fs, str(path)


# What the AWS SDK inside pyarrow says when the store cannot be reached or asks clients to back off
# (it raises plain OSError, the cause only in its text): worth retrying, unlike a refused request.
_UNAVAILABLE_MARKERS = (
    "AWS Error NETWORK_CONNECTION",
    "curlCode:",
    "Could not connect to server",
    "SLOW_DOWN",
    "SlowDown",
    "SERVICE_UNAVAILABLE",
    "ServiceUnavailable",
    "RequestTimeout",
    "INTERNAL_FAILURE",
)


def store_unavailable(exc: BaseException) -> bool:
    """True if `exc` says the warehouse's object store is unreachable or overloaded right now."""
    if isinstance(exc, ConnectionError | TimeoutError):
        return True
    return isinstance(exc, OSError) and any(marker in str(exc) for marker in _UNAVAILABLE_MARKERS)
