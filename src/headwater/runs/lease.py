"""A run's lease while it executes: the heartbeat that renews it, and the exceptions that end an attempt."""

from __future__ import annotations

import contextvars
import logging
import threading
from typing import TYPE_CHECKING

from headwater.settings import RunSettings

if TYPE_CHECKING:  # annotations only: the ledger imports runs/staging_store.py, which raises LeaseLost
    from headwater.runs.ledger import Ledger

log = logging.getLogger("headwater.runs")


class LeaseLost(Exception):
    """Another worker took this run over; stop without reporting."""


class Cancelled(Exception):
    """The run must not proceed (its flow was deleted or disabled)."""


class Heartbeat:
    """Renews the run's lease in the background; `check()` raises LeaseLost once renewal fails."""

    def __init__(self, ledger: Ledger, run_id: str, *, owner: str, settings: RunSettings) -> None:
        self._ledger, self._run_id, self._owner, self._settings = ledger, run_id, owner, settings
        self._stop = threading.Event()
        self.lost = False
        # In a copy of the run's context: its warnings carry the run id like the run's own lines.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run, args=(self._loop,), name=f"heartbeat-{run_id[:8]}", daemon=True
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        lease_ms = int(self._settings.lease_seconds * 1000)
        while not self._stop.wait(self._settings.heartbeat_seconds):
            try:
                if not self._ledger.heartbeat(self._run_id, owner=self._owner, lease_ms=lease_ms):
                    self.lost = True
                    return
            except Exception:  # a metadata hiccup: keep trying until the lease really runs out
                log.warning("heartbeat failed for run %s", self._run_id, exc_info=True)

    def check(self) -> None:
        if self.lost:
            raise LeaseLost(self._run_id)
