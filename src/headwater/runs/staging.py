"""Staged progress of a run: the data files each finished part of its read wrote, kept durably so that
an attempt which takes the run over goes on from there instead of from zero.

A run's read is split into **units** named by a string key: a PostgreSQL chunk (a key or CTID range,
connectors/_pg_chunks.py), or, for a connector that reads streams, one stream. When a unit (or a
stretch of a stream) is finished, its rows are already in Parquet files in the dataset's data
directory (`Lake.stage_writer`), unreferenced by any snapshot; `stage()` records those files, the
unit's figures and an optional `position` (a stream's next offset) through a `StagingSink`
(runs/staging_store.py: one row per unit, written by the lease holder only). The run's single
Iceberg commit then takes every staged file at once (`Lake.write_run(staged=…)`), so exactly-once
holds as before: nothing is visible before that commit, and a commit is found by its run id.

The state is kept only while it describes the same read: `fingerprint` names what was read (table,
columns, window, mapping); an attempt whose read differs starts afresh. A run that ends without a
commit (failed, cancelled) discards its staged files; a run that commits keeps them, referenced by
its snapshot.

Typical use by an attempt::

    staging = RunStaging.resume(raw, fingerprint=fp, dataset=ident, attempt=n, sink=rows)
    if staging.plan is None:
        staging.set_plan(plan_json)                  # chunks, or a read session's streams
    for key in staging.pending(all_keys):            # what earlier attempts did not finish
        ...write the unit with lake.stage_writer(...)...
        staging.stage(key, files=paths, rows_in=r, bytes_in=b, rows_out=o)
    lake.write_run(ident, ..., batches=(), staged=staging.files())

A stream read: `stage(stream, files=…, position=next_offset, done=False)` after each flushed stretch
(files accumulate), `unit(stream).position` to resume it, `stage(stream, files=[], done=True)` at its end.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

log = logging.getLogger("headwater.runs.staging")

DOC_KEY = "_staging"


class StagingSink(Protocol):
    """Durable storage of one run's staging; each call is saved before it returns (or raises)."""

    def plan(self, head: dict[str, Any]) -> None:
        """Record a new plan (`fingerprint`, `dataset`, `plan`), dropping every unit of an earlier one."""
        ...

    def unit(self, unit: dict[str, Any]) -> None:
        """Record one unit as it is now (replacing what was recorded for its key)."""
        ...

    def forget(self) -> None:
        """Drop the plan and every unit."""
        ...


@dataclass
class StagedUnit:
    """What one unit of a run's read wrote so far; `done` when it needs no more reading."""

    key: str
    files: list[str] = field(default_factory=list)
    rows_in: int = 0
    bytes_in: int = 0
    rows_out: int = 0
    failed: int = 0  # rows set aside (partial ingestion)
    position: Any = None
    done: bool = True
    attempt: int = 0  # the attempt that finished (or last extended) it


class RunStaging:
    """The staged units of one run, persisted through `sink` (which raises if the lease was lost)."""

    def __init__(
        self,
        *,
        fingerprint: str,
        dataset: tuple[str, str],
        attempt: int,
        sink: StagingSink,
        plan: dict[str, Any] | None = None,
        units: Iterable[StagedUnit] = (),
    ) -> None:
        self.fingerprint, self.dataset, self.attempt = fingerprint, tuple(dataset), attempt
        self._sink = sink
        self.plan = plan
        self._units = {u.key: u for u in units}
        # Units finished before this attempt started: what it does not read again.
        self.resumed = frozenset(k for k, u in self._units.items() if u.done)

    @classmethod
    def resume(
        cls,
        raw: dict[str, Any] | None,
        *,
        fingerprint: str,
        dataset: tuple[str, str],
        attempt: int,
        sink: StagingSink,
    ) -> RunStaging:
        """The staging `raw` an earlier attempt left when it read the same thing, else an empty one.

        Files staged for a different read are left where they are, not deleted: an earlier attempt
        still running without its lease could be committing them. `Lake.remove_orphans` takes them.
        """
        if raw and raw.get("fingerprint") == fingerprint and tuple(raw.get("dataset", ())) == tuple(dataset):
            units = [StagedUnit(**u) for u in raw.get("units", [])]
            staging = cls(fingerprint=fingerprint, dataset=dataset, attempt=attempt, sink=sink, plan=raw.get("plan"),
                          units=units)
            if raw.get("fromDocument"):  # kept in the run document by an earlier version: moved to the sink
                if staging.plan is not None:
                    sink.plan(staging._head())
                for unit in staging._units.values():
                    sink.unit(asdict(unit))
            return staging
        if raw:
            log.warning("staged files of an earlier attempt are left for orphan removal: its read differs")
        return cls(fingerprint=fingerprint, dataset=dataset, attempt=attempt, sink=sink)

    # -- reading the state ----------------------------------------------------------------------
    def unit(self, key: str) -> StagedUnit | None:
        return self._units.get(key)

    def pending(self, keys: Iterable[str]) -> list[str]:
        """`keys` not finished yet, in order."""
        return [k for k in keys if not (k in self._units and self._units[k].done)]

    def files(self) -> list[str]:
        return [f for u in self._units.values() for f in u.files]

    def totals(self) -> dict[str, int]:
        units = self._units.values()
        return {
            "rows_in": sum(u.rows_in for u in units),
            "bytes_in": sum(u.bytes_in for u in units),
            "rows_out": sum(u.rows_out for u in units),
            "failed": sum(u.failed for u in units),
        }

    def to_json(self) -> dict[str, Any]:
        return {**self._head(), "units": [asdict(u) for u in self._units.values()]}

    def _head(self) -> dict[str, Any]:
        return {"fingerprint": self.fingerprint, "dataset": list(self.dataset), "plan": copy.deepcopy(self.plan)}

    # -- changing it (each change is saved before it returns) -----------------------------------
    def set_plan(self, plan: dict[str, Any]) -> None:
        """Record how the read is split, before any unit is read: every attempt then reads the same units."""
        self.plan = copy.deepcopy(plan)
        self._units = {}
        self._sink.plan(self._head())

    def forget(self) -> None:
        """Drop the plan and every unit: what they read can no longer be continued (PlanExpired).

        Their files are not deleted here, for the same reason as in `resume`: `Lake.remove_orphans`
        takes them. Saved before it returns, so no later attempt resumes them.
        """
        self.plan, self._units, self.resumed = None, {}, frozenset()
        self._sink.forget()

    def stage(
        self,
        key: str,
        *,
        files: list[str],
        rows_in: int = 0,
        bytes_in: int = 0,
        rows_out: int = 0,
        failed: int = 0,
        position: Any = None,
        done: bool = True,
    ) -> None:
        """Record `files` (already closed) and figures for unit `key`; added to what it staged before."""
        before = self._units.get(key)
        if before is not None and before.done:
            raise ValueError(f"unit {key!r} is already staged")
        unit = copy.deepcopy(before) if before is not None else StagedUnit(key, done=False)
        unit.files = [*unit.files, *files]
        unit.rows_in += rows_in
        unit.bytes_in += bytes_in
        unit.rows_out += rows_out
        unit.failed += failed
        unit.position = position
        unit.done = done
        unit.attempt = self.attempt
        self._units[key] = unit
        try:
            self._sink.unit(asdict(unit))
        except BaseException:
            # Not durable: this attempt must not count it (its files become orphans).
            if before is None:
                del self._units[key]
            else:
                self._units[key] = before
            raise


def without_staging(doc: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, str] | None, list[str]]:
    """`doc` without its staging, and the dataset and files it named (to discard once the run ended)."""
    out = dict(doc)
    raw = out.pop(DOC_KEY, None)
    if not raw:
        return out, None, []
    dataset = list(raw.get("dataset") or ())
    files = [f for u in raw.get("units", []) for f in u.get("files", [])]
    return out, (str(dataset[0]), str(dataset[1])) if len(dataset) == 2 else None, files
