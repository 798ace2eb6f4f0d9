"""Every `headwater` command fails the same way: one line of cause, one of hint, exit 1 or 2.

Tracebacks are for developers: `headwater --debug …` or HEADWATER_DEBUG=1 shows them instead.
Exit status 2 means the configuration is wrong (a setting, a missing option); 1 that something
failed at run time (a server refused, a database is unreachable).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

DEBUG_ENV = "HEADWATER_DEBUG"
_debug = False


class CliError(Exception):
    """A failure the user can act on: what went wrong, and what to do about it."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.exit_code = exit_code


def enable_debug(on: bool) -> None:
    global _debug
    _debug = _debug or on


def debugging() -> bool:
    return _debug or os.environ.get(DEBUG_ENV, "").lower() in ("1", "true", "yes", "on")


def _first_line(text: str, limit: int = 300) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return line.strip()[:limit]
    return ""


def _settings_error(exc: Any) -> CliError:
    """A pydantic ValidationError raised while reading the HEADWATER_* settings."""
    first = exc.errors()[0]
    where = "_".join(str(p) for p in first.get("loc", ()) if isinstance(p, str)).upper()
    name = f"HEADWATER_{where}" if where else "a HEADWATER_* setting"
    return CliError(
        f"invalid setting {name}: {first.get('msg', 'not valid')}",
        hint="fix the environment variable (README, Configuration) and run the command again",
        exit_code=2,
    )


def describe(exc: BaseException) -> CliError:
    """The one-line cause and hint for an exception that reached the top of a command."""
    if isinstance(exc, CliError):
        return exc
    module = type(exc).__module__
    name = type(exc).__name__
    from headwater.errors import HeadwaterError

    if isinstance(exc, HeadwaterError):
        if "HEADWATER_" in exc.message:  # a setting is wrong (its message names it)
            return CliError(exc.message, hint="fix that setting and run the command again", exit_code=2)
        return CliError(exc.message)
    if module.startswith("pydantic") and name == "ValidationError":
        return _settings_error(exc)
    if module.startswith("sqlalchemy"):
        cause = _first_line(str(getattr(exc, "orig", None) or exc))
        return CliError(
            f"the metadata database cannot be used: {cause}",
            hint="check HEADWATER_DATABASE_URL and that the database is running and reachable",
        )
    if module.startswith("psycopg"):
        return CliError(f"a database refused: {_first_line(str(exc))}", hint="check the database and its address")
    if module.startswith("httpx"):
        return CliError(f"the request failed: {name}: {_first_line(str(exc))}", hint="check --url and the network")
    if isinstance(exc, PermissionError):
        return CliError(
            f"permission denied: {exc.filename or _first_line(str(exc))}",
            hint="check the owner and mode of HEADWATER_DATA_DIR and of the file named",
        )
    if isinstance(exc, OSError):
        return CliError(f"{exc.strerror or name}: {exc.filename or _first_line(str(exc))}")
    return CliError(
        f"unexpected error: {name}: {_first_line(str(exc))}",
        hint="run again with --debug (or HEADWATER_DEBUG=1) for the traceback, and report it",
    )


def report(error: CliError) -> None:
    typer.echo(f"error: {error.message}", err=True)
    if error.hint:
        typer.echo(f"hint: {error.hint}", err=True)


class CliApp(typer.Typer):
    """A Typer app whose commands end in a short message, not a traceback, when they fail."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as exc:
            if debugging():
                raise
            error = describe(exc)
            report(error)
            sys.exit(error.exit_code)
