"""Log lines carry the request and run they belong to and no secret (in-process, through the real app)."""

from __future__ import annotations

import io
import json
import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from headwater.api import create_app
from headwater.connectors._parallel import read_in_parallel
from headwater.observability.context import run_scope
from headwater.observability.log_setup import AddContext, JsonFormatter, RedactSecrets, TextFormatter, logging_config
from headwater.observability.redact import redact, redact_every_pattern
from headwater.settings import Settings


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Root's records through the handler filters `headwater serve` installs, as JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(AddContext())
    handler.addFilter(RedactSecrets())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def _lines(stream: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_500_logs_its_request_id_and_no_secret(tmp_path: Path, captured: io.StringIO) -> None:
    app = create_app(Settings(data_dir=tmp_path, run_embedded_executor=False))

    @app.get("/boom")
    def boom() -> None:
        logging.getLogger("headwater.test").info("about to fail")
        raise RuntimeError("connect failed: postgresql://app:hunter2-secret@db/prod password=hunter3-secret")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"x-request-id": "rid-500-abc"})
    assert response.status_code == 500
    assert response.json()["report"]["request-id"] == "rid-500-abc"
    lines = _lines(captured)
    failure = next(x for x in lines if x["logger"] == "headwater.api")
    assert failure["request_id"] == "rid-500-abc" and "RuntimeError" in failure["exception"]
    assert next(x for x in lines if x["message"] == "about to fail")["request_id"] == "rid-500-abc"
    assert "hunter2-secret" not in captured.getvalue() and "hunter3-secret" not in captured.getvalue()
    assert "postgresql://app:***@db/prod" in failure["exception"]


def test_lines_outside_a_request_or_run_carry_no_id(captured: io.StringIO) -> None:
    log = logging.getLogger("headwater.test")
    log.info("before")
    with run_scope("run-123"):
        log.info("inside")
    log.info("after")
    by_message = {x["message"]: x for x in _lines(captured)}
    assert by_message["inside"]["run_id"] == "run-123"
    assert "run_id" not in by_message["before"] and "run_id" not in by_message["after"]
    assert "request_id" not in by_message["inside"]


def test_threads_a_run_starts_log_its_run_id(captured: io.StringIO) -> None:
    """Parallel readers (one per chunk or stream) log from their own threads, which must carry the run id."""
    log = logging.getLogger("headwater.test")

    def job(n: int) -> Iterator[int]:
        log.info("reader %d", n)
        yield n

    with run_scope("run-threads"):
        values = sorted(
            read_in_parallel([lambda n=n: job(n) for n in range(3)], workers=3, queue_size=1, thread_name="t")
        )
    assert values == [0, 1, 2]
    readers = [x for x in _lines(captured) if x["message"].startswith("reader ")]
    assert len(readers) == 3 and {x["run_id"] for x in readers} == {"run-threads"}


def test_text_lines_show_the_ids() -> None:
    record = logging.LogRecord("headwater.runs", logging.INFO, __file__, 1, "run %s done", ("r1",), None)
    with run_scope("r1"):
        AddContext().filter(record)
    line = TextFormatter().format(record)
    assert line.endswith(f" INFO [{record.process}] headwater.runs run_id=r1: run r1 done")


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("password=s3cr3t-value next", "s3cr3t-value"),
        ('{"password": "with space", "x": 1}', "with space"),
        ("{'client_secret': 'abc-def-123'}", "abc-def-123"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl here", "c2lnbmF0dXJl"),
        ("url redis://:brokerpw@redis:6379/0", "brokerpw"),
        ("Server=h;Port=5432;Password=connstr-pw;Database=d", "connstr-pw"),
        ("key -----BEGIN PRIVATE KEY-----\nMIIEv\n-----END PRIVATE KEY----- end", "MIIEv"),
        ("encrypted gAAAAABlZ2FyYmFnZWdhcmJhZ2VnYXJiYWdlZ2FyYmFnZQ==", "ZWdhcmJhZ2VnYXJiYWdlZ2FyYmFnZQ"),
    ],
)
def test_known_secret_shapes_are_blanked(text: str, secret: str) -> None:
    assert secret not in redact(text)


@pytest.mark.parametrize(
    "text", ["token_ttl_seconds=86400", "run 0f1e -> success (flow 42)", "GET /data/foundation/flowservice/flows 200"]
)
def test_ordinary_lines_are_left_alone(text: str) -> None:
    assert redact(text) == text


def test_the_word_checks_skip_no_pattern_that_would_match() -> None:
    """`redact` runs only the patterns whose words a text holds: on any mix of secret shapes, case-blind
    spellings, Unicode letters `re` folds to ASCII ones (the long s is an `s`, the Kelvin sign a `k`) and
    ordinary text, it gives what running every pattern gives."""
    rng = random.Random(20261203)
    pieces = [
        "password", "PassWord", "pa\u017f\u017fword", "pwd", "client_secret", "x.api_key", "APIKEY",
        "private_key", "ap\u212akey", "credentials", "Authorization", "token", "tokens", "bearer ", "BEARER\t",
        "eyJabc.eyJdef.ghi", "eyJ", "gAAAAA" + "x" * 24, "gAAAA", "-----BEGIN RSA PRIVATE KEY-----",
        "-----END PRIVATE KEY-----", "private key", "postgresql://u:pw@h/db", "://", "@", "=", ": ", '"', "'", " ",
        ";", ",", "\n", "value-1", "\u0131", "\u0130", "\u00df", "\u00e9", "run 0f1e -> success",
        "GET /data/foundation/flowservice/flows 200", "token_ttl_seconds=86400",
    ]  # fmt: skip
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        assert redact(text) == redact_every_pattern(text), text


def test_level_and_format_are_validated() -> None:
    assert Settings(log_level="debug", log_format="JSON").log_level == "DEBUG"  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="log_format"):
        Settings(log_format="xml")  # type: ignore[arg-type]
    config = logging_config(Settings(log_level="warning", log_format="json"))  # type: ignore[arg-type]
    assert config["root"]["level"] == "WARNING" and config["formatters"]["headwater"]["()"] is JsonFormatter


def test_metrics_off_removes_the_endpoint(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, run_embedded_executor=False, metrics=False))
    with TestClient(app) as client:
        assert client.get("/metrics").status_code == 404
