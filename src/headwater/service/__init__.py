"""The service layer: one method per Flow Service operation, no HTTP."""

from __future__ import annotations

from headwater.connectors.base import ConnectorRegistry
from headwater.crypto import SecretBox, load_master_key
from headwater.identity import TokenIssuer
from headwater.service._core import Context, Core
from headwater.service._query import ListQuery, PageTokens
from headwater.service.connections import ConnectionService
from headwater.service.datasets import DatasetService
from headwater.service.flows import FlowService, SourceConnectionService, TargetConnectionService
from headwater.service.flowspecs import FlowSpecService
from headwater.service.mappingsets import MappingSetService
from headwater.service.runs import RunService
from headwater.service.specs import SpecService
from headwater.settings import Settings
from headwater.store import Store

__all__ = ["Context", "ListQuery", "Services"]


class Services:
    """Every service, wired from one Settings object (no import-time singletons)."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        settings.ensure_data_dir()
        self.settings = settings
        self.store = store or Store.from_url(settings.resolved_database_url)
        box = SecretBox(load_master_key(settings))
        self.core = Core(
            settings=settings,
            store=self.store,
            box=box,
            registry=ConnectorRegistry.load(settings),
            page_tokens=PageTokens(box.signing_key),
        )
        self.tokens = TokenIssuer(self.store, box.signing_key, ttl_seconds=settings.token_ttl_seconds)
        self.specs = SpecService(self.core)
        self.connections = ConnectionService(self.core)
        self.source_connections = SourceConnectionService(self.core)
        self.target_connections = TargetConnectionService(self.core)
        self.flow_specs = FlowSpecService(self.core)
        self.flows = FlowService(self.core)
        self.datasets = DatasetService(self.core)
        self.mapping_sets = MappingSetService(self.core)
        self.runs = RunService(self.core, lake=lambda: self.datasets.lake)

    def migrate(self) -> None:
        self.store.migrate()
