"""Logging for every Headwater process: one stderr handler, text or JSON, with request and run ids, no secrets.

`headwater serve` hands `logging_config(settings)` to uvicorn, which applies it in the server
process and again in each web worker process; `headwater worker` and Celery workers apply it with
`configure_logging`. Every line passes two filters on the handler, so library lines are covered too:
one adds the request and run ids of the current context, one blanks known secret shapes.
"""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from headwater.observability import context
from headwater.observability.redact import redact
from headwater.settings import Settings


class AddContext(logging.Filter):
    """Sets `request_id` and `run_id` on each record (None outside a request or a run)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = context.request_id.get()
        record.run_id = context.run_id.get()
        return True


class RedactSecrets(logging.Filter):
    """Rewrites a record whose message, traceback or stack holds a known secret shape."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the handler report it as logging does
            return True
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _ids(record: logging.LogRecord) -> dict[str, str]:
    found = {"request_id": getattr(record, "request_id", None), "run_id": getattr(record, "run_id", None)}
    return {k: v for k, v in found.items() if v}


def _time(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TextFormatter(logging.Formatter):
    """`time LEVEL [pid] logger request_id=… run_id=…: message`, then the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        ids = "".join(f" {k}={v}" for k, v in _ids(record).items())
        line = f"{_time(record)} {record.levelname} [{record.process}] {record.name}{ids}: {record.getMessage()}"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + record.stack_info
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, pid, message, the ids, and the traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname,
            "logger": record.name,
            "pid": record.process,
            "message": record.getMessage(),
            **_ids(record),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = record.stack_info
        return json.dumps(out, default=str)


def logging_config(
    settings: Settings, *, access_filters: Mapping[str, type[logging.Filter]] | None = None
) -> dict[str, Any]:
    """A dictConfig: every logger (uvicorn's included) writes through one filtered stderr handler.

    `access_filters` are added to uvicorn's access logger only (e.g. dropping a query string).
    """
    access_filters = access_filters or {}
    level = settings.log_level
    formatter = JsonFormatter if settings.log_format == "json" else TextFormatter
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": AddContext},
            "redact": {"()": RedactSecrets},
            **{name: {"()": cls} for name, cls in access_filters.items()},
        },
        "formatters": {"headwater": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "headwater",
                "filters": ["context", "redact"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {
                "handlers": ["stderr"],
                "level": level,
                "propagate": False,
                "filters": list(access_filters),
            },
            # Alembic announces each of its plugins at INFO whenever it is imported: noise, not events.
            "alembic.runtime.plugins": {"level": "WARNING"},
        },
        "root": {"handlers": ["stderr"], "level": level},
    }


def apply(config: dict[str, Any]) -> None:
    """Install `config` in this process; Python's warnings become log lines too, so stderr stays one format."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)


def configure_logging(settings: Settings) -> None:
    """Apply `logging_config(settings)` to this process."""
    apply(logging_config(settings))
