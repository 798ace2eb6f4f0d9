"""Start bqemulator offline; run with the emulator's own venv python, never imported by the tests.

Two patches make bqemulator 1.4.0 behave as BigQuery does where the tests depend on it:

- At start-up it runs DuckDB `INSTALL spatial`, which downloads an extension and aborts without
  internet. We replace that step with one that only tries `LOAD spatial` (works when the extension
  is already cached) and ignores failure: GEOGRAPHY functions then fail, nothing else does.
- Its `ReadRows` ignores `ReadRowsRequest.offset` and always answers from a stream's first row.
  BigQuery answers from row `offset` of the stream (and nothing at its row count), which is what a
  reader that reconnects mid-stream relies on; served as BigQuery does, a stream's rows from
  `offset` on.
- Its gRPC server runs the sync ReadRows handler on the event loop's default thread pool, which
  has cpu + 4 threads (6 on two cores). A stream whose connection is reset mid-answer keeps its
  thread blocked for good: after three reads cut that way in one session, every later ReadRows
  waited for ever. We give the loop a pool that outlasts every such read of a test session.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

_ReadRowsOffset = threading.local()
# Threads for the gRPC handlers; each read cut mid-stream keeps one per stream (see above).
_HANDLER_THREADS = 128


def _load_spatial_if_present(self: Any) -> None:
    # Spatial is optional offline, see the module docstring.
    with contextlib.suppress(Exception):
        self._connection.execute("LOAD spatial")


def _honour_read_offset() -> None:
    from bqemulator.grpc_api import read_servicer
    from google.cloud.bigquery_storage_v1 import types

    stream_rows = read_servicer.get_stream_data
    handle = read_servicer.BigQueryReadHandler._handle_read_rows

    def get_stream_data(session_name: str, stream_name: str) -> Any:
        rows = stream_rows(session_name, stream_name)
        offset = getattr(_ReadRowsOffset, "value", 0)
        return rows if rows is None or not offset else rows.slice(offset)

    def handle_read_rows(self: Any, request_bytes: bytes, context: Any) -> Iterator[Any]:
        # gRPC's server iterates a response stream on one thread, where get_stream_data runs too.
        _ReadRowsOffset.value = types.ReadRowsRequest.deserialize(request_bytes).offset
        try:
            yield from handle(self, request_bytes, context)
        finally:
            _ReadRowsOffset.value = 0

    read_servicer.get_stream_data = get_stream_data
    read_servicer.BigQueryReadHandler._handle_read_rows = handle_read_rows  # type: ignore[method-assign]


def _roomy_default_pool() -> None:
    from bqemulator.server import EmulatorServer

    start = EmulatorServer.start

    async def start_with_room(self: Any) -> None:
        pool = ThreadPoolExecutor(max_workers=_HANDLER_THREADS, thread_name_prefix="asyncio")
        asyncio.get_running_loop().set_default_executor(pool)
        await start(self)

    EmulatorServer.start = start_with_room  # type: ignore[method-assign]


def main() -> None:
    from bqemulator import cli
    from bqemulator.storage.engine import DuckDBEngine

    DuckDBEngine._load_spatial = _load_spatial_if_present  # type: ignore[method-assign]
    _honour_read_offset()
    _roomy_default_pool()
    cli.main()


if __name__ == "__main__":
    main()
