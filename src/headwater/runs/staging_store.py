"""Where a run's staging (runs/staging.py) is kept: rows of `run_units`, one per unit and one for the plan.

Recording a finished unit writes that unit's row only, so a run of thousands of chunks writes each
chunk's files once, not the whole staging again at every chunk and every progress report. Every
write first checks, in its own transaction, that this worker still holds the run's lease (a taken
over run's staging belongs to its new owner); the rows go in the transaction that ends the run.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection

from headwater.runs.lease import LeaseLost
from headwater.runs.model import RunStatus
from headwater.store import Store
from headwater.store.tables import run_units, runs

# The row holding the plan and what it was made for (fingerprint, dataset); units have their own keys.
HEAD = ""


def load(store: Store, run_id: str) -> dict[str, Any] | None:
    """The staging as `RunStaging.to_json` shapes it, or None when the run staged nothing."""
    with store.begin() as conn:
        return _staging(conn, run_id)


def take(conn: Connection, run_id: str) -> tuple[tuple[str, str] | None, list[str]]:
    """Delete the run's staging in `conn`'s transaction (the one ending the run); its dataset and files."""
    staging = _staging(conn, run_id) or {}
    conn.execute(delete(run_units).where(run_units.c.run_id == run_id))
    dataset = list(staging.get("dataset") or ())
    files = [str(f) for unit in staging.get("units", []) for f in unit.get("files", [])]
    return (str(dataset[0]), str(dataset[1])) if len(dataset) == 2 else None, files


def _staging(conn: Connection, run_id: str) -> dict[str, Any] | None:
    rows = conn.execute(select(run_units.c.unit_key, run_units.c.doc).where(run_units.c.run_id == run_id)).all()
    head = next((r.doc for r in rows if r.unit_key == HEAD), None)
    if head is None:  # units are only ever recorded under a plan
        return None
    units = sorted((r.doc for r in rows if r.unit_key != HEAD), key=lambda u: str(u["key"]))
    return {**head, "units": units}


class StagingRows:
    """Writes one run's staging while `owner` holds its lease; each method raises LeaseLost otherwise."""

    def __init__(self, store: Store, run_id: str, owner: str) -> None:
        self.store, self.run_id, self.owner = store, run_id, owner

    def plan(self, head: dict[str, Any]) -> None:
        """A new plan: it replaces the head, and no unit of an earlier plan stays."""
        with self.store.begin() as conn:
            self._hold(conn)
            conn.execute(delete(run_units).where(run_units.c.run_id == self.run_id))
            conn.execute(run_units.insert().values(run_id=self.run_id, unit_key=HEAD, doc=head))

    def unit(self, unit: dict[str, Any]) -> None:
        key = str(unit["key"])
        if key == HEAD:
            raise ValueError("a unit needs a non-empty key")
        with self.store.begin() as conn:
            self._hold(conn)
            found = conn.execute(
                update(run_units)
                .where(run_units.c.run_id == self.run_id, run_units.c.unit_key == key)
                .values(doc=unit)
            )
            if found.rowcount == 0:
                conn.execute(run_units.insert().values(run_id=self.run_id, unit_key=key, doc=unit))

    def forget(self) -> None:
        with self.store.begin() as conn:
            self._hold(conn)
            conn.execute(delete(run_units).where(run_units.c.run_id == self.run_id))

    def _hold(self, conn: Connection) -> None:
        # An update of the run's own row, so a takeover (which updates it too) waits for this
        # transaction on PostgreSQL, and this one fails if the takeover came first.
        held = conn.execute(
            update(runs)
            .where(runs.c.id == self.run_id, runs.c.lease_owner == self.owner,
                   runs.c.status == RunStatus.IN_PROGRESS.value)
            .values(lease_owner=self.owner)
        )
        if held.rowcount != 1:
            raise LeaseLost(self.run_id)
