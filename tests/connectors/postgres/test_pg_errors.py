"""Errors raised by the server while reading: who must act decides the class; messages stay readable."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import SecretStr

from headwater.connectors import _pg_stream as pg_stream
from headwater.connectors._pg_auth import PgTarget
from headwater.connectors._pg_conn import explain
from headwater.connectors.postgres import PostgresConnector
from headwater.domain import ReadRequest
from headwater.errors import ConfigError, TransientError


def test_unpopulated_materialized_view_is_a_config_error(schema: Any, connector: PostgresConnector, auth: Any) -> None:
    schema.execute("CREATE TABLE {s}.t (id int)")
    schema.execute("CREATE MATERIALIZED VIEW {s}.mv AS SELECT id FROM {s}.t WITH NO DATA")
    with pytest.raises(ConfigError) as info:
        list(connector.read(auth, ReadRequest(table=schema.path("mv"))))
    assert "has not been populated" in info.value.message and "REFRESH MATERIALIZED VIEW" in info.value.message
    assert "Query was" not in info.value.message


def test_a_view_failing_mid_stream_is_a_config_error(
    schema: Any, connector: PostgresConnector, auth: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The error comes after batches were already delivered: still the view's fault, not a retry.
    schema.execute("CREATE TABLE {s}.t (id int)")
    schema.execute("INSERT INTO {s}.t SELECT g FROM generate_series(1, 50000) g")
    schema.execute("CREATE VIEW {s}.v AS SELECT id, 1 / (50000 - id) AS x FROM {s}.t")
    monkeypatch.setattr(pg_stream, "BATCH_BYTES", 4096)
    seen = 0
    with pytest.raises(ConfigError, match="division by zero"):
        for batch in connector.read(auth, ReadRequest(table=schema.path("v"))):
            seen += batch.num_rows
    assert seen > 0


def _target(password: str) -> PgTarget:
    return PgTarget(host="db.example", port=5432, database="d", user="u", password=SecretStr(password))


def test_short_passwords_do_not_garble_messages() -> None:
    # A one-letter password must not turn "execute" into "e********ecute"; URIs are still scrubbed.
    error = explain(RuntimeError("Failed to execute query on postgresql://u:x@db.example:5432/d"), _target("x"))
    assert "Failed to execute query" in error.message
    assert "u:x@" not in error.message and "u:********@" in error.message


@pytest.mark.parametrize(
    "text",
    [
        "could not connect: postgresql://u:Secr%40t-9@db.example:5432/d?sslmode=require",
        "bad conninfo: host=db.example password='Secr@t-9' user=u",
        "bad conninfo: host=db.example password=Secr@t-9 user=u",
        "echo Secr@t-9 back",
    ],
)
def test_passwords_are_scrubbed_in_every_spelling(text: str) -> None:
    error = explain(RuntimeError(text), _target("Secr@t-9"))
    assert "Secr" not in f"{error.message} {error!r}"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("[libpq] Execution error: ERROR:  canceling statement due to statement timeout", TransientError),
        ("[libpq] Execution error: ERROR:  deadlock detected", TransientError),
        ("FATAL:  terminating connection due to administrator command", TransientError),
        ("[libpq] Execution error: ERROR:  invalid input syntax for type integer", ConfigError),
        ("[libpq] Execution error: ERROR:  permission denied for table t", ConfigError),
    ],
)
def test_server_errors_by_who_must_act(text: str, kind: type[Exception]) -> None:
    assert isinstance(explain(RuntimeError(text), _target("pw-long-enough")), kind)
