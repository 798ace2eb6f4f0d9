"""The connection flags every user command shares, added to each command by one decorator.

A command is written as `def show(api: Api, resource_id: ...)`; `remote(group)` registers it with
the command's own parameters followed by --url, --org, --sandbox, --client-id, --client-secret,
--token, --profile and --json, and calls it with a signed-in `Api`.
"""

from __future__ import annotations

import inspect
import json
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from headwater.cli_client.failure import CliError
from headwater.cli_client.http import Api, CommonOptions

_PANEL = "Server and credentials"


def _option(*names: str, envvar: str | None = None, help: str) -> Any:
    return typer.Option(*names, envvar=envvar, help=help, rich_help_panel=_PANEL, show_default=False)


_DEFAULT_URL_HELP = "Server URL [default: the profile's, else http://127.0.0.1:8080]"
_SPECS: tuple[tuple[str, Any, Any, Any], ...] = (
    ("url", str | None, None, _option("--url", envvar="HEADWATER_URL", help=_DEFAULT_URL_HELP)),
    ("org", str | None, None, _option("--org", envvar="HEADWATER_ORG", help="IMS org id [default: the token's]")),
    (
        "sandbox",
        str | None,
        None,
        _option("--sandbox", envvar="HEADWATER_SANDBOX", help="Sandbox name [default: the profile's, else prod]"),
    ),
    ("client_id", str | None, None, _option("--client-id", envvar="HEADWATER_CLIENT_ID", help="API client id")),
    (
        "client_secret",
        str | None,
        None,
        _option("--client-secret", envvar="HEADWATER_CLIENT_SECRET", help="API client secret"),
    ),
    (
        "token",
        str | None,
        None,
        _option("--token", envvar="HEADWATER_ACCESS_TOKEN", help="A bearer token instead of id and secret"),
    ),
    (
        "profile",
        str,
        "default",
        _option("--profile", envvar="HEADWATER_PROFILE", help="Saved profile (headwater login) [default: default]"),
    ),
    ("as_json", bool, False, typer.Option("--json", help="Print JSON")),
)
_COMMON = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=Annotated[kind, info])
    for name, kind, default, info in _SPECS
]
_COMMON_NAMES = [p.name for p in _COMMON]


def remote(group: typer.Typer, name: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(api, **own)` on `group` as a command taking its own options and the common ones."""

    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        hints = typing.get_type_hints(fn, include_extras=True)
        own = [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
            for p in inspect.signature(fn).parameters.values()
            if p.name != "api"
        ]

        def command(**kwargs: Any) -> Any:
            common = CommonOptions(**{k: kwargs.pop(k) for k in _COMMON_NAMES})
            api = Api(common)
            try:
                return fn(api, **kwargs)
            finally:
                api.close()

        command.__name__ = fn.__name__
        command.__doc__ = fn.__doc__
        command.__signature__ = inspect.Signature([*own, *_COMMON])  # type: ignore[attr-defined]
        command.__annotations__ = {p.name: p.annotation for p in (*own, *_COMMON)}
        group.command(name or fn.__name__.split("_", 1)[-1].replace("_", "-"))(command)
        return fn

    return register


def read_body(path: Path | None) -> dict[str, Any] | None:
    """The JSON object in the file `path` (`-` is stdin), or None without a file."""
    if path is None:
        return None
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}", exit_code=2) from None
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"{path} is not valid JSON: {exc}", exit_code=2) from None
    if not isinstance(body, dict):
        raise CliError(f"{path} must hold a JSON object", exit_code=2)
    return body


def parse_pairs(pairs: list[str] | None, what: str) -> dict[str, Any]:
    """`key=value` (a string) and `key:=json` (any JSON value) pairs as a dict."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        if ":=" in pair and pair.index(":=") + 1 == pair.index("="):
            key, raw = pair.split(":=", 1)
            try:
                out[key] = json.loads(raw)
            except json.JSONDecodeError:
                raise CliError(f"{what} {key}: {raw!r} is not JSON", exit_code=2) from None
        elif "=" in pair:
            key, value = pair.split("=", 1)
            out[key] = value
        else:
            raise CliError(f"{what} {pair!r} must be key=value or key:=json", exit_code=2)
        if not key:
            raise CliError(f"{what} {pair!r} has no key", exit_code=2)
    return out


def need(value: Any, flag: str, alternative: str = "--file") -> Any:
    if value is None or value == []:
        raise CliError(f"{flag} is required (or give the whole body with {alternative})", exit_code=2)
    return value
