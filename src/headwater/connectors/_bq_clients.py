"""BigQuery clients (REST and Storage Read) built from settings, with bounded timeouts and error mapping.

Endpoints come from settings so tests and air-gapped sites can use local services:
`bigquery_api_endpoint` is the REST base URL; `bigquery_read_endpoint` is the Storage Read gRPC
`host:port`. An `http://` prefix on the read endpoint selects a plaintext channel without
credentials (local emulators only); otherwise the channel is TLS with the connection's credentials.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import google.auth.exceptions
import grpc
from google.api_core import exceptions as gexc
from google.api_core import retry as gretry
from google.auth.transport.requests import Request
from google.cloud import bigquery
from google.cloud.bigquery_storage_v1 import BigQueryReadClient
from google.cloud.bigquery_storage_v1.services.big_query_read.transports import BigQueryReadGrpcTransport

from headwater.errors import ConfigError, HeadwaterError, NotFound, TransientError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials
    from google.cloud.bigquery import Client

    from headwater.settings import Settings


@dataclass(frozen=True)
class BqTimeouts:
    """Time limits: the Google clients otherwise retry a 500 for up to 600 s, which looks like a hang."""

    request: float = 30.0
    deadline: float = 120.0
    # A view is read by running it: its query may legitimately take long.
    query: float = 3600.0
    # How long a Storage Read may send nothing before it fails (None: deadline + request, longer than a
    # stream's own retries, so a stream that fails says why first, and a Read API that cannot be used
    # still falls back to the REST API).
    silence: float | None = None

    @property
    def idle_limit(self) -> float:
        return self.silence if self.silence is not None else self.deadline + self.request

    def rest_retry(self) -> gretry.Retry:
        return bigquery.DEFAULT_RETRY.with_timeout(self.deadline)

    def grpc_retry(self) -> gretry.Retry:
        return gretry.Retry(
            predicate=gretry.if_exception_type(gexc.ServiceUnavailable, gexc.DeadlineExceeded),
            initial=0.2,
            maximum=5.0,
            timeout=self.deadline,
        )


class TimedRequest:
    """A google.auth transport request with a time limit (the library default is 120 s)."""

    def __init__(self, timeout: float) -> None:
        self._request = Request()
        self._timeout = timeout

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return self._request(*args, **kwargs)


def rest_client(settings: Settings, credentials: Credentials, project: str) -> Client:
    options = {"api_endpoint": settings.bigquery_api_endpoint} if settings.bigquery_api_endpoint else None
    return bigquery.Client(project=project, credentials=credentials, client_options=options)


def read_client(settings: Settings, credentials: Credentials) -> BigQueryReadClient:
    """A Storage Read client; the caller closes it with `client.transport.close()`."""
    endpoint = settings.bigquery_read_endpoint
    if endpoint and endpoint.startswith("http://"):
        # The library's default channel always dials Google with TLS; emulators speak plaintext.
        channel = grpc.insecure_channel(
            endpoint.removeprefix("http://"),
            options=[("grpc.max_receive_message_length", -1)],
        )
        return BigQueryReadClient(transport=BigQueryReadGrpcTransport(channel=channel))  # type: ignore[no-untyped-call]
    options: dict[str, Any] | None = None
    if endpoint:
        options = {"api_endpoint": endpoint.removeprefix("https://")}
    return BigQueryReadClient(credentials=credentials, client_options=options)  # type: ignore[no-untyped-call]


def _auth_error_code(exc: google.auth.exceptions.RefreshError) -> str:
    # args[1] is the token endpoint's JSON answer; only its `error` code is safe and useful to show.
    if len(exc.args) > 1 and isinstance(exc.args[1], dict):
        return str(exc.args[1].get("error") or "rejected")
    return "rejected"


@contextmanager
def translated(what: str, *, table: str | None = None) -> Iterator[None]:
    """Map Google client errors to Headwater errors; messages never carry credentials.

    `what` names the operation for the message. With `table`, a 404 becomes NotFound("table", table).
    """
    try:
        yield
    except HeadwaterError:
        raise
    except google.auth.exceptions.RefreshError as exc:
        raise ConfigError(
            f"Google refused the BigQuery credentials ({_auth_error_code(exc)}) while {what}. "
            "Check the client id, client secret and refresh token, or the service-account key, "
            "and that they are still valid."
        ) from None
    except google.auth.exceptions.TransportError:
        raise TransientError(f"The Google token endpoint could not be reached while {what}.") from None
    except gexc.NotFound as exc:
        if table is not None:
            raise NotFound("table", table) from None
        raise ConfigError(f"BigQuery answered not found while {what}: {exc.message}") from None
    except (gexc.Unauthorized, gexc.Forbidden, gexc.PermissionDenied, gexc.Unauthenticated) as exc:
        raise ConfigError(
            f"BigQuery denied access while {what}: {exc.message}. The credentials need the roles "
            "BigQuery Data Viewer, BigQuery Job User and BigQuery Read Session User."
        ) from None
    except (gexc.BadRequest, gexc.InvalidArgument, gexc.FailedPrecondition) as exc:
        raise ConfigError(f"BigQuery rejected the request while {what}: {exc.message}") from None
    except (gexc.RetryError, gexc.ServerError, gexc.TooManyRequests, gexc.DeadlineExceeded) as exc:
        raise TransientError(f"BigQuery is unavailable or too slow while {what}: {exc}") from None
    except OSError:
        # requests' connection and timeout errors are OSErrors too.
        raise TransientError(f"BigQuery could not be reached while {what}.") from None
