"""Fixtures shared by the connector tests: the BigQuery emulator services (used by the BigQuery tests
and the contract suite alike, so one session starts the emulator once)."""

from tests.connectors.bigquery.emulator import bq_admin, bq_emulator, bq_settings, token_server

__all__ = ["bq_admin", "bq_emulator", "bq_settings", "token_server"]
