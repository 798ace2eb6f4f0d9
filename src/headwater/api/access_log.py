"""Access-log hygiene: a request to `/ims…` is logged without its query string.

The token endpoint refuses credentials in the URL, but uvicorn logs the request line before anyone
can refuse it, so a client that puts its secret there would still leave it in the log. The filter
sits on uvicorn's access logger through the logging config `headwater serve` passes to uvicorn,
which also reaches the worker processes of HEADWATER_WEB_WORKERS > 1.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from urllib.parse import unquote

from headwater.observability.log_setup import logging_config
from headwater.settings import Settings

_SLASHES = re.compile(r"/+")


def _is_ims(path: str) -> bool:
    # uvicorn logs the raw path: `/%69ms/…` and `//ims/…` must be recognised as well.
    return _SLASHES.sub("/", unquote(path)).lower().startswith("/ims")


class StripImsQuery(logging.Filter):
    """Drops the query string from uvicorn access records of `/ims…` paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        # uvicorn's access record: (client address, method, path with query, HTTP version, status).
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            path = args[2].split("?", 1)[0]
            if _is_ims(path):
                record.args = (*args[:2], path, *args[3:])
        return True


def uvicorn_log_config(settings: Settings) -> dict[str, Any]:
    """Headwater's logging config (observability/log_setup.py) with StripImsQuery on uvicorn's access logger."""
    return logging_config(settings, access_filters={"strip_ims_query": StripImsQuery})
