"""Turning a stored base connection into its connector and parsed credentials.

Secrets are sealed apart from the connection's public doc; this is the one place that opens them,
used alike by the API (test, explore, flow validation) and by runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from headwater.connectors.base import Connector, ConnectorRegistry
from headwater.crypto import SecretBox
from headwater.errors import BadRequest
from headwater.store import Record

# The connection spec of the data lake target: a target, never a source a connector reads.
DATA_LAKE_SPEC_ID = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"


@dataclass(frozen=True)
class Credentials:
    """Opens stored connections with the process's secret box and connector registry."""

    box: SecretBox
    registry: ConnectorRegistry

    def connector(self, spec_id: str) -> Connector:
        """The source connector of a connection spec id (BadRequest for the lake or an unknown id)."""
        if spec_id == DATA_LAKE_SPEC_ID or spec_id not in self.registry:
            raise BadRequest(
                f"The spec ID provided is invalid: {spec_id[:64]!r} is not a source connection spec.", code="1413"
            )
        return self.registry.get(spec_id)

    def full_params(self, connection: Record) -> dict[str, Any]:
        """The connection's `auth.params` with its secrets opened."""
        secrets = self.box.open(connection.secrets)
        public = {k: v for k, v in connection.doc["auth"]["params"].items() if k not in secrets}
        return {**public, **secrets}

    def resolve(self, connection: Record) -> tuple[Connector, BaseModel]:
        """The connector and parsed credentials of a stored base connection."""
        connector = self.connector(connection.doc["connectionSpec"]["id"])
        method = connector.spec.auth_method(connection.doc["auth"]["specName"])
        return connector, method.parse(self.full_params(connection))
