"""docs/configuration.md, generated from the settings classes so the page cannot drift from the code.

`headwater settings --markdown` prints it; a test fails when the committed page differs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from headwater.settings import Settings

# A default computed at start-up cannot be printed as a value: say how it is computed.
COMPUTED_DEFAULTS = {
    "HEADWATER_WEB_WORKERS": "one per core (the CPU affinity of the process)",
    "HEADWATER_RUN_READ_PARALLELISM": "half the cores, at least 1",
    "HEADWATER_S3_ENDPOINT": "`AWS_ENDPOINT_URL_S3`, then `AWS_ENDPOINT_URL`; else AWS",
    "HEADWATER_S3_REGION": "`AWS_REGION`, then `AWS_DEFAULT_REGION`",
}

# Variables that are not settings fields: read by other programs, by the tests, or by the benchmarks.
OTHER_VARIABLES = (
    (
        "PROMETHEUS_MULTIPROC_DIR",
        "`headwater serve` with several web workers sets it to `<data dir>/metrics/<its pid>` (new at each start) "
        "so that a scrape of any worker sums every worker's figures; do not set it yourself",
    ),
    ("HEADWATER_DEBUG", "`headwater` commands show the traceback of a failure (as `--debug` does)"),
    ("HEADWATER_URL", "client commands (`headwater login`, …): the server's URL (`--url`)"),
    ("HEADWATER_CLIENT_ID", "client commands: API client id (`--client-id`)"),
    ("HEADWATER_CLIENT_SECRET", "client commands: API client secret (`--client-secret`)"),
    ("HEADWATER_ACCESS_TOKEN", "client commands: a bearer token instead of id and secret (`--token`)"),
    ("HEADWATER_ORG", "client commands: IMS org id (`--org`; default: the token's)"),
    ("HEADWATER_SANDBOX", "client commands: sandbox name (`--sandbox`)"),
    ("HEADWATER_PROFILE", "client commands: saved profile to use (`--profile`)"),
    ("HEADWATER_CONFIG_DIR", "client commands: where profiles are saved (default `~/.config/headwater`)"),
    (
        "HEADWATER_TEST_PG",
        "tests: libpq DSN of the local PostgreSQL (default `host=127.0.0.1 port=5432 user=postgres`)",
    ),
    ("HEADWATER_TEST_SEED", "tests: the random seed of the suite and of hypothesis (printed in pytest's header)"),
    ("HEADWATER_FUZZ_EXAMPLES", "tests: multiplies the number of fuzzing examples (`make soak` sets 10)"),
    ("HEADWATER_CONTRACT_EXAMPLES", "tests: generated requests per operation in the OpenAPI contract test (default 4)"),
    ("HEADWATER_PG_BIN", "tests: directory of the PostgreSQL server binaries for private clusters"),
    ("HEADWATER_BQEMULATOR_VENV", "tests and `bench/bq_read.py`: the BigQuery emulator's own virtualenv"),
    ("HEADWATER_CONSOLE_SHOTS", "tests: where the console tests save screenshots (default `bench/out/console`)"),
    ("HEADWATER_BENCH_PG", "`bench/pg_read.py`: libpq DSN of the PostgreSQL to read from"),
)

_HEADER = """# Configuration

Headwater reads its configuration from environment variables, once, at start-up; a value that does
not validate stops the process with a message naming the variable. This page is generated from
`src/headwater/settings.py` (`headwater settings --markdown > docs/configuration.md`), and a test
fails when the two differ.

Booleans accept `true`/`false`, `on`/`off`, `yes`/`no` and `1`/`0`.
"""

_OBSERVABILITY = """
## Logs and metrics

Every process (`headwater serve` and its web workers, `headwater worker`, Celery workers) logs to
stderr at `HEADWATER_LOG_LEVEL`, one line per record (`HEADWATER_LOG_FORMAT=json`: one JSON object
per line). A line logged while a request is handled carries its `request_id` (the `x-request-id`
the client sent or the one the server made up, returned in the response header), and a line logged
while a run executes carries its `run_id`. Known secret shapes (passwords and secrets in `key=value`
or JSON form, bearer tokens, JWTs, URL passwords, private keys) are replaced by `***` in every line,
library lines included, as a backstop behind credentials that are never logged in the first place.

`GET /metrics` serves Prometheus metrics (unless `HEADWATER_METRICS=off`). It needs no token, like
most exporters, and shows nothing tenant-specific: route templates (never raw paths), methods,
status codes and run statuses, never an org, sandbox, resource id or credential. Keep it away from
untrusted networks with your proxy, or turn it off.

{metrics}
Run figures are counted by the process that executes the run: `headwater serve`'s embedded pool,
or `headwater worker` processes (with or without a broker), which serve theirs at
`http://HEADWATER_HOST:HEADWATER_WORKER_METRICS_PORT/` when that port is set. Runs by status are
read from the database, so the server's figure is always complete.
"""


METRICS = (
    ("headwater_http_request_duration_seconds", "histogram", "`method`, `route`, `status`",
     "API request latency by route template"),
    ("headwater_runs", "gauge", "`status`", "runs in the metadata database by status (read at each scrape)"),
    ("headwater_run_duration_seconds", "histogram", "`status`",
     "wall time of a run attempt, by the status it ended in (`lease_lost` when another worker took over)"),
    ("headwater_run_rows_total", "counter", "`stage` (`read`, `written`)",
     "rows runs read from sources, and rows their snapshots committed (as each run's report says)"),
    ("headwater_run_bytes_total", "counter", "`stage` (`read`, `written`)",
     "bytes runs read from sources (Arrow), and Parquet bytes their snapshots committed"),
    ("headwater_scheduler_lag_seconds", "histogram", "",
     "from a run's scheduled time to the start of its first attempt"),
)  # fmt: skip


def _metrics_table() -> str:
    rows = ["| metric | type | labels | what |", "| --- | --- | --- | --- |"]
    rows += [f"| `{name}` | {kind} | {labels} | {what} |" for name, kind, labels, what in METRICS]
    return "\n".join(rows)


def _type_name(annotation: Any) -> str:
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) is Literal:
        return " \\| ".join(f"`{a}`" for a in get_args(annotation))
    if args and len(args) < len(get_args(annotation)):  # Optional[X]
        return _type_name(args[0])
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Path: "path", SecretStr: "secret"}
    return names.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _bounds(info: FieldInfo) -> str:
    parts = []
    for meta in info.metadata:
        for kind, sign in ((Ge, "≥"), (Gt, ">"), (Le, "≤"), (Lt, "<")):
            if isinstance(meta, kind):
                parts.append(f"{sign} {getattr(meta, next(iter(meta.__dataclass_fields__)))}")
    return ", ".join(parts)


def _default(env: str, info: FieldInfo) -> str:
    if info.default_factory is not None:
        if env not in COMPUTED_DEFAULTS:
            raise ValueError(f"{env} has a computed default: describe it in COMPUTED_DEFAULTS")
        return COMPUTED_DEFAULTS[env]
    value = info.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def _rows(cls: type[BaseSettings]) -> list[str]:
    prefix = str(cls.model_config.get("env_prefix", ""))
    rows = []
    for name, info in cls.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            continue  # a nested section, documented in its own table
        env = (prefix + name).upper()
        if not info.description:
            raise ValueError(f"{env} has no description: give its Field one")
        kind = _type_name(annotation)
        bounds = _bounds(info)
        shown_type = f"{kind} ({bounds})" if bounds else kind
        rows.append(f"| `{env}` | {shown_type} | {_default(env, info)} | {info.description} |")
    return rows


def _sections() -> list[tuple[str, type[BaseSettings]]]:
    """Settings, then each nested section (its own env prefix) in field order, with a heading."""
    found: list[tuple[str, type[BaseSettings]]] = [("Server, security and sources", Settings)]
    for name, info in Settings.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            title = (info.description or (annotation.__doc__ or name).split(":")[0]).rstrip(".")
            found.append((title, annotation))
    return found


def env_names() -> set[str]:
    """Every variable the settings classes read."""
    return {
        (str(cls.model_config.get("env_prefix", "")) + name).upper()
        for _, cls in _sections()
        for name, info in cls.model_fields.items()
        if not (isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel))
    }


def markdown() -> str:
    """The whole of docs/configuration.md."""
    lines = [_HEADER]
    for title, cls in _sections():
        prefix = str(cls.model_config.get("env_prefix", ""))
        lines += [
            f"## {title} (`{prefix}*`)\n",
            "| variable | type | default | meaning |",
            "| --- | --- | --- | --- |",
            *_rows(cls),
            "",
        ]
    lines += [
        _OBSERVABILITY.format(metrics=_metrics_table()),
        "## Other variables\n",
        "| variable | meaning |",
        "| --- | --- |",
        *(f"| `{name}` | {meaning} |" for name, meaning in OTHER_VARIABLES),
    ]
    return "\n".join(lines) + "\n"
