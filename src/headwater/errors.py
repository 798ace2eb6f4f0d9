"""Headwater's exception hierarchy.

Errors say who must act, and that decides a run's state: `ConfigError` means the user must fix
something and a run fails at once; `TransientError` means retry with backoff. The API layer maps every
`HeadwaterError` to an HTTP status and Adobe's error body in one place; the core never imports HTTP.
Connectors raise the connector-level types (`InvalidAuth`, `InvalidTablePath`, `UnknownAuthSpec`,
`ConfigError`, `NotFound`); the Adobe code each carries is decided here, not at the raise.
"""

from __future__ import annotations

from typing import Any


class HeadwaterError(Exception):
    """Base class: carries an HTTP-ish status, an Adobe-style numeric code and a human message."""

    status: int = 500
    code: str = "1005"
    title: str = "Internal server error"

    def __init__(self, message: str, *, code: str | None = None, **report: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        # Extra keys copied into the error body's `report` (never secrets).
        self.report = report

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code}: {self.message!r})"


class BadRequest(HeadwaterError):
    """The request itself is malformed or invalid."""

    status = 400
    code = "1000"
    title = "Bad request"


class InvalidAuth(BadRequest):
    """A connector refuses connection parameters (`auth.params`): malformed, incomplete or not allowed."""

    code = "1304"


class UnknownAuthSpec(BadRequest):
    """A connection names an auth spec its connector does not declare."""

    code = "1415"


class InvalidTablePath(BadRequest):
    """A table path (an explore `object`, a source `tableName`) that the connector cannot parse."""

    code = "1337"


class NotFound(HeadwaterError):
    """The resource does not exist in the caller's org and sandbox."""

    status = 404
    code = "1439"
    title = "Resource not found"

    def __init__(self, kind: str, resource_id: str, message: str | None = None) -> None:
        super().__init__(
            message
            or f"The requested {kind} resource {resource_id} is not found. Verify the resource ID before trying again.",
            id=resource_id,
            type=kind,
        )


class PreconditionFailed(HeadwaterError):
    """If-Match did not match the current etag."""

    status = 412
    code = "1404"
    title = "Version not matching"


class ConfigError(HeadwaterError):
    """The user must change a configuration (credentials, table, column); retrying will not help."""

    status = 400
    code = "1380"
    title = "Configuration error"


class TransientError(HeadwaterError):
    """A temporary failure (connection lost, timeout): retry with backoff."""

    status = 503
    code = "1011"
    title = "Service unavailable"


class GatewayError(Exception):
    """An authentication or header error, reported in the Adobe I/O gateway shape."""

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_code = error_code
        self.message = message
