"""Start bqemulator offline; run with the emulator's own venv python, never imported by the tests.

At start-up bqemulator runs DuckDB `INSTALL spatial`, which downloads an extension and aborts
without internet. We replace that step with one that only tries `LOAD spatial` (works when the
extension is already cached) and ignores failure: GEOGRAPHY functions then fail, nothing else does.
"""

from __future__ import annotations

import contextlib
from typing import Any


def _load_spatial_if_present(self: Any) -> None:
    # Spatial is optional offline, see the module docstring.
    with contextlib.suppress(Exception):
        self._connection.execute("LOAD spatial")


def main() -> None:
    from bqemulator import cli
    from bqemulator.storage.engine import DuckDBEngine

    DuckDBEngine._load_spatial = _load_spatial_if_present  # type: ignore[method-assign]
    cli.main()


if __name__ == "__main__":
    main()
