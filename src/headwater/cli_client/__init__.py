"""The user commands of `headwater`: connections, flows, runs and datasets over HTTP, and login.

They talk to a running `headwater serve` (or any Flow Service-compatible server) with the gateway's
headers, so they need no access to its data directory. `failure.CliApp` gives every command, the
administrative ones too, a short error instead of a traceback.
"""

from __future__ import annotations

import typer

from headwater.cli_client.datasets import register_datasets
from headwater.cli_client.failure import CliApp, enable_debug
from headwater.cli_client.flows import flows
from headwater.cli_client.login import login, logout
from headwater.cli_client.resources import connections
from headwater.cli_client.runs import runs

__all__ = ["CliApp", "enable_debug", "register"]


def register(app: typer.Typer, *, datasets: typer.Typer) -> None:
    """Add the user commands to `app`, and the HTTP dataset commands to its `datasets` group."""
    app.add_typer(connections, name="connections")
    app.add_typer(flows, name="flows")
    app.add_typer(runs, name="runs")
    register_datasets(datasets)
    app.command()(login)
    app.command()(logout)
