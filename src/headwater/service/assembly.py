"""The composition root: one Settings in, the whole process out (store, crypto, connectors, lake, services, engine).

Everything is built here and handed down explicitly; nothing below reads the environment or
reaches back up for a dependency.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from headwater.connectors.base import ConnectorRegistry
from headwater.crypto import SecretBox, load_master_key
from headwater.identity import TokenIssuer
from headwater.lake import Lake
from headwater.runs.credentials import Credentials
from headwater.runs.executor import RunEngine
from headwater.runs.task import RunDeps
from headwater.service._core import Core
from headwater.service._query import PageTokens
from headwater.service.connections import ConnectionService
from headwater.service.datasets import DatasetService
from headwater.service.flows import FlowService
from headwater.service.flowspecs import FlowSpecService
from headwater.service.mappingsets import MappingSetService
from headwater.service.runs import RunService
from headwater.service.source_connections import SourceConnectionService
from headwater.service.specs import SpecService
from headwater.service.target_connections import TargetConnectionService
from headwater.settings import Settings
from headwater.store import Store


class Services:
    """Every service and the run engine of one process, wired from one Settings object."""

    def __init__(self, settings: Settings, *, store: Store | None = None) -> None:
        settings.ensure_data_dir()
        self.settings = settings
        self.store = store or Store.from_url(settings.resolved_database_url)
        box = SecretBox(load_master_key(settings))
        registry = ConnectorRegistry.load(settings)
        self.credentials = Credentials(box, registry)
        self.core = Core(
            settings=settings,
            store=self.store,
            box=box,
            registry=registry,
            credentials=self.credentials,
            page_tokens=PageTokens(box.signing_key),
            open_lake=lambda: Lake.from_settings(settings),
        )
        # Set when a run is created or re-triggered; the engine's workers wait on it between polls.
        self.work_ready = threading.Event()
        self.tokens = TokenIssuer(self.store, box.signing_key, ttl_seconds=settings.token_ttl_seconds)
        self.specs = SpecService(self.core)
        self.connections = ConnectionService(self.core)
        self.source_connections = SourceConnectionService(self.core)
        self.target_connections = TargetConnectionService(self.core)
        self.flow_specs = FlowSpecService(self.core)
        self.flows = FlowService(self.core)
        self.datasets = DatasetService(self.core)
        self.mapping_sets = MappingSetService(self.core)
        self.runs = RunService(self.core, on_created=self.work_ready.set)

    @property
    def lake(self) -> Lake:
        return self.core.lake

    def migrate(self) -> None:
        self.store.migrate()

    def run_deps(self) -> RunDeps:
        """What a run needs, for the embedded pool and for Celery workers alike."""
        return RunDeps(store=self.store, lake=self.lake, credentials=self.credentials, settings=self.settings.run)

    def engine(self, *, workers: int | None = None, schedule: bool = True) -> RunEngine:
        """The embedded executor (or, with `broker_url` set, the scheduler feeding Celery)."""
        enqueue = None
        if self.settings.broker_url:
            from headwater.runs.celery_app import create_celery, enqueuer  # Celery only when a broker is set

            enqueue = enqueuer(create_celery(self.settings.broker_url))
        return RunEngine(
            self.run_deps(),
            workers=self.settings.workers if workers is None else workers,
            schedule=schedule,
            scheduler_interval=self.settings.scheduler_interval_seconds,
            enqueue=enqueue,
            wake=self.work_ready,
        )

    def start_background(self) -> Callable[[], None]:
        """The `headwater serve` lifecycle hook: start the engine unless disabled; returns its stop."""
        if not self.settings.run_embedded_executor:
            return lambda: None
        return self.engine().start().stop
