"""Base connections: create, read (secrets masked), patch, delete, test and explore."""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel

from headwater.connectors.base import AuthMethod, Connector
from headwater.domain.kinds import ResourceKind, ResourceState
from headwater.domain.row_filter import decode_filter
from headwater.errors import BadRequest, ConfigError, NotFound, TransientError
from headwater.service._core import Context, ResourceService, audit_fields, id_and_etag, new_id, patch_resource
from headwater.service._endpoints import delete_unless_used
from headwater.service._fields import known_fields
from headwater.service.explore_wire import explore_item_json, table_preview_json, table_schema_json
from headwater.store import Record
from headwater.store.references import InUse

log = logging.getLogger("headwater.service.connections")

MASK = "********"
# The password, and the CA (TrustStore), which like basic auth's sslRootCert is kept with the secrets.
_CONN_STRING_SECRET = re.compile(r"(?i)((?:^|;)\s*(?:password|pwd|truststore)\s*=\s*)(\{(?:[^}]|\}\})*\}|[^;]*)")
_PATCHABLE = ("name", "description", "auth", "state")
_PATCHABLE_STATES = (ResourceState.ENABLED, ResourceState.DISABLED, ResourceState.INITIALIZING)


def _used_through_a_source(used: InUse) -> BadRequest:
    return BadRequest(
        f"The base connection with the ID {used.resource_id} cannot be deleted because the base "
        "connection is being used in one or more flows. Please ensure that corresponding flows "
        "are deleted before deleting a base connection.",
        code="1418",
    )


def redact_connection_string(text: str) -> str:
    """Keep the server, database and user visible; hide the password and CA values."""
    return _CONN_STRING_SECRET.sub(lambda m: m.group(1) + MASK, text)


def masked_params(method: AuthMethod, params: dict[str, Any]) -> dict[str, Any]:
    """The params a client may see: secrets masked (a connection string keeps its non-secret keys)."""
    out: dict[str, Any] = {}
    secret = method.secret_fields()
    for key, value in params.items():
        if key not in secret:
            out[key] = value
        elif key == "connectionString" and isinstance(value, str):
            out[key] = redact_connection_string(value)
        else:
            out[key] = MASK
    return out


class ConnectionService(ResourceService):
    """`/connections`."""

    kind = ResourceKind.CONNECTION
    api_name = "connections"
    noun = "connection"

    # -- helpers ------------------------------------------------------------------------------
    def _connector(self, spec_id: str) -> Connector:
        return self.core.credentials.connector(spec_id)

    def _split(self, method: AuthMethod, params: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        """Validate params, then keep the public part in the doc and seal the secrets."""
        method.parse(params)
        secret_keys = method.secret_fields()
        secrets = {k: v for k, v in params.items() if k in secret_keys}
        return masked_params(method, params), self.core.box.seal(secrets)

    def resolve(self, ctx: Context, connection_id: str) -> tuple[Connector, BaseModel, Record]:
        """The connector and parsed credentials of a stored connection (for test, explore and datasets)."""
        record = self.record(ctx, connection_id)
        return (*self.core.credentials.resolve(record), record)

    # -- operations ---------------------------------------------------------------------------
    def create(self, ctx: Context, body: dict[str, Any]) -> dict[str, str]:
        spec_ref = body["connectionSpec"]
        connector = self._connector(spec_ref["id"])
        auth = body["auth"]
        method = connector.spec.auth_method(auth["specName"])
        public, sealed = self._split(method, auth["params"])
        doc: dict[str, Any] = {
            "name": body["name"],
            "description": body.get("description", ""),
            "connectionSpec": {"id": connector.spec.id, "version": spec_ref.get("version") or connector.spec.version},
            "state": ResourceState.ENABLED,
            "auth": {"specName": auth["specName"], "params": public},
            **audit_fields(ctx, created=True),
        }
        if auth.get("type"):
            doc["auth"]["type"] = auth["type"]
        record = self.core.store.insert(self.kind, ctx.scope, id=new_id(), doc=doc, secrets=sealed)
        log.info("connection created id=%s spec=%s auth=%s", record.id, connector.spec.name, method.name)
        return id_and_etag(record)

    def patch(self, ctx: Context, connection_id: str, if_match: str | None, body: Any) -> dict[str, str]:
        def check(record: Record) -> None:
            if record.doc.get("state") not in _PATCHABLE_STATES:
                raise BadRequest(
                    "Delete or Update can only be applied on connection with enabled, disabled or initializing state.",
                    code="1416",
                )

        def current(record: Record) -> dict[str, Any]:
            # The ops see the secrets too, so a client can replace one param and keep the others.
            return {
                "name": record.doc["name"],
                "description": record.doc.get("description", ""),
                "state": record.doc["state"],
                "auth": {**record.doc["auth"], "params": self.core.credentials.full_params(record)},
            }

        def rebuild(
            c: Context, patched: dict[str, Any], record: Record, ops: list[dict[str, Any]]
        ) -> tuple[dict[str, Any], bytes]:
            self._validate_patched(patched)
            connector = self._connector(record.doc["connectionSpec"]["id"])
            method = connector.spec.auth_method(patched["auth"]["specName"])
            public, sealed = self._split(method, patched["auth"]["params"])
            doc = {
                **record.doc,
                "name": patched["name"],
                "description": patched.get("description", ""),
                "state": patched["state"],
                "auth": {**patched["auth"], "params": public},
            }
            return doc, sealed

        return patch_resource(
            self,
            ctx,
            connection_id,
            if_match,
            body,
            patchable=_PATCHABLE,
            rebuild=rebuild,
            current=current,
            check=check,
        )

    @staticmethod
    def _validate_patched(patched: dict[str, Any]) -> None:
        if not isinstance(patched.get("name"), str) or not patched["name"].strip():
            raise BadRequest("The field name must be a non-empty string.", code="1455")
        if not isinstance(patched.get("description", ""), str):
            raise BadRequest("The field description must be a string.", code="1455")
        if patched.get("state") not in (ResourceState.ENABLED, ResourceState.DISABLED):
            raise BadRequest("State must be one of enabled, disabled.", code="1456")
        auth = patched.get("auth")
        if not isinstance(auth, dict) or not isinstance(auth.get("specName"), str):
            raise BadRequest("The field auth.specName is required.", code="1455")
        if not isinstance(auth.get("params"), dict):
            raise BadRequest("The field auth.params must be an object.", code="1455")
        patched["auth"] = known_fields(auth, ("specName", "params", "type"), where="auth.", code="1455")

    def delete(self, ctx: Context, resource_id: str) -> None:
        """Refused while a flow names one of the connection's source connections."""
        delete_unless_used(self, ctx, resource_id, _used_through_a_source)

    def test(self, ctx: Context, connection_id: str) -> dict[str, Any]:
        """Connect for real. A failure is reported in the body (`result: false`) with an actionable message."""
        try:
            # Resolving parses the stored params with the connector's current policy, which may now
            # refuse them (a source address the operator has since denied): a failed test too.
            connector, auth, _ = self.resolve(ctx, connection_id)
            connector.check(auth)
        except (ConfigError, TransientError) as exc:
            log.info("connection test failed id=%s code=%s", connection_id, exc.code)
            return {
                "result": False,
                "errors": [{"code": f"CONNECTOR-{exc.code}-{exc.status}", "message": exc.message}],
            }
        return {"result": True}

    def explore(
        self,
        ctx: Context,
        connection_id: str,
        *,
        object_type: str | None,
        object_path: str | None,
        preview: str | None,
        filters: str | None = None,
        preview_rows: int = 100,
    ) -> Any:
        connector, auth, _ = self.resolve(ctx, connection_id)
        kind = (object_type or "").lower()
        if kind not in ("root", "table"):
            raise BadRequest(
                f"The objectType parameter must be root or table (got {str(object_type)[:40]!r}).",
                code="1358",
            )
        if kind == "root":
            if filters is not None:
                raise BadRequest("The filters parameter applies to a table preview, not objectType=root.", code="1000")
            return [explore_item_json(item) for item in connector.list_objects(auth)]
        if not object_path:
            raise BadRequest("The object cannot be empty for objectType=table.", code="1337")
        want_preview = (preview or "false").lower()
        if want_preview not in ("true", "false"):
            raise BadRequest("The preview parameter must be true or false.", code="1000")
        # A filter only narrows preview rows: refused elsewhere rather than silently ignored.
        row_filter = decode_filter(filters) if filters is not None else None
        if row_filter is not None and want_preview != "true":
            raise BadRequest("The filters parameter applies to a table preview: add preview=true.", code="1000")
        try:
            if row_filter is not None:
                preview_of = connector.preview(auth, object_path, limit=preview_rows, row_filter=row_filter)
                return table_preview_json(preview_of)
            if want_preview == "true":
                return table_preview_json(connector.preview(auth, object_path, limit=preview_rows))
            return table_schema_json(connector.describe(auth, object_path))
        except NotFound:
            raise NotFound(
                "table", object_path, f"The table {object_path[:200]!r} was not found or is not readable."
            ) from None
