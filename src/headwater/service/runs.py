"""`/runs` of the Flow Service: list, get, on-demand create and RE_TRIGGER.

Choices where Adobe's documentation and its OpenAPI document disagree:
- On-demand create returns 201 `{"items": [{"id", "etag"}]}` (the newest doc), and the new run shows
  status `pending` (Headwater's status vocabulary, see `headwater.runs.model`) rather than `scheduled`.
- Window params (`startTime`, `windowStartTime`, `windowEndTime`) below 1e11 are epoch seconds,
  larger ones milliseconds.
- On-demand runs need a `frequency: once` flow (1386). A run's `deltaColumn` is fixed by the flow's
  first run that named one: later runs of the flow must repeat it (1382) and a window without one
  is refused (1383). The flow itself is not patched.
- RE_TRIGGER needs a failed or cancelled run (1387) of an enabled flow (1388) and returns 200 with the run.

Headwater extensions (docs/decisions.md):
- `params: {"runNow": true}` runs a recurring flow's next window now: a run created as the scheduler
  would create one at this instant, reading from the committed cursor. The plain call keeps Adobe's 1386.
- `GET /runs/{id}/failedRecords` reads back the rows a run set aside (partial ingestion) and why.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from headwater.domain.kinds import ResourceKind, ResourceState
from headwater.domain.numbers import ascii_int
from headwater.errors import BadRequest, NotFound
from headwater.runs.ledger import Ledger, RunRow, new_run_id
from headwater.runs.model import InvalidTransition, RunEvent, RunStatus, transition
from headwater.runs.plan import check_delta_options
from headwater.runs.report import new_doc
from headwater.runs.schedule import parse_schedule
from headwater.runs.window import epoch_to_datetime
from headwater.service._core import Context, Core, audit_fields, envelope
from headwater.service._fields import known_fields
from headwater.service._query import ListQuery
from headwater.service._sql_lists import Collection, Column, list_page

_PARAM_KEYS = ("startTime", "windowStartTime", "windowEndTime", "deltaColumn")


# The latest instant a run parameter may name: the year 3000, in epoch milliseconds.
_MAX_EPOCH_MS = 32_503_680_000_000


def _epoch_ms(value: Any, field: str) -> int:
    number = ascii_int(value, low=0, high=_MAX_EPOCH_MS)
    if number is None:
        raise BadRequest(
            f"params.{field} must be an epoch time in seconds or milliseconds, between 1970 and 3000.", code="1380"
        )
    return int(epoch_to_datetime(number).timestamp() * 1000)


# The public paths of a run (`RunService.view`) that a column of the runs table holds exactly.
_RUN_COLUMNS = {
    "id": Column("id", "id"),
    "flowId": Column("flow_id", "id"),
    "createdAt": Column("created_at", "number"),
    "updatedAt": Column("updated_at", "number"),
    "scheduledAtUTC": Column("scheduled_at", "number"),
    "metrics.statusSummary.status": Column("status", "lower"),
}


class RunService:
    """`/runs`: the runs of this sandbox's flows, read from the runs table."""

    api_name = "runs"

    def __init__(self, core: Core, *, on_created: Callable[[], None]) -> None:
        self.core = core
        self.ledger = Ledger(core.store)
        # Tells the workers of this process that a run is waiting, rather than at their next poll.
        self.on_created = on_created

    def view(self, row: RunRow) -> dict[str, Any]:
        kind = "incremental" if row.doc.get("trigger") in ("schedule", "runNow") else "adhoc"
        out = envelope(
            row.id,
            row.scope,
            created_at=row.created_at,
            updated_at=row.updated_at,
            doc=row.doc,
            known_as_is=row.renders_as_is,
            flowId=row.flow_id,
            providerRefId=f"{kind}-{row.attempt}:{row.id}",
        )
        metrics = out.get("metrics", {})  # the envelope's copy: what could not render as stored is repaired
        status = dict(metrics.get("statusSummary", {}))
        status["status"] = row.status.value  # the column is the truth (a lease can expire silently)
        return out | {
            "scheduledAtUTC": row.scheduled_at,
            "metrics": {**metrics, "statusSummary": status},
            "etag": row.etag,
        }

    def _row(self, ctx: Context, run_id: str) -> RunRow:
        row = self.ledger.get(run_id)
        if row is None or row.scope != ctx.scope:
            raise NotFound(self.api_name, run_id)
        return row

    def get(self, ctx: Context, run_id: str) -> dict[str, Any]:
        return {"items": [self.view(self._row(ctx, run_id))]}

    def list(self, ctx: Context, query: ListQuery) -> dict[str, Any]:
        collection = Collection(
            base_path="/runs",
            columns=_RUN_COLUMNS,
            fetch=lambda page: self.ledger.page(ctx.scope, page),
            count=lambda conds: self.ledger.count(ctx.scope, conds),
            views=lambda rows: [self.view(r) for r in rows],
        )
        return list_page(
            collection, query, tokens=self.core.page_tokens, default_limit=self.core.settings.default_page_size
        )

    # -- on demand ------------------------------------------------------------------------------
    def create(self, ctx: Context, body: Any) -> dict[str, Any]:
        if isinstance(body, dict):
            body = known_fields(body, ("flowId", "params"), code="1380")
        if not isinstance(body, dict) or not isinstance(body.get("flowId"), str) or not body["flowId"]:
            raise BadRequest("Failed to create flow run. Error message: flowId is required.", code="1380")
        flow = self.core.store.get(ResourceKind.FLOW, ctx.scope, body["flowId"])
        if flow is None:
            raise NotFound("flows", body["flowId"])
        given = flow.doc.get("scheduleParams")
        schedule = parse_schedule(given) if given else None  # a draft may have none
        params = body.get("params") or {}
        if isinstance(params, dict):
            params = known_fields(params, (*_PARAM_KEYS, "runNow"), where="params.", code="1380")
        run_now = isinstance(params, dict) and "runNow" in params
        if run_now:
            return self._run_now(ctx, flow, params, recurring=schedule is not None and schedule.recurring)
        if schedule is None or schedule.recurring:
            frequency = schedule.frequency if schedule else "none"
            raise BadRequest(
                f"The flowId={flow.id} with scheduleParams frequency={frequency} is not supported for "
                "creating flow runs. (Headwater: params.runNow true runs a recurring flow's next window now.)",
                code="1386",
            )
        if flow.doc.get("state") != ResourceState.ENABLED:
            raise BadRequest(f"The flow {flow.id} is {flow.doc.get('state')}: enable it to run it.", code="1388")
        if not isinstance(params, dict):
            raise BadRequest(
                "Failed to create flow run. Error message: params must be an object of startTime, "
                "windowStartTime, windowEndTime and deltaColumn.",
                code="1380",
            )
        start_ms = _epoch_ms(params["startTime"], "startTime") if "startTime" in params else None
        ws = _epoch_ms(params["windowStartTime"], "windowStartTime") if "windowStartTime" in params else None
        we = _epoch_ms(params["windowEndTime"], "windowEndTime") if "windowEndTime" in params else None
        if ws is not None and we is not None and we < ws:
            raise BadRequest(
                f"WindowEndTime={params['windowEndTime']} cannot be before "
                f"Window StartTime={params['windowStartTime']}.",
                code="1381",
            )
        self._check_delta(ctx, flow.id, params, windowed=ws is not None or we is not None)
        doc = new_doc(
            flow_spec=flow.doc.get("flowSpec", {}),
            trigger="onDemand",
            params=params,
            audit=audit_fields(ctx, created=True),
        )
        scheduled = start_ms if start_ms is not None else int(time.time() * 1000)
        return self._insert(ctx, flow.id, scheduled, doc)

    def _insert(self, ctx: Context, flow_id: str, scheduled: int, doc: dict[str, Any]) -> dict[str, Any]:
        run_id = new_run_id()
        # (flow, scheduled time) is unique; two on-demand runs in the same millisecond take the next one.
        for offset in range(1000):
            if self.ledger.insert(
                run_id=run_id, scope=ctx.scope, flow_id=flow_id, scheduled_at=scheduled + offset, doc=doc
            ):
                break
        else:  # pragma: no cover - a thousand runs of one flow in one millisecond
            raise BadRequest("Failed to create flow run. Error message: too many runs at once.", code="1380")
        self.on_created()
        row = self.ledger.get(run_id)
        assert row is not None
        return {"items": [{"id": row.id, "etag": row.etag}]}

    def _run_now(self, ctx: Context, flow: Any, params: dict[str, Any], *, recurring: bool) -> dict[str, Any]:
        """The `runNow` extension: the run the scheduler would create for a recurring flow at this instant.

        It is scheduled now, so runs of the flow stay ordered by time and the scheduler's next slot
        still comes; like a scheduled run it reads from the committed cursor to the window end the
        engine chooses, so nothing is read twice and the next scheduled run continues after it.
        """
        if set(params) != {"runNow"} or params["runNow"] is not True:
            raise BadRequest(
                "Failed to create flow run. Error message: params.runNow must be true and stand alone: the "
                "window of a recurring flow's run is its next one, not chosen per run.",
                code="1380",
            )
        if not recurring:
            raise BadRequest(
                f"params.runNow applies to recurring flows; run the one-time flow {flow.id} with POST /runs "
                "and no runNow.",
                code="1380",
            )
        if flow.doc.get("state") != ResourceState.ENABLED:
            raise BadRequest(f"The flow {flow.id} is {flow.doc.get('state')}: enable it to run it.", code="1388")
        doc = new_doc(
            flow_spec=flow.doc.get("flowSpec", {}),
            trigger="runNow",
            params=dict(params),
            audit=audit_fields(ctx, created=True),
        )
        return self._insert(ctx, flow.id, int(time.time() * 1000), doc)

    def failed_records(self, ctx: Context, run_id: str) -> dict[str, Any]:
        """The rows a run set aside and why (partial ingestion; values only with errorDiagnosticsEnabled)."""
        row = self._row(ctx, run_id)
        summary = row.doc.get("metrics", {}).get("recordSummary", {})
        kept = list(row.doc.get("_failedRecords") or [])
        count = int(summary.get("failedRecordCount", 0))
        return {"failedRecordCount": count, "items": kept, "truncated": count > len(kept)}

    def _check_delta(self, ctx: Context, flow_id: str, params: dict[str, Any], *, windowed: bool) -> None:
        given = params.get("deltaColumn")
        if given is not None and (
            not isinstance(given, dict) or not isinstance(given.get("name"), str) or not given["name"]
        ):
            raise BadRequest("params.deltaColumn must be an object with a name.", code="1380")
        if given is not None:
            check_delta_options(given, "params.deltaColumn", code="1380")
        earlier = None
        for row in self.ledger.for_scope(ctx.scope, flow_ids=[flow_id]):
            delta = (row.doc.get("params") or {}).get("deltaColumn")
            if isinstance(delta, dict) and delta.get("name"):
                earlier = delta["name"]
                break
        if given is not None and earlier is not None and given["name"] != earlier:
            raise BadRequest(
                "The delta column should match the value present in the flow's Copy transformations.", code="1382"
            )
        if windowed and given is None and earlier is None:
            raise BadRequest("The delta column is missing in the params received for creating a flow run.", code="1383")
        if windowed and given is None:
            params["deltaColumn"] = {"name": earlier}

    # -- actions --------------------------------------------------------------------------------
    def action(self, ctx: Context, run_id: str, op: str | None) -> dict[str, Any]:
        if (op or "").upper().replace("-", "_") != "RE_TRIGGER":
            raise BadRequest(f"Unsupported flow run action {str(op)[:20]!r}: use RE_TRIGGER.", code="1401")
        row = self._row(ctx, run_id)
        flow = self.core.store.get(ResourceKind.FLOW, ctx.scope, row.flow_id)
        state = flow.doc.get("state") if flow else "deleted"
        if state != ResourceState.ENABLED:
            raise BadRequest(
                f"The flow={row.flow_id} is in state={state} and cannot be re-triggered. The flow must be in "
                "enabled state for re-triggering.",
                code="1388",
            )
        try:
            transition(row.status, RunEvent.RETRIGGER)
        except InvalidTransition:
            raise BadRequest(
                f"The flowRunId={row.id} is in an invalid state={row.status} for re-triggering.", code="1387"
            ) from None
        doc = dict(row.doc)
        doc["metrics"] = {**doc["metrics"], "statusSummary": {"status": RunStatus.PENDING.value, "errors": []}}
        doc.pop("progress", None)
        doc |= audit_fields(ctx, created=False)
        updated = self.ledger.retrigger(row, doc=doc)
        if updated is None:
            raise BadRequest(f"The flowRunId={row.id} changed meanwhile; try again.", code="1387")
        self.on_created()
        return {"items": [self.view(updated)]}
